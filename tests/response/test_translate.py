"""response/translate.py: recorded transcripts through the translator, checked against the
openai SDK (chunk types, and its own stream accumulator), plus tables of edge cases."""

from __future__ import annotations

import gc
import itertools
import json
import typing
import weakref
from pathlib import Path
from typing import Any

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai import ContentFilterFinishReasonError, LengthFinishReasonError
from openai._streaming import SSEDecoder as SDKDecoder
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk
from openai.types.responses import ResponseStreamEvent

from chat2responses.protocol.errors import UpstreamError, UpstreamProtocolError
from chat2responses.protocol.events import Event, EventType, parse_event
from chat2responses.protocol.sse import DONE, SSEDecoder, encode_data
from chat2responses.protocol.wire import ReasoningMode
from chat2responses.response.chunks import ChunkContext
from chat2responses.response.translate import _METHODS, IGNORED, StreamTranslator

FIXTURES = Path(__file__).parents[1] / "fixtures"
MODES = list(ReasoningMode)
ID, CREATED, MODEL = "chatcmpl-test1", 1767225600, "gpt-5.5"

EVENT_ADAPTER: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(ResponseStreamEvent)
_EVENT_CLASSES = {
    typing.get_args(cls.model_fields["type"].annotation)[0]: cls
    for cls in typing.get_args(typing.get_args(ResponseStreamEvent)[0])
}


def load(name: str) -> list[Event]:
    decoder = SSEDecoder()
    raw = (FIXTURES / f"{name}.sse").read_bytes()
    return [parse_event(m.data) for m in decoder.feed(raw) + decoder.finish()]


def translator(
    *,
    include_usage: bool = False,
    reasoning: ReasoningMode = ReasoningMode.REASONING_CONTENT,
    stop: tuple[str, ...] = (),
    legacy_functions: bool = False,
) -> StreamTranslator:
    ctx = ChunkContext(ID, CREATED, MODEL, reasoning, stop, legacy_functions)
    return StreamTranslator(ctx, include_usage=include_usage)


def run(events: list[Event], **kwargs: Any) -> list[dict[str, Any]]:
    t = translator(**kwargs)
    out: list[dict[str, Any]] = []
    for event in events:
        out += t.feed(event)
    out += t.finish()
    return [dict(c) for c in out]


def deltas(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c["choices"][0]["delta"] for c in chunks if c["choices"]]


def sdk_accumulate(chunks: list[dict[str, Any]]) -> Any:
    """What an openai-python client ends with: our chunks on the wire, parsed by the SDK's SSE
    decoder, validated as ChatCompletionChunk, accumulated by ChatCompletionStreamState."""
    wire = b"".join(encode_data(json.dumps(c)) for c in chunks) + DONE
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    for sse in SDKDecoder().iter_bytes(iter([wire])):
        if sse.data == "[DONE]":
            break
        state.handle_chunk(ChatCompletionChunk.model_validate(json.loads(sse.data)))
    try:
        return state.get_final_completion()
    except (LengthFinishReasonError, ContentFilterFinishReasonError) as exc:
        # The SDK refuses to "parse" a cut-short answer but keeps what it accumulated.
        return exc.completion


FIXTURE_NAMES = sorted(p.stem for p in FIXTURES.glob("*.sse"))
SUCCEEDING = ["codex_empty_output", "incomplete", "parallel_tools", "refusal", "text_reasoning"]


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_events_are_valid_sdk_events(name: str) -> None:
    for event in load(name):
        _EVENT_CLASSES[event["type"]].model_validate(event)  # readable errors
        EVENT_ADAPTER.validate_python(event)


# -- invariants every successful stream keeps ------------------------------------------------


def check_invariants(chunks: list[dict[str, Any]], *, include_usage: bool) -> None:
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
        assert (chunk["id"], chunk["created"], chunk["model"]) == (ID, CREATED, MODEL)
        assert chunk["object"] == "chat.completion.chunk"
        if include_usage and chunk["choices"]:
            assert chunk["usage"] is None
        if not include_usage:
            assert "usage" not in chunk
        for choice in chunk["choices"]:
            assert (choice["index"], choice["logprobs"]) == (0, None)
    choice_chunks = [c for c in chunks if c["choices"]]
    roles = [i for i, d in enumerate(deltas(chunks)) if "role" in d]
    assert roles == [0], "role exactly once, in the first chunk"
    finishes = [c for c in choice_chunks if c["choices"][0]["finish_reason"] is not None]
    assert finishes == [choice_chunks[-1]] and finishes[0]["choices"][0]["delta"] == {}
    usage = [c for c in chunks if not c["choices"]]
    assert len(usage) == (1 if include_usage else 0)
    if include_usage:
        assert chunks[-1] is usage[0] and usage[0]["usage"]["total_tokens"] > 0
    for delta in deltas(chunks):
        assert not ("reasoning_content" in delta and "content" in delta)
    seen: set[int] = set()
    for delta in deltas(chunks):
        for call in delta.get("tool_calls", ()):
            first = call["index"] not in seen
            assert call["index"] == len(seen) if first else call["index"] in seen
            assert ("id" in call, "type" in call, "name" in call.get("function", {})) == (
                (first,) * 3
            ), "id, type and name only in a call's first delta"
            seen.add(call["index"])


@pytest.mark.parametrize("include_usage", [False, True])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", SUCCEEDING)
def test_invariants(name: str, mode: ReasoningMode, include_usage: bool) -> None:
    chunks = run(load(name), include_usage=include_usage, reasoning=mode)
    check_invariants(chunks, include_usage=include_usage)


# -- what the SDK's accumulator ends with ------------------------------------------------------

ANSWER = "The capital of France is Paris 🗼 — «ville lumière»."
SUMMARY = (
    "**Recalling the capital**\n\nThe user wants France's capital."
    "\n\n**Answering** — Paris, with a café ☕."
)
PATCH = "*** Begin Patch\n*** Add File: notes.txt\n+weather for Paris and Tōkyō\n*** End Patch"


def calls_of(message: Any) -> list[tuple[str, str, str]]:
    return [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or ()]


def test_text_with_reasoning_content() -> None:
    chunks = run(load("text_reasoning"), include_usage=True)
    final = sdk_accumulate(chunks)
    message = final.choices[0].message
    assert message.content == ANSWER
    assert message.model_extra["reasoning_content"] == SUMMARY
    assert message.tool_calls is None and message.refusal is None
    assert final.choices[0].finish_reason == "stop"
    assert final.usage.model_dump(exclude_none=True) == {
        "prompt_tokens": 31,
        "completion_tokens": 96,
        "total_tokens": 127,
        "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 64},
    }
    assert deltas(chunks)[0] == {"role": "assistant", "reasoning_content": SUMMARY[:42]}


def test_text_with_think_tags() -> None:
    final = sdk_accumulate(run(load("text_reasoning"), reasoning=ReasoningMode.THINK))
    message = final.choices[0].message
    assert message.content == f"<think>{SUMMARY}</think>{ANSWER}"
    assert "reasoning_content" not in (message.model_extra or {})


def test_text_with_reasoning_dropped() -> None:
    chunks = run(load("text_reasoning"), reasoning=ReasoningMode.NONE)
    assert sdk_accumulate(chunks).choices[0].message.content == ANSWER
    assert deltas(chunks)[0] == {"role": "assistant", "content": "", "refusal": None}
    assert not any("reasoning_content" in d for d in deltas(chunks))


def test_parallel_tool_calls() -> None:
    chunks = run(load("parallel_tools"))
    final = sdk_accumulate(chunks)
    message = final.choices[0].message
    assert calls_of(message) == [
        ("call_Wx1ParisAbc", "get_weather", '{"city":"Paris"}'),
        ("call_Yz2TokyoDef", "get_weather", '{"city":"Tōkyō"}'),
        ("call_Pq3PatchGhi", "apply_patch", PATCH),
    ]
    assert message.content is None
    assert final.choices[0].finish_reason == "tool_calls"
    assert deltas(chunks)[0] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "index": 0,
                "id": "call_Wx1ParisAbc",
                "type": "function",
                "function": {"name": "get_weather", "arguments": ""},
            }
        ],
        "refusal": None,
    }
    assert deltas(chunks)[1] == {
        "tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]
    }


def test_refusal() -> None:
    chunks = run(load("refusal"))
    final = sdk_accumulate(chunks)
    message = final.choices[0].message
    assert message.refusal == "I'm sorry, I can't help with that."
    assert message.content is None
    assert final.choices[0].finish_reason == "stop"
    assert deltas(chunks)[0] == {"role": "assistant", "content": None, "refusal": ""}


def test_incomplete_is_length() -> None:
    final = sdk_accumulate(run(load("incomplete"), include_usage=True))
    assert final.choices[0].message.content == "Once upon a time, in a land far away, there lived"
    assert final.choices[0].finish_reason == "length"


def test_codex_items_only_in_output_item_done() -> None:
    chunks = run(load("codex_empty_output"), include_usage=True)
    final = sdk_accumulate(chunks)
    message = final.choices[0].message
    assert message.content == "Let me look at the files first."
    assert message.model_extra["reasoning_content"] == "**Listing files**\n\nThen patching notes."
    assert calls_of(message) == [
        ("call_Cx4ShellJkl", "shell", '{"command":["ls","-la"]}'),
        (
            "call_Cx5PatchMno",
            "apply_patch",
            "*** Begin Patch\n*** Delete File: old.txt\n*** End Patch",
        ),
    ]
    assert final.choices[0].finish_reason == "tool_calls"
    assert final.usage.prompt_tokens_details.cached_tokens == 1536


def test_failed_raises_before_any_chunk() -> None:
    t = translator()
    events = load("failed")
    assert [t.feed(e) for e in events[:-1]] == [[], []]
    with pytest.raises(UpstreamError) as info:
        t.feed(events[-1])
    err = info.value
    assert (err.status, err.code, err.type) == (500, "server_error", "server_error")
    assert err.message.startswith("The server had an error")
    assert not t.started and t.done
    assert t.feed(events[-1]) == [] and t.finish() == []


def test_error_event_after_text_raises_with_its_status() -> None:
    t = translator()
    events = load("error_event")
    sent = [c for e in events[:-1] for c in t.feed(e)]
    assert [c["choices"][0]["delta"] for c in sent][1:] == [{"content": "Partial answer"}]
    with pytest.raises(UpstreamError) as info:
        t.feed(events[-1])
    assert (info.value.status, info.value.code) == (503, "server_is_overloaded")
    assert t.started and t.done


# -- any split of the upstream bytes gives the same chat output --------------------------------


def chat_output(pieces: list[bytes], mode: ReasoningMode) -> list[dict[str, Any]]:
    decoder, t = SSEDecoder(), translator(include_usage=True, reasoning=mode)
    out: list[dict[str, Any]] = []
    for piece in pieces:
        for message in decoder.feed(piece):
            out += t.feed(parse_event(message.data))
    for message in decoder.finish():
        out += t.feed(parse_event(message.data))
    return out + list(t.finish())


@st.composite
def split_stream(draw: st.DrawFn) -> tuple[str, bytes, list[bytes]]:
    name = draw(st.sampled_from(SUCCEEDING))
    raw = (FIXTURES / f"{name}.sse").read_bytes()
    raw = raw.replace(b"\n", draw(st.sampled_from([b"\n", b"\r\n", b"\r"])))
    cuts = sorted(draw(st.sets(st.integers(0, len(raw)), max_size=30)))
    bounds = [0, *cuts, len(raw)]
    return name, raw, [raw[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=40, deadline=None)
@given(split_stream(), st.sampled_from(MODES))
def test_any_split_gives_the_same_chat_output(
    case: tuple[str, bytes, list[bytes]], mode: ReasoningMode
) -> None:
    name, _, pieces = case
    assert chat_output(pieces, mode) == run(load(name), include_usage=True, reasoning=mode)


# -- tables of small literal streams ---------------------------------------------------------


def ev(kind: str, **fields: Any) -> Event:
    return {"type": kind, **fields}


def added(index: int, item: dict[str, Any]) -> Event:
    return ev("response.output_item.added", output_index=index, item=item)


def done(index: int, item: dict[str, Any]) -> Event:
    return ev("response.output_item.done", output_index=index, item=item)


def text(index: int, delta: str) -> Event:
    return ev("response.output_text.delta", output_index=index, content_index=0, delta=delta)


def args(index: int, delta: str) -> Event:
    return ev("response.function_call_arguments.delta", output_index=index, delta=delta)


def message(*texts: str) -> dict[str, Any]:
    parts = [{"type": "output_text", "text": t, "annotations": []} for t in texts]
    return {"type": "message", "id": "msg_1", "role": "assistant", "content": parts}


def call(call_id: str, name: str, arguments: str = "") -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": "fc_" + call_id,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }


def reasoning(*summaries: str) -> dict[str, Any]:
    summary = [{"type": "summary_text", "text": s} for s in summaries]
    return {"type": "reasoning", "id": "rs_1", "summary": summary}


def summary(index: int, part: int, delta: str) -> Event:
    return ev(
        "response.reasoning_summary_text.delta",
        output_index=index,
        summary_index=part,
        delta=delta,
    )


def completed(output: list[dict[str, Any]] | None = None, **response: Any) -> Event:
    return ev(
        "response.completed", response={"status": "completed", "output": output or [], **response}
    )


def incomplete(reason: str | None) -> Event:
    details = {"reason": reason} if reason else None
    response = {"status": "incomplete", "output": [], "incomplete_details": details}
    return ev("response.incomplete", response=response)


ROLE_TEXT = {"role": "assistant", "content": "", "refusal": None}
CREATED_EVENT = ev("response.created", response={"id": "resp_1", "status": "in_progress"})


def tool_head(index: int, call_id: str, name: str, arguments: str = "") -> dict[str, Any]:
    return {
        "index": index,
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


def first_call(call_id: str, name: str, arguments: str = "") -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [tool_head(0, call_id, name, arguments)],
        "refusal": None,
    }


def arguments(index: int, text: str) -> dict[str, Any]:
    return {"tool_calls": [{"index": index, "function": {"arguments": text}}]}


def fin(reason: str) -> tuple[dict[str, Any], str]:
    return {}, reason


STREAM_CASES: list[tuple[str, ReasoningMode, list[Event], list[Any]]] = [
    (
        "created alone emits nothing; empty completion still has role and finish",
        ReasoningMode.REASONING_CONTENT,
        [CREATED_EVENT, completed()],
        [ROLE_TEXT, fin("stop")],
    ),
    (
        "text deltas",
        ReasoningMode.REASONING_CONTENT,
        [
            added(0, message()),
            text(0, "Hel"),
            text(0, "lo"),
            done(0, message("Hello")),
            completed(),
        ],
        [ROLE_TEXT, {"content": "Hel"}, {"content": "lo"}, fin("stop")],
    ),
    (
        "text only in output_item.done",
        ReasoningMode.REASONING_CONTENT,
        [added(0, message()), done(0, message("Hi ", "there")), completed()],
        [ROLE_TEXT, {"content": "Hi there"}, fin("stop")],
    ),
    (
        "message never added, only done",
        ReasoningMode.REASONING_CONTENT,
        [done(0, message("Hi")), completed()],
        [ROLE_TEXT, {"content": "Hi"}, fin("stop")],
    ),
    (
        "only the part of the text that did not stream is sent from done",
        ReasoningMode.REASONING_CONTENT,
        [text(0, "Hel"), done(0, message("Hello")), completed()],
        [ROLE_TEXT, {"content": "Hel"}, {"content": "lo"}, fin("stop")],
    ),
    (
        "empty deltas are not chunks",
        ReasoningMode.REASONING_CONTENT,
        [text(0, ""), text(0, "a"), completed()],
        [ROLE_TEXT, {"content": "a"}, fin("stop")],
    ),
    (
        "arguments only in function_call_arguments.done",
        ReasoningMode.REASONING_CONTENT,
        [
            added(0, call("call_1", "f")),
            ev("response.function_call_arguments.done", output_index=0, arguments='{"x":1}'),
            done(0, call("call_1", "f", '{"x":1}')),
            completed(),
        ],
        [first_call("call_1", "f"), arguments(0, '{"x":1}'), fin("tool_calls")],
    ),
    (
        "arguments only in output_item.done",
        ReasoningMode.REASONING_CONTENT,
        [added(0, call("call_1", "f")), done(0, call("call_1", "f", "{}")), completed()],
        [first_call("call_1", "f"), arguments(0, "{}"), fin("tool_calls")],
    ),
    (
        "missing tail of streamed arguments",
        ReasoningMode.REASONING_CONTENT,
        [
            added(0, call("call_1", "f")),
            args(0, '{"a"'),
            done(0, call("call_1", "f", '{"a":2}')),
            completed(),
        ],
        [first_call("call_1", "f"), arguments(0, '{"a"'), arguments(0, ":2}"), fin("tool_calls")],
    ),
    (
        "a call never added is announced whole from output_item.done",
        ReasoningMode.REASONING_CONTENT,
        [args(0, "ignored"), done(0, call("call_1", "f", "{}")), completed()],
        [first_call("call_1", "f", "{}"), fin("tool_calls")],
    ),
    (
        "tool index counts calls, not output items",
        ReasoningMode.REASONING_CONTENT,
        [
            text(0, "Let me check."),
            added(3, call("call_a", "f")),
            added(5, call("call_b", "g")),
            args(5, "{}"),
            args(3, "[]"),
            completed(),
        ],
        [
            ROLE_TEXT,
            {"content": "Let me check."},
            {"tool_calls": [tool_head(0, "call_a", "f")]},
            {"tool_calls": [tool_head(1, "call_b", "g")]},
            arguments(1, "{}"),
            arguments(0, "[]"),
            fin("tool_calls"),
        ],
    ),
    (
        "custom tool call input streams as arguments",
        ReasoningMode.REASONING_CONTENT,
        [
            added(
                0, {"type": "custom_tool_call", "call_id": "call_c", "name": "patch", "input": ""}
            ),
            ev("response.custom_tool_call_input.delta", output_index=0, delta="*** Begin"),
            ev("response.custom_tool_call_input.done", output_index=0, input="*** Begin Patch"),
            completed(),
        ],
        [
            first_call("call_c", "patch"),
            arguments(0, "*** Begin"),
            arguments(0, " Patch"),
            fin("tool_calls"),
        ],
    ),
    (
        "reasoning_content first chunk carries the role and no content key",
        ReasoningMode.REASONING_CONTENT,
        [summary(0, 0, "a"), summary(0, 0, "b"), summary(0, 1, "c"), text(1, "x"), completed()],
        [
            {"role": "assistant", "reasoning_content": "a"},
            {"reasoning_content": "b"},
            {"reasoning_content": "\n\nc"},
            {"content": "x"},
            fin("stop"),
        ],
    ),
    (
        "raw reasoning text deltas count as reasoning",
        ReasoningMode.REASONING_CONTENT,
        [
            ev("response.reasoning_text.delta", output_index=0, content_index=0, delta="r"),
            completed(),
        ],
        [{"role": "assistant", "reasoning_content": "r"}, fin("stop")],
    ),
    (
        "reasoning only in output_item.done",
        ReasoningMode.REASONING_CONTENT,
        [added(0, reasoning()), done(0, reasoning("one", "two")), completed()],
        [{"role": "assistant", "reasoning_content": "one\n\ntwo"}, fin("stop")],
    ),
    (
        "streamed reasoning is not repeated from done",
        ReasoningMode.REASONING_CONTENT,
        [summary(0, 0, "one"), done(0, reasoning("one")), completed()],
        [{"role": "assistant", "reasoning_content": "one"}, fin("stop")],
    ),
    (
        "think: closed before the answer",
        ReasoningMode.THINK,
        [summary(0, 0, "a"), summary(0, 1, "b"), text(1, "x"), completed()],
        [
            ROLE_TEXT,
            {"content": "<think>a"},
            {"content": "\n\nb"},
            {"content": "</think>"},
            {"content": "x"},
            fin("stop"),
        ],
    ),
    (
        "think: closed before a tool call",
        ReasoningMode.THINK,
        [summary(0, 0, "a"), added(1, call("call_1", "f")), completed()],
        [
            ROLE_TEXT,
            {"content": "<think>a"},
            {"content": "</think>"},
            {"tool_calls": [tool_head(0, "call_1", "f")]},
            fin("tool_calls"),
        ],
    ),
    (
        "think: closed at the end of a reasoning-only answer",
        ReasoningMode.THINK,
        [summary(0, 0, "a"), completed()],
        [ROLE_TEXT, {"content": "<think>a"}, {"content": "</think>"}, fin("stop")],
    ),
    (
        "think: a later reasoning run opens a new block",
        ReasoningMode.THINK,
        [summary(0, 0, "a"), text(1, "x"), summary(2, 0, "b"), text(3, "y"), completed()],
        [
            ROLE_TEXT,
            {"content": "<think>a"},
            {"content": "</think>"},
            {"content": "x"},
            {"content": "<think>b"},
            {"content": "</think>"},
            {"content": "\n\ny"},  # a second message item: separated (rule 8)
            fin("stop"),
        ],
    ),
    (
        "reasoning_content: a later reasoning run is separated",
        ReasoningMode.REASONING_CONTENT,
        [summary(0, 0, "a"), text(1, "x"), summary(2, 0, "b"), completed()],
        [
            {"role": "assistant", "reasoning_content": "a"},
            {"content": "x"},
            {"reasoning_content": "\n\nb"},
            fin("stop"),
        ],
    ),
    (
        "none: reasoning dropped",
        ReasoningMode.NONE,
        [summary(0, 0, "a"), done(0, reasoning("a")), text(1, "x"), completed()],
        [ROLE_TEXT, {"content": "x"}, fin("stop")],
    ),
    (
        "refusal after text",
        ReasoningMode.REASONING_CONTENT,
        [
            text(0, "x"),
            ev("response.refusal.delta", output_index=0, content_index=1, delta="no"),
            completed(),
        ],
        [ROLE_TEXT, {"content": "x"}, {"refusal": "no"}, fin("stop")],
    ),
    (
        "refusal only in output_item.done",
        ReasoningMode.REASONING_CONTENT,
        [
            done(0, {"type": "message", "content": [{"type": "refusal", "refusal": "no"}]}),
            completed(),
        ],
        [{"role": "assistant", "content": None, "refusal": ""}, {"refusal": "no"}, fin("stop")],
    ),
    (
        "completed.output is used when no item event came",
        ReasoningMode.REASONING_CONTENT,
        [CREATED_EVENT, completed([reasoning("r"), message("Hi"), call("call_1", "f", "{}")])],
        [
            {"role": "assistant", "reasoning_content": "r"},
            {"content": "Hi"},
            {"tool_calls": [tool_head(0, "call_1", "f", "{}")]},
            fin("tool_calls"),
        ],
    ),
    (
        "completed.output is ignored once items came",
        ReasoningMode.REASONING_CONTENT,
        [text(0, "Hi"), completed([message("Different")])],
        [ROLE_TEXT, {"content": "Hi"}, fin("stop")],
    ),
    (
        "unknown events are ignored",
        ReasoningMode.REASONING_CONTENT,
        [
            ev("codex.rate_limits", primary={"used_percent": 3}),
            text(0, "a"),
            ev("response.web_search_call.searching", output_index=1, item_id="ws_1"),
            completed(),
        ],
        [ROLE_TEXT, {"content": "a"}, fin("stop")],
    ),
    (
        "events after the terminal one are ignored",
        ReasoningMode.REASONING_CONTENT,
        [text(0, "a"), completed(), text(0, "late"), completed()],
        [ROLE_TEXT, {"content": "a"}, fin("stop")],
    ),
    (
        "incomplete: content_filter",
        ReasoningMode.REASONING_CONTENT,
        [text(0, "a"), incomplete("content_filter")],
        [ROLE_TEXT, {"content": "a"}, fin("content_filter")],
    ),
    (
        "incomplete: max_output_tokens",
        ReasoningMode.REASONING_CONTENT,
        [text(0, "a"), incomplete("max_output_tokens")],
        [ROLE_TEXT, {"content": "a"}, fin("length")],
    ),
    (
        "incomplete: an unknown reason is still cut short",
        ReasoningMode.REASONING_CONTENT,
        [incomplete(None)],
        [ROLE_TEXT, fin("length")],
    ),
    (
        "incomplete with tool calls is still length",
        ReasoningMode.REASONING_CONTENT,
        [added(0, call("call_1", "f")), incomplete("max_output_tokens")],
        [first_call("call_1", "f"), fin("length")],
    ),
    (
        "response.done with status completed",
        ReasoningMode.REASONING_CONTENT,
        [text(0, "a"), ev("response.done", response={"status": "completed", "output": []})],
        [ROLE_TEXT, {"content": "a"}, fin("stop")],
    ),
    (
        "response.done with status incomplete",
        ReasoningMode.REASONING_CONTENT,
        [
            ev(
                "response.done",
                response={
                    "status": "incomplete",
                    "output": [],
                    "incomplete_details": {"reason": "max_output_tokens"},
                },
            )
        ],
        [ROLE_TEXT, fin("length")],
    ),
]


def expected_chunk(spec: Any) -> tuple[dict[str, Any], str | None]:
    return spec if isinstance(spec, tuple) else (spec, None)


@pytest.mark.parametrize(
    ("mode", "events", "expected"),
    [c[1:] for c in STREAM_CASES],
    ids=[c[0] for c in STREAM_CASES],
)
def test_stream_cases(mode: ReasoningMode, events: list[Event], expected: list[Any]) -> None:
    chunks = run(events, reasoning=mode)
    got = [(c["choices"][0]["delta"], c["choices"][0]["finish_reason"]) for c in chunks]
    assert got == [expected_chunk(spec) for spec in expected]
    check_invariants(chunks, include_usage=False)
    sdk_accumulate(chunks)


def test_usage_chunk_only_when_asked_and_after_the_finish() -> None:
    usage = {
        "input_tokens": 5,
        "output_tokens": 7,
        "total_tokens": 12,
        "input_tokens_details": {"cached_tokens": 2},
        "output_tokens_details": {"reasoning_tokens": 3},
    }
    events = [text(0, "a"), completed(usage=usage)]
    with_usage = run(events, include_usage=True)
    assert [c["usage"] for c in with_usage[:-1]] == [None, None, None]
    assert with_usage[-1]["choices"] == []
    assert with_usage[-1]["usage"] == {
        "prompt_tokens": 5,
        "completion_tokens": 7,
        "total_tokens": 12,
        "prompt_tokens_details": {"cached_tokens": 2},
        "completion_tokens_details": {"reasoning_tokens": 3},
    }
    without = run(events, include_usage=False)
    assert len(without) == 3 and all(c["choices"] and "usage" not in c for c in without)


def test_no_usage_chunk_when_the_upstream_gave_no_usage() -> None:
    chunks = run([text(0, "a"), completed()], include_usage=True)
    assert all(c["choices"] for c in chunks)


def test_state_properties() -> None:
    t = translator()
    assert (t.started, t.done) == (False, False)
    assert t.feed(CREATED_EVENT) == []
    assert (t.started, t.done) == (False, False)
    t.feed(text(0, "a"))
    assert (t.started, t.done) == (True, False)
    t.feed(completed())
    assert (t.started, t.done) == (True, True)
    assert t.finish() == []


@pytest.mark.parametrize(
    "events", [[], [CREATED_EVENT], [CREATED_EVENT, text(0, "half an ans")]], ids=len
)
def test_a_stream_without_a_terminal_event_is_an_error(events: list[Event]) -> None:
    t = translator()
    for event in events:
        t.feed(event)
    with pytest.raises(UpstreamProtocolError, match=r"before response\.completed"):
        t.finish()


@pytest.mark.parametrize(
    "event",
    [
        ev("response.output_text.delta", output_index=0),
        ev("response.output_item.added", output_index=0),
        ev("response.output_item.added", output_index=0, item="message"),
        ev("response.output_text.delta", output_index=0, delta=5),
        # every text an event carries, not only the answer's (an upstream that lies)
        ev("response.function_call_arguments.delta", output_index=0, delta={"a": 1}),
        ev("response.custom_tool_call_input.delta", output_index=0, delta=["x"]),
        ev("response.refusal.delta", output_index=0, delta={"x": 1}),
        ev("response.reasoning_summary_text.delta", output_index=0, delta={"x": 1}),
        ev("response.reasoning_summary_text.done", output_index=0, text=["x"]),
        ev(
            "response.output_item.added",
            output_index=0,
            item={"type": "function_call", "call_id": 12, "name": "f", "arguments": ""},
        ),
        ev(
            "response.output_item.done",
            output_index=0,
            item={"type": "function_call", "call_id": "c", "name": {"n": 1}, "arguments": ""},
        ),
    ],
    ids=[
        "no delta",
        "no item",
        "item not an object",
        "delta not a string",
        "arguments delta an object",
        "custom input delta a list",
        "refusal delta an object",
        "summary delta an object",
        "summary done text a list",
        "call id a number",
        "name an object",
    ],
)
def test_malformed_events_are_protocol_errors(event: Event) -> None:
    with pytest.raises(UpstreamProtocolError, match="malformed"):
        translator().feed(event)


def test_every_event_type_is_handled_or_deliberately_ignored() -> None:
    handled = set(_METHODS)
    assert handled.isdisjoint(IGNORED)
    assert handled | set(IGNORED) == {t.value for t in EventType}


# -- rule 7: events without output_index ------------------------------------------------------


def bare(kind: str, **fields: Any) -> Event:
    """An event as some relays send it: no output_index."""
    return ev(kind, **fields)


INDEXLESS = [
    pytest.param(
        [
            bare("response.output_item.added", item={**message(), "id": "msg_a"}),
            bare("response.output_text.delta", item_id="msg_a", delta="Hel"),
            bare("response.output_text.delta", delta="lo"),
            bare("response.output_item.done", item={**message("Hello"), "id": "msg_a"}),
            completed(),
        ],
        [ROLE_TEXT, {"content": "Hel"}, {"content": "lo"}, fin("stop")],
        id="by-item-id-then-current-item",
    ),
    pytest.param(
        [
            added(0, {**message(), "id": "msg_a"}),
            bare("response.output_text.delta", item_id="msg_a", delta="a"),
            bare("response.output_item.added", item=call("c1", "f")),
            bare("response.function_call_arguments.delta", item_id="fc_c1", delta="{}"),
            bare("response.output_item.done", item=call("c1", "f", "{}")),
            bare("response.output_item.done", item={**message("a"), "id": "msg_a"}),
            completed(),
        ],
        [
            ROLE_TEXT,
            {"content": "a"},
            {"tool_calls": [tool_head(0, "c1", "f")]},
            arguments(0, "{}"),
            fin("tool_calls"),
        ],
        id="item-id-maps-to-the-output-index-item",
    ),
    pytest.param(
        [bare("response.output_text.delta", delta="x"), completed()],
        [ROLE_TEXT, {"content": "x"}, fin("stop")],
        id="a-delta-with-nothing-opens-an-item",
    ),
    pytest.param(
        [
            bare("response.output_item.added", item={"type": "message", "content": []}),
            bare("response.output_text.delta", delta="one"),
            bare("response.output_item.added", item={"type": "message", "content": []}),
            bare("response.output_text.delta", delta="two"),
            completed(),
        ],
        [ROLE_TEXT, {"content": "one"}, {"content": "\n\ntwo"}, fin("stop")],
        id="each-added-item-is-new",
    ),
]


@pytest.mark.parametrize(("events", "expected"), INDEXLESS)
def test_events_without_output_index(events: list[Event], expected: list[Any]) -> None:
    chunks = run(events)
    got = [(c["choices"][0]["delta"], c["choices"][0]["finish_reason"]) for c in chunks]
    assert got == [expected_chunk(spec) for spec in expected]
    sdk_accumulate(chunks)


# -- rule 8: two message items -------------------------------------------------------------------

COMMENTARY = {**message(), "id": "msg_c", "phase": "commentary"}
FINAL = {**message(), "id": "msg_f", "phase": "final_answer"}
TWO_MESSAGES = [
    added(0, COMMENTARY),
    text(0, "Looking."),
    done(0, {**COMMENTARY, **message("Looking."), "id": "msg_c"}),
    added(1, FINAL),
    text(1, "Done."),
    done(1, {**FINAL, **message("Done."), "id": "msg_f"}),
    completed(),
]


def test_two_message_items_are_separated_by_a_blank_line() -> None:
    chunks = run(TWO_MESSAGES)
    assert deltas(chunks)[1:3] == [{"content": "Looking."}, {"content": "\n\nDone."}]
    assert sdk_accumulate(chunks).choices[0].message.content == "Looking.\n\nDone."
    # Only in output_item.done (the Codex backend), and backfilled from response.completed.
    only_done = [done(0, message("Looking.")), done(1, message("Done.")), completed()]
    assert sdk_accumulate(run(only_done)).choices[0].message.content == "Looking.\n\nDone."
    backfill = [completed([message("Looking."), message("Done.")])]
    assert sdk_accumulate(run(backfill)).choices[0].message.content == "Looking.\n\nDone."


# -- stop sequences --------------------------------------------------------------------------


def stopped_run(
    deltas_in: list[str], stop: tuple[str, ...], *, tail: list[Event] | None = None
) -> tuple[list[dict[str, Any]], StreamTranslator]:
    t = translator(stop=stop)
    out: list[dict[str, Any]] = []
    events = [text(0, d) for d in deltas_in] + (tail if tail is not None else [completed()])
    for event in events:
        out += t.feed(event)  # after a stop, only the terminal event counts (rule 6)
    out += t.finish()
    return [dict(c) for c in out], t


# text deltas, stop sequences → (content deltas sent, finish reason, stopped)
STOPS = [
    pytest.param(["Hello END more"], ("END",), ["Hello "], "stop", True, id="in-one-delta"),
    pytest.param(["Hello E", "ND more"], ("END",), ["Hello ", ""], "stop", True, id="split"),
    pytest.param(["Hel", "lo E", "N", "D"], ("END",), ["Hel", "lo ", "", ""], "stop", True, id="3"),
    pytest.param(["ab", "c"], ("xyz",), ["ab", "c"], "stop", False, id="no-match-no-hold"),
    pytest.param(["abE", "x"], ("END",), ["ab", "Ex"], "stop", False, id="held-then-released"),
    pytest.param(["abE"], ("END",), ["ab", "E"], "stop", False, id="held-until-completed"),
    pytest.param(["END"], ("END",), [], "stop", True, id="at-the-start"),
    pytest.param(["a\nb"], ("\n", "b"), ["a"], "stop", True, id="first-of-several"),
    pytest.param(["xx3"], ("3", "xx"), [], "stop", True, id="earliest-position-wins"),
    pytest.param(["a", "b"], ("",), ["a", "b"], "stop", False, id="empty-stops-nothing"),
]


@pytest.mark.parametrize(("pieces", "stop", "sent", "reason", "stopped"), STOPS)
def test_stop_sequences(
    pieces: list[str], stop: tuple[str, ...], sent: list[str], reason: str, stopped: bool
) -> None:
    chunks, t = stopped_run(pieces, stop)
    contents = [d["content"] for d in deltas(chunks) if d.get("content") and "role" not in d]
    assert contents == [s for s in sent if s]
    assert chunks[-1]["choices"][0]["finish_reason"] == reason
    assert (t.stopped, t.done, t.finish_reason) == (stopped, True, reason)
    assert sum(1 for c in chunks if c["choices"][0]["finish_reason"]) == 1
    check_invariants(chunks, include_usage=False)
    sdk_accumulate(chunks)


@given(st.lists(st.text(alphabet="abE ND", max_size=6), max_size=8))
@settings(max_examples=200, deadline=None)
def test_stop_gives_the_same_text_for_any_split(pieces: list[str]) -> None:
    whole = "".join(pieces)
    chunks, t = stopped_run(pieces, ("END", "DD"))
    content = "".join(d.get("content") or "" for d in deltas(chunks))
    cuts = [i for s in ("END", "DD") if (i := whole.find(s)) >= 0]
    assert content == (whole[: min(cuts)] if cuts else whole)
    assert t.stopped is bool(cuts)


def test_held_text_is_released_before_other_output() -> None:
    events = [
        text(0, "ok E"),
        added(1, call("c1", "f")),
        done(1, call("c1", "f", "{}")),
        completed(),
    ]
    t = translator(stop=("END",))
    out = [c for event in events for c in t.feed(event)]
    assert deltas(out)[1:3] == [{"content": "ok "}, {"content": "E"}]
    assert "tool_calls" in deltas(out)[3]


def test_stop_applies_to_answer_text_only() -> None:
    events = [summary(0, 0, "END"), text(1, "fine"), completed()]
    chunks, t = stopped_run([], ("END",), tail=events)
    assert not t.stopped
    assert sdk_accumulate(chunks).choices[0].message.content == "fine"


def test_after_a_stop_only_the_terminal_events_usage_comes() -> None:
    """Rule 6: the text ends at the stop; the usage chunk still comes, from the terminal event."""
    t = translator(stop=("END",), include_usage=True)
    usage = {"input_tokens": 5, "output_tokens": 7, "total_tokens": 12}
    chunks = [c for e in (text(0, "a END b"), text(0, "more")) for c in t.feed(e)]
    assert t.stopped and not t.done
    assert "".join(d.get("content") or "" for d in deltas(chunks)) == "a "
    tail = t.feed(completed(usage=usage))
    assert (
        t.done and tail == [{**tail[0], "choices": []}] and tail[0]["usage"]["total_tokens"] == 12
    )
    assert t.finish() == []


@pytest.mark.parametrize("ending", ["nothing", "an error event", "response.failed"])
def test_after_a_stop_an_end_without_usage_is_no_error(ending: str) -> None:
    t = translator(stop=("END",), include_usage=True)
    t.feed(text(0, "a END"))
    if ending == "an error event":
        assert t.feed({"type": "error", "code": "server_error", "message": "x"}) == []
    elif ending == "response.failed":
        assert t.feed({"type": "response.failed", "response": {"status": "failed"}}) == []
    assert t.finish() == [] and t.usage is None and t.finish_reason == "stop"


def test_stop_in_backfilled_text_ends_once_with_usage() -> None:
    t = translator(stop=("END",), include_usage=True)
    usage = {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3}
    chunks = t.feed(completed([message("a END b")], usage=usage))
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "stop"
    assert sum(1 for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]) == 1
    assert chunks[-1]["choices"] == [] and t.stopped and t.usage is not None


# -- rule 9: custom tool calls and the legacy function_call shape ------------------------------

GRAMMAR_INPUT = "SELECT 1;\n-- 'quoted' {not json}"


def custom_call(call_id: str, name: str, text_in: str = "") -> dict[str, Any]:
    return {
        "type": "custom_tool_call",
        "id": "ctc_" + call_id,
        "call_id": call_id,
        "name": name,
        "input": text_in,
    }


CUSTOM_EVENTS = [
    added(0, custom_call("c1", "sql")),
    ev("response.custom_tool_call_input.delta", output_index=0, delta="SELECT 1;"),
    ev("response.custom_tool_call_input.delta", output_index=0, delta=GRAMMAR_INPUT[9:]),
    done(0, custom_call("c1", "sql", GRAMMAR_INPUT)),
    completed(),
]


def test_a_custom_call_streams_as_a_function_delta_the_sdk_accepts() -> None:
    t = translator()
    chunks = [c for e in CUSTOM_EVENTS for c in t.feed(e)]
    assert deltas(chunks)[0]["tool_calls"] == [tool_head(0, "c1", "sql")]
    assert t.custom_calls == frozenset({0})
    custom_tool = {"type": "custom", "custom": {"name": "sql", "format": {"type": "text"}}}
    wire = b"".join(encode_data(json.dumps(c)) for c in chunks) + DONE
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState(input_tools=[custom_tool])
    for sse in SDKDecoder().iter_bytes(iter([wire])):
        if sse.data != "[DONE]":
            state.handle_chunk(ChatCompletionChunk.model_validate(json.loads(sse.data)))
    calls = state.get_final_completion().choices[0].message.tool_calls
    assert calls is not None and calls[0].type == "function"
    assert (calls[0].id, calls[0].function.name, calls[0].function.arguments) == (
        "c1",
        "sql",
        GRAMMAR_INPUT,
    )


LEGACY = [
    added(0, call("c1", "get_weather")),
    args(0, '{"city":'),
    args(0, '"Oslo"}'),
    done(0, call("c1", "get_weather", '{"city":"Oslo"}')),
    added(1, call("c2", "second")),  # the legacy shape holds one call: left out
    done(1, call("c2", "second", "{}")),
    completed(),
]


def test_legacy_functions_answer_with_function_call_deltas() -> None:
    t = translator(legacy_functions=True)
    chunks = [c for e in LEGACY for c in t.feed(e)]
    assert [
        (d, c["choices"][0]["finish_reason"]) for c, d in zip(chunks, deltas(chunks), strict=True)
    ] == [
        (
            {
                "role": "assistant",
                "content": None,
                "function_call": {"name": "get_weather", "arguments": ""},
            },
            None,
        ),
        ({"function_call": {"arguments": '{"city":'}}, None),
        ({"function_call": {"arguments": '"Oslo"}'}}, None),
        ({}, "function_call"),
    ]
    message = sdk_accumulate(chunks).choices[0].message
    assert message.function_call is not None and message.tool_calls is None
    assert (message.function_call.name, message.function_call.arguments) == (
        "get_weather",
        '{"city":"Oslo"}',
    )


def test_legacy_function_call_after_text() -> None:
    events = [text(0, "Let me check."), done(1, call("c1", "f", "{}")), completed()]
    chunks = run(events, legacy_functions=True)
    assert deltas(chunks)[2] == {"function_call": {"name": "f", "arguments": "{}"}}
    assert chunks[-1]["choices"][0]["finish_reason"] == "function_call"


@pytest.mark.parametrize("name", ["text_reasoning", "parallel_tools", "refusal"])
def test_a_translator_is_freed_by_reference_counting(name: str) -> None:
    """No reference cycle: under load the collector would otherwise walk every finished
    translator (its items, writer and handlers) before freeing it."""
    t = translator(include_usage=True)
    for event in load(name):
        t.feed(event)
    t.finish()
    gone = weakref.ref(t)
    gc.disable()
    try:
        del t
        assert gone() is None
    finally:
        gc.enable()


# --- sequential-cutoff summaries: the text only in reasoning_summary_text.done (rule 10) ---------


def summary_done(index: int, part: int, text: str) -> Event:
    return ev(
        "response.reasoning_summary_text.done", output_index=index, summary_index=part, text=text
    )


def reasoning_of(chunks: list[dict[str, Any]]) -> str:
    return "".join(d.get("reasoning_content") or "" for d in deltas(chunks))


def test_a_summary_that_comes_only_whole_becomes_reasoning_content() -> None:
    events = [
        ev("response.output_item.added", output_index=0, item=reasoning()),
        summary_done(0, 0, "**First** section"),
        summary_done(0, 1, "Second section"),
        ev("response.output_item.done", output_index=0, item=reasoning("**First** section", "x")),
        completed(),
    ]
    chunks = run(events)
    assert reasoning_of(chunks) == "**First** section\n\nSecond section"  # item.done adds nothing
    check_invariants(chunks, include_usage=False)


def test_a_summary_whose_deltas_came_is_not_sent_twice() -> None:
    events = [
        ev("response.output_item.added", output_index=0, item=reasoning()),
        summary(0, 0, "Stre"),
        summary(0, 0, "amed"),
        summary_done(0, 0, "Streamed"),
        summary_done(0, 1, "Cut off"),  # the next part came whole
        completed(),
    ]
    assert reasoning_of(run(events)) == "Streamed\n\nCut off"


@pytest.mark.parametrize("mode", [ReasoningMode.NONE])
def test_a_whole_summary_respects_the_reasoning_mode(mode: ReasoningMode) -> None:
    events = [summary_done(0, 0, "hidden"), completed()]
    assert reasoning_of(run(events, reasoning=mode)) == ""


def test_a_whole_summary_in_think_mode_goes_in_the_content() -> None:
    events = [summary_done(0, 0, "pondering"), completed()]
    content = "".join(
        d.get("content") or "" for d in deltas(run(events, reasoning=ReasoningMode.THINK))
    )
    assert "pondering" in content


@pytest.mark.parametrize(
    "event",
    [
        {"type": "codex.rate_limits", "rate_limits": {"primary": {"used_percent": 1}}},
        {"type": "response.metadata", "metadata": {"type": "safety_buffering"}},
    ],
)
def test_vendor_events_are_never_answer_text(event: Event) -> None:
    t = translator()
    assert t.feed(event) == [] and not t.started
