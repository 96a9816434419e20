"""aggregate: the non-streaming reply folded from the same translator's chunks, checked against
the SDK's `ChatCompletion` type."""

from __future__ import annotations

from typing import Any

import pytest
from openai.types.chat import ChatCompletion

from chat2responses.protocol.errors import UpstreamError, UpstreamProtocolError
from chat2responses.protocol.events import Event
from chat2responses.protocol.wire import ReasoningMode
from chat2responses.response.aggregate import ChatAggregator
from chat2responses.response.chunks import ChunkContext
from tests.response.test_translate import (
    ANSWER,
    CREATED,
    CREATED_EVENT,
    ID,
    MODEL,
    PATCH,
    SUMMARY,
    call,
    completed,
    done,
    load,
    message,
    text,
)


def aggregate(
    events: list[Event],
    mode: ReasoningMode = ReasoningMode.REASONING_CONTENT,
    **context: Any,
) -> Any:
    aggregator = ChatAggregator(ChunkContext(ID, CREATED, MODEL, mode, **context))
    for event in events:
        aggregator.feed(event)
    body = aggregator.finish()
    ChatCompletion.model_validate(body)
    return body


def test_aggregator_text_with_reasoning() -> None:
    body = aggregate(load("text_reasoning"))
    assert list(body) == ["id", "object", "created", "model", "choices", "usage"]
    assert (body["id"], body["object"], body["created"], body["model"]) == (
        ID,
        "chat.completion",
        CREATED,
        MODEL,
    )
    assert body["choices"] == [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": ANSWER,
                "refusal": None,
                "reasoning_content": SUMMARY,
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    assert body["usage"]["total_tokens"] == 127


def test_aggregator_tool_only_reply_has_null_content() -> None:
    message = aggregate(load("parallel_tools"))["choices"][0]["message"]
    assert message["content"] is None and message["refusal"] is None
    assert [
        (c["id"], c["type"], c["function"]["name"], c["function"]["arguments"])
        for c in message["tool_calls"]
        if c["type"] == "function"
    ] == [
        ("call_Wx1ParisAbc", "function", "get_weather", '{"city":"Paris"}'),
        ("call_Yz2TokyoDef", "function", "get_weather", '{"city":"Tōkyō"}'),
    ]
    # A custom tool call in OpenAI's own non-streamed shape (it streams as a function delta).
    assert message["tool_calls"][2] == {
        "id": "call_Pq3PatchGhi",
        "type": "custom",
        "custom": {"name": "apply_patch", "input": PATCH},
    }
    assert "reasoning_content" not in message


def test_aggregator_codex_empty_output() -> None:
    body = aggregate(load("codex_empty_output"))
    message = body["choices"][0]["message"]
    assert message["content"] == "Let me look at the files first."
    names = [c.get("function", c.get("custom"))["name"] for c in message["tool_calls"]]
    assert names == ["shell", "apply_patch"]
    assert body["choices"][0]["finish_reason"] == "tool_calls"


def test_aggregator_refusal_and_incomplete() -> None:
    message = aggregate(load("refusal"))["choices"][0]["message"]
    assert (message["content"], message["refusal"]) == (None, "I'm sorry, I can't help with that.")
    assert aggregate(load("incomplete"))["choices"][0]["finish_reason"] == "length"


def test_aggregator_think_mode_and_empty_reply() -> None:
    body = aggregate(load("text_reasoning"), ReasoningMode.THINK)
    assert body["choices"][0]["message"]["content"] == f"<think>{SUMMARY}</think>{ANSWER}"
    empty = aggregate([CREATED_EVENT, completed()])
    assert empty["choices"][0]["message"]["content"] == ""
    assert empty["usage"] is None


@pytest.mark.parametrize("name", ["failed", "error_event"])
def test_aggregator_raises_upstream_errors(name: str) -> None:
    with pytest.raises(UpstreamError):
        aggregate(load(name))


def test_aggregator_without_terminal_raises() -> None:
    with pytest.raises(UpstreamProtocolError):
        aggregate([CREATED_EVENT, text(0, "a")])


def test_aggregator_legacy_function_call() -> None:
    events = [
        text(0, "Checking."),
        done(1, call("c1", "get_weather", '{"city":"Oslo"}')),
        completed(),
    ]
    body = aggregate(events, legacy_functions=True)
    choice = body["choices"][0]
    assert choice["finish_reason"] == "function_call"
    assert choice["message"] == {
        "role": "assistant",
        "content": "Checking.",
        "refusal": None,
        "function_call": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
    }


def test_aggregator_applies_stop_sequences() -> None:
    aggregator = ChatAggregator(ChunkContext(ID, CREATED, MODEL, ReasoningMode.NONE, ("\n\n",)))
    aggregator.feed(text(0, "First line.\n"))
    assert not aggregator.stopped
    aggregator.feed(text(0, "\nSecond."))
    assert aggregator.stopped
    body = aggregator.finish()  # no terminal event needed after a stop
    ChatCompletion.model_validate(body)
    assert body["choices"][0]["message"]["content"] == "First line."
    assert body["choices"][0]["finish_reason"] == "stop"


def test_aggregator_separates_two_message_items() -> None:
    body = aggregate([done(0, message("Looking.")), done(1, message("Done.")), completed()])
    assert body["choices"][0]["message"]["content"] == "Looking.\n\nDone."
