"""The item table: which item an event is about (rule 1), ids remembered (rule 2); what an item's
payload says in full."""

from __future__ import annotations

from chat2responses.response.items import (
    Items,
    call_arguments,
    message_texts,
    reasoning_text,
)


def test_an_event_is_about_its_output_index_else_its_id_else_the_current_item() -> None:
    items = Items()
    key, first = items.open({"type": "response.output_item.added", "output_index": 3})
    assert key == 3
    assert items.open({"type": "response.output_text.delta", "output_index": 3}) == (3, first)
    # no index, no id: the current item
    assert items.key({"type": "response.output_text.delta"}) == 3
    # an id never seen: a key of its own
    named, _ = items.open({"type": "response.output_text.delta", "item_id": "msg_1"})
    assert named == ("id", "msg_1")
    assert items.key({"type": "x"}) == named  # now the current item


def test_an_item_keeps_the_first_key_its_id_was_seen_under() -> None:
    items = Items()
    items.open({"type": "response.output_item.added", "output_index": 0, "item": {"id": "rs_1"}})
    assert items.key({"type": "response.reasoning_text.delta", "item_id": "rs_1"}) == 0


def test_an_added_item_without_index_or_id_is_a_new_one() -> None:
    items = Items()
    first, _ = items.open({"type": "response.output_item.added", "item": {}}, added=True)
    second, _ = items.open({"type": "response.output_item.added", "item": {}}, added=True)
    assert first != second
    assert set(items.by_key) == {first, second}


def test_payloads_give_their_whole_texts() -> None:
    message = {
        "content": [
            {"type": "output_text", "text": "Hel"},
            {"type": "refusal", "refusal": "No"},
            {"type": "output_text", "text": "lo"},
        ]
    }
    assert message_texts(message) == ("Hello", "No")
    assert message_texts({}) == ("", "")
    assert reasoning_text({"summary": [{"text": "a"}, {"text": "b"}]}) == "a\n\nb"
    assert reasoning_text({"content": [{"text": "c"}]}) == "c"
    assert call_arguments({"arguments": "{}"}) == "{}"
    assert call_arguments({"input": "patch"}) == "patch"
    assert call_arguments({"arguments": 3}) == ""
