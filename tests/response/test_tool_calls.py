"""response/tool_calls.py: a call's index, first delta, arguments and rest, and the finish
reason, driven directly (test_translate.py drives them through events). Tables."""

from __future__ import annotations

from typing import Any

import pytest

from chat2responses.protocol.wire import FinishReason, ReasoningMode
from chat2responses.response.chunks import ChunkContext, ChunkWriter
from chat2responses.response.items import Item
from chat2responses.response.tool_calls import ToolCalls


def calls(*, legacy: bool = False) -> ToolCalls:
    ctx = ChunkContext("chatcmpl-1", 7, "gpt-5.5", ReasoningMode.REASONING_CONTENT, (), legacy)
    return ToolCalls(ChunkWriter(ctx, include_usage=False), legacy=legacy)


def tool_deltas(chunks: list[Any]) -> list[Any]:
    return [c["choices"][0]["delta"].get("tool_calls") for c in chunks if c["choices"]]


def test_calls_are_numbered_from_0_and_announced_with_what_they_carry() -> None:
    tc = calls()
    first, second = Item(), Item()
    announced = tool_deltas(tc.announce(first, {"type": "function_call", "call_id": "c1",
                                                "name": "f", "arguments": "{}"}))  # fmt: skip
    assert announced == [[{"index": 0, "id": "c1", "type": "function",
                           "function": {"name": "f", "arguments": "{}"}}]]  # fmt: skip
    tc.announce(second, {"type": "custom_tool_call", "id": "ct_2", "name": "g"})
    assert (first.tool_index, second.tool_index, tc.count, tc.custom) == (0, 1, 2, {1})
    assert tc.finish_reason() is FinishReason.TOOL_CALLS


@pytest.mark.parametrize(
    ("sent", "full", "rest"),
    [("", '{"a":1}', '{"a":1}'), ('{"a"', '{"a":1}', ":1}"), ('{"a":1}', '{"a":1}', None)],
)
def test_the_rest_is_what_the_deltas_did_not_carry(sent: str, full: str, rest: str | None) -> None:
    tc, item = calls(), Item()
    tc.announce(item, {"type": "function_call", "call_id": "c", "name": "f"})
    if sent:
        tc.arguments(item, sent)
    out = tool_deltas(tc.rest(item, full))
    assert out == ([[{"index": 0, "function": {"arguments": rest}}]] if rest else [])
    assert item.sent == len(full)


def test_legacy_functions_say_one_call_and_finish_function_call() -> None:
    tc = calls(legacy=True)
    assert tc.finish_reason() is None
    assert tc.announce(Item(), {"type": "function_call", "call_id": "c", "name": "f"})
    assert tc.announce(Item(), {"type": "function_call", "call_id": "d", "name": "g"}) == []
    assert tc.finish_reason() is FinishReason.FUNCTION_CALL


@pytest.mark.parametrize(
    "payload", [{"call_id": 12, "name": "f"}, {"call_id": "c", "name": {"n": 1}}]
)
def test_a_call_id_or_name_that_is_not_text_is_malformed(payload: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        calls().announce(Item(), {"type": "function_call", **payload})
