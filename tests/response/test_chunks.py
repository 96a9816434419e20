"""chunks: the chunk framing of one choice, stop sequences held back across pieces, and the
legacy `function_call` shape, driven directly (translate_stream's tests drive it via events)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from chat2responses.protocol.wire import ChatChunk, FinishReason, ReasoningMode
from chat2responses.response.chunks import ChunkContext, ChunkWriter, chat_usage

TEXT = ReasoningMode.REASONING_CONTENT


def writer(
    *, stop: tuple[str, ...] = (), legacy: bool = False, include_usage: bool = False
) -> ChunkWriter:
    ctx = ChunkContext("chatcmpl-1", 7, "gpt-5.5", TEXT, stop, legacy)
    return ChunkWriter(ctx, include_usage=include_usage)


def deltas(chunks: list[ChatChunk]) -> list[tuple[dict[str, Any], str | None]]:
    return [(dict(c["choices"][0]["delta"]), c["choices"][0]["finish_reason"]) for c in chunks]


ROLE = ({"role": "assistant", "content": "", "refusal": None}, None)


def test_chunk_context_defaults_and_is_frozen() -> None:
    ctx = ChunkContext("id", 1, "m", TEXT)
    assert (ctx.stop, ctx.legacy_functions) == ((), False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.model = "x"  # type: ignore[misc]


def test_the_template() -> None:
    chunk = writer(include_usage=True).content("a")[0]
    assert {k: v for k, v in chunk.items() if k != "choices"} == {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 7,
        "model": "gpt-5.5",
        "usage": None,
    }
    assert "usage" not in writer().content("a")[0]


# calls on a writer with stop=("STOP", "xy") → the deltas returned by each call
STOP_STEPS = [
    pytest.param([("content", "abc")], [[ROLE, ({"content": "abc"}, None)]], id="no-stop-in-sight"),
    pytest.param(
        [("content", "abS"), ("content", "TOP!")],
        [[ROLE, ({"content": "ab"}, None)], [({}, "stop")]],
        id="split-stop",
    ),
    pytest.param(
        [("content", "abS"), ("content", "z"), ("content", "x")],
        [[ROLE, ({"content": "ab"}, None)], [({"content": "Sz"}, None)], []],
        id="a-false-start-is-sent-with-the-next-piece",
    ),
    pytest.param(
        [("content", "STO"), ("release", None)],
        [[], [ROLE, ({"content": "STO"}, None)]],
        id="release-sends-the-held-tail",
    ),
    pytest.param(
        [("content", "a x"), ("refusal", "no")],
        [[ROLE, ({"content": "a "}, None)], [({"content": "x"}, None), ({"refusal": "no"}, None)]],
        id="other-output-releases-first",
    ),
    pytest.param(
        [("content", "a x"), ("finish", None)],
        [[ROLE, ({"content": "a "}, None)], [({"content": "x"}, None), ({}, "stop")]],
        id="the-finish-releases-first",
    ),
    pytest.param(
        [("content", "xy"), ("content", "more")],
        [[ROLE, ({}, "stop")], []],
        id="nothing-after-a-stop",
    ),
]


@pytest.mark.parametrize(("steps", "expected"), STOP_STEPS)
def test_stop_sequences(steps: list[tuple[str, str | None]], expected: list[Any]) -> None:
    w = writer(stop=("STOP", "xy"))
    calls = {
        "content": w.content,
        "refusal": w.refusal,
        "release": lambda _: w.release(),
        "finish": lambda _: w.finish(FinishReason.STOP),
    }
    assert [deltas(calls[name](arg)) for name, arg in steps] == expected


def test_stopped_and_holding() -> None:
    w = writer(stop=("END",))
    w.content("aE")
    assert (w.holding, w.stopped) == (True, False)
    w.content("ND")
    assert (w.holding, w.stopped) == (False, True)


def test_legacy_function_call_deltas() -> None:
    w = writer(legacy=True)
    call = {"index": 0, "id": "c", "type": "function", "function": {"name": "f", "arguments": ""}}
    first = w.tool_call(call)  # type: ignore[arg-type]
    assert deltas(first) == [
        (
            {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": ""}},
            None,
        )
    ]
    assert deltas(w.arguments(0, "{}")) == [({"function_call": {"arguments": "{}"}}, None)]
    assert deltas(w.finish(FinishReason.FUNCTION_CALL)) == [({}, "function_call")]


def test_legacy_function_call_after_text() -> None:
    w = writer(legacy=True)
    w.content("hi")
    call = {"index": 0, "function": {"name": "f", "arguments": "{}"}}
    assert deltas(w.tool_call(call)) == [  # type: ignore[arg-type]
        ({"function_call": {"name": "f", "arguments": "{}"}}, None)
    ]


USAGES = [
    (
        {"input_tokens": 3, "output_tokens": 4},
        {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
    ),
    (
        {
            "input_tokens": 3,
            "output_tokens": 4,
            "total_tokens": 9,
            "input_tokens_details": {"cached_tokens": 1, "other": 2},
            "output_tokens_details": {"reasoning_tokens": 2},
        },
        {
            "prompt_tokens": 3,
            "completion_tokens": 4,
            "total_tokens": 9,
            "prompt_tokens_details": {"cached_tokens": 1},
            "completion_tokens_details": {"reasoning_tokens": 2},
        },
    ),
    ({}, {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}),
    (  # an upstream that lies: a count that is not a whole number of at least 0 counts as 0
        {
            "input_tokens": {"a": 1},
            "output_tokens": [1],
            "total_tokens": True,
            "input_tokens_details": {"cached_tokens": "5"},
            "output_tokens_details": {"reasoning_tokens": -2},
        },
        {
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "total_tokens": 0,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    ),
]


@pytest.mark.parametrize(("usage", "expected"), USAGES)
def test_chat_usage(usage: dict[str, Any], expected: dict[str, Any]) -> None:
    assert chat_usage(usage) == expected
