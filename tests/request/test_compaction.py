"""compaction: a compact request as a `/responses` body ending in its trigger."""

from __future__ import annotations

from typing import Any

import pytest

from chat2responses.protocol.errors import ClientError
from chat2responses.request.compaction import (
    compaction_request,
    ends_in_trigger,
    kept_messages,
)

USER = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
EASY_USER = {"role": "user", "content": "again"}
ASSISTANT = {"type": "message", "role": "assistant", "content": [{"type": "output_text"}]}
DEV = {"type": "message", "role": "developer", "content": "be brief"}
TRIGGER = {"type": "compaction_trigger"}


def test_the_trigger_goes_last_once_and_nothing_else_changes() -> None:
    body = {"model": "gpt-5.5", "input": [USER, TRIGGER, ASSISTANT], "stream": True, "x": 1}
    out = compaction_request(body)
    assert out == {"model": "gpt-5.5", "x": 1, "input": [USER, ASSISTANT, TRIGGER]}
    assert ends_in_trigger(out) and not ends_in_trigger(body)
    assert body["input"] == [USER, TRIGGER, ASSISTANT]  # the given body is not changed


def test_a_string_input_is_one_user_message() -> None:
    out = compaction_request({"model": "m", "input": "hello"})
    assert out["input"] == [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello"}]},
        TRIGGER,
    ]
    assert kept_messages({"input": "hello"}) == out["input"][:1]


def test_the_answer_repeats_the_user_messages() -> None:
    # Only messages: another item is not repeated, whatever role it carries.
    odd = {"type": "item_reference", "role": "user", "id": "msg_1"}
    body = {"input": [DEV, USER, ASSISTANT, EASY_USER, {"type": "function_call_output"}, odd]}
    assert kept_messages(body) == [USER, EASY_USER]


@pytest.mark.parametrize(
    ("body", "param"),
    [({"model": "m"}, "input"), ({"input": 5}, "input"), ({"input": ["x"]}, "input[0]")],
)
def test_a_bad_input_is_a_400(body: dict[str, Any], param: str) -> None:
    with pytest.raises(ClientError) as caught:
        compaction_request(body)
    assert caught.value.param == param


@pytest.mark.parametrize(
    "body", [{}, {"input": "x"}, {"input": []}, {"input": [TRIGGER, USER]}, {"input": [USER]}]
)
def test_only_a_last_trigger_is_a_compaction(body: dict[str, Any]) -> None:
    assert not ends_in_trigger(body)
