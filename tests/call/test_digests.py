"""A request's digests: instructions, tools and items as digests, whatever the route."""

from __future__ import annotations

from typing import Any

import pytest

from chat2responses.call.digests import Digests, describe_item, digests_of
from chat2responses.call.turn import instructions_as_input

USER = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
ANSWER = {
    "type": "message",
    "role": "assistant",
    "content": [{"type": "output_text", "text": "yo"}],
}
CALL = {"type": "function_call", "call_id": "c1", "name": "ls", "arguments": "{}"}
RESULT = {"type": "function_call_output", "call_id": "c1", "output": "a b"}
TOOLS = [{"type": "function", "name": "ls", "parameters": {"type": "object"}}]


def body(**kw: Any) -> dict[str, Any]:
    return {"model": "gpt-5.5", "instructions": "Be brief.", "tools": TOOLS,
            "input": [USER, ANSWER, CALL, RESULT], **kw}  # fmt: skip


def test_parts_and_kinds() -> None:
    got = digests_of(body())
    assert got.model == "gpt-5.5"
    assert got.kinds == "uafo"
    assert len(got.items) == 4 and len(set(got.items)) == 4
    assert got.instructions and got.tools and not got.chained


def test_instructions_moved_into_the_input_are_still_the_instructions() -> None:
    """The WebSocket route carries them as the first item (call/turn.py rule 4): the same
    digest, and the items are the same."""
    moved = instructions_as_input(body(), role="developer", keep_field=True)
    assert moved["input"][0]["role"] == "developer"
    assert digests_of(moved) == digests_of(body())


def test_responses_lite_tools_item_counts_as_the_tools() -> None:
    lite = {"model": "m", "input": [{"type": "additional_tools", "tools": TOOLS}, USER]}
    other = {"model": "m", "input": [{"type": "additional_tools", "tools": []}, USER]}
    assert digests_of(lite).kinds == "u"
    assert digests_of(lite).tools != digests_of(other).tools
    assert digests_of(lite).items == digests_of(other).items


@pytest.mark.parametrize(
    ("change", "part"),
    [
        ({"instructions": "Be long."}, "instructions"),
        ({"tools": []}, "tools"),
        ({"input": [USER, {**ANSWER, "content": "other"}, CALL, RESULT]}, "items"),
        ({"model": "gpt-5.4"}, "model"),
    ],
)
def test_each_change_shows_in_its_part_only(change: dict[str, Any], part: str) -> None:
    before, after = digests_of(body()), digests_of(body(**change))
    for name in ("model", "instructions", "tools", "items"):
        assert (getattr(before, name) != getattr(after, name)) == (name == part), name


def test_key_order_does_not_matter_but_values_do() -> None:
    reordered = {"output": "a b", "call_id": "c1", "type": "function_call_output"}
    assert digests_of(body(input=[reordered])).items == digests_of(body(input=[RESULT])).items
    assert (
        digests_of(body(input=[{**RESULT, "output": "a c"}])).items
        != digests_of(body(input=[RESULT])).items
    )
    # 1 and "1" and True differ
    values = [digests_of(body(input=[{"x": v}])).items for v in (1, "1", True, None)]
    assert len(set(values)) == 4


def test_a_chained_request_and_a_string_input() -> None:
    assert digests_of(body(previous_response_id="resp_1")).chained
    assert digests_of({"model": "m", "input": "hello"}).kinds == "u"


def test_round_trip_through_metadata_and_bad_shapes() -> None:
    got = digests_of(body(prompt_cache_retention="24h"))
    assert Digests.from_dict(got.as_dict()) == got
    assert got.retention == "24h"
    assert Digests.from_dict("junk") == Digests()
    assert Digests.from_dict({"items": [1, "x", 2], "kinds": "uaf", "model": 3}) == Digests(
        items=(1, 2), kinds="ua"
    )


@pytest.mark.parametrize(
    ("kinds", "index", "text"),
    [("uafo", 0, "item 1 (a user message)"), ("uafo", 3, "item 4 (a tool result)"),
     ("ux", 1, "item 2 (an item)"), ("", 5, "item 6 (an item)")],
)  # fmt: skip
def test_describe_item(kinds: str, index: int, text: str) -> None:
    assert describe_item(kinds, index) == text
