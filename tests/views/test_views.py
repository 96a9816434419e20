"""views: literal chat streams and requests, emulator-made Responses transcripts (SSE and
WebSocket), the bounds, and property tests that no input makes a view raise."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chat2responses import views
from chat2responses.emulator.scenarios import play
from chat2responses.emulator.steps import Emit
from chat2responses.protocol.events import EventType
from chat2responses.protocol.sse import DONE, encode_data, encode_event
from chat2responses.protocol.wire import ReasoningMode
from chat2responses.response.chunks import ChunkContext
from chat2responses.response.translate import StreamTranslator


def chat_sse(*chunks: dict[str, Any] | str, done: bool = True) -> bytes:
    body = b"".join(encode_data(c if isinstance(c, str) else json.dumps(c)) for c in chunks)
    return body + (DONE if done else b"")


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-5.5",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        **extra,
    }


@cache
def _emulated(scenario: str) -> str:
    body = {
        "model": "gpt-5.5",
        "input": [{"role": "user", "content": f"[scenario:{scenario}]"}],
        "tools": [],
    }
    steps = play(body, response_id="resp_x", created_at=1)
    return json.dumps([step.event for step in steps if isinstance(step, Emit)])


def emulated(scenario: str) -> list[dict[str, Any]]:
    """The events the emulator emits for `scenario` (a fresh copy each call)."""
    events: list[dict[str, Any]] = json.loads(_emulated(scenario))
    return events


def responses_sse(events: list[dict[str, Any]]) -> bytes:
    return b"".join(encode_event(e["type"], json.dumps(e)) for e in events)


def usage_of(events: list[dict[str, Any]]) -> dict[str, Any]:
    usage: dict[str, Any] = events[-1]["response"]["usage"]
    return usage


# -- chat stream -------------------------------------------------------------------------------

USAGE = {
    "prompt_tokens": 12,
    "completion_tokens": 30,
    "total_tokens": 42,
    "prompt_tokens_details": {"cached_tokens": 4},
    "completion_tokens_details": {"reasoning_tokens": 10},
}
REASONING_AND_TEXT = chat_sse(
    chunk({"role": "assistant", "reasoning_content": "Let me think"}),
    chunk({"reasoning_content": " about Paris."}),
    chunk({"content": "Paris is "}),
    chunk({"content": "the capital."}),
    chunk({}, "stop"),
    {**chunk({}), "choices": [], "usage": USAGE},
)


def test_chat_stream_with_reasoning_text_and_usage() -> None:
    text = views.render_chat_stream(REASONING_AND_TEXT)
    assert text == "\n".join(
        [
            "id chatcmpl-1 · model gpt-5.5 · 6 chunks",
            "── reasoning ──",
            "Let me think about Paris.",
            "── content ──",
            "Paris is the capital.",
            "finish_reason: stop",
            "usage: prompt 12 (cached 4) · completion 30 (reasoning 10) · total 42",
            "[DONE] received",
        ]
    )


def call_delta(index: int, *, arguments: str, name: str = "", call_id: str = "") -> dict[str, Any]:
    delta: dict[str, Any] = {"index": index, "function": {"arguments": arguments}}
    if name:
        delta |= {"id": call_id, "type": "function"}
        delta["function"]["name"] = name
    return {"tool_calls": [delta]}


def test_chat_stream_with_parallel_tool_calls() -> None:
    body = chat_sse(
        chunk(
            {
                "role": "assistant",
                "content": None,
                **call_delta(0, arguments="", name="get_weather", call_id="call_abc"),
            }
        ),
        chunk(call_delta(0, arguments='{"city": ')),
        chunk(call_delta(1, arguments='{"tz":', name="get_time", call_id="call_def")),
        chunk(call_delta(0, arguments='"Paris"}')),
        chunk(call_delta(1, arguments=' "CET"}')),
        chunk(call_delta(2, arguments="{not json", name="broken", call_id="call_x")),
        chunk({}, "tool_calls"),
    )
    text = views.render_chat_stream(body)
    assert '── tool call 0: get_weather (call_abc) ──\n{\n  "city": "Paris"\n}' in text
    assert '── tool call 1: get_time (call_def) ──\n{\n  "tz": "CET"\n}' in text
    assert "── tool call 2: broken (call_x) ──\n{not json\n" in text
    assert "── content ──" not in text
    assert "finish_reason: tool_calls" in text


def test_chat_stream_with_an_error_chunk() -> None:
    error = {"message": "upstream broke", "type": "upstream_error", "param": None, "code": "e1"}
    body = chat_sse(chunk({"role": "assistant", "content": "Hel"}), {"error": error})
    text = views.render_chat_stream(body)
    assert "Hel" in text
    assert "error: upstream broke (upstream_error, e1)" in text
    assert text.endswith("[DONE] received")


def test_chat_stream_without_done_and_cut_mid_event() -> None:
    body = chat_sse(chunk({"content": "partial"}), done=False) + b'data: {"id": "chatc'
    text = views.render_chat_stream(body)
    assert "── content ──\npartial" in text
    assert '1 payloads not chat chunks, first: {"id": "chatc' in text
    assert text.endswith("stream ended without [DONE]")


def test_chat_stream_think_tags_are_shown_as_sent() -> None:
    body = chat_sse(chunk({"content": "<think>hmm</think>"}), chunk({"content": "Answer"}))
    assert "── content ──\n<think>hmm</think>Answer" in views.render_chat_stream(body)


def test_chat_stream_with_several_choices_and_a_refusal() -> None:
    first = chunk({"content": "A"})
    second = {**chunk({}), "choices": [{"index": 1, "delta": {"refusal": "No."}}]}
    text = views.render_chat_stream(chat_sse(first, second))
    assert "══ choice 0 ══\n── content ──\nA\n══ choice 1 ══\n── refusal ──\nNo." in text


def test_chat_stream_made_by_the_translator_from_emulated_tool_calls() -> None:
    ctx = ChunkContext("chatcmpl-t", 1, "gpt-5.5", ReasoningMode.REASONING_CONTENT)
    translator = StreamTranslator(ctx, include_usage=True)
    events = emulated("tools")
    chunks = [c for event in events for c in translator.feed(event)]
    text = views.render_chat_stream(chat_sse(*chunks))
    assert text.startswith(f"id chatcmpl-t · model gpt-5.5 · {len(chunks)} chunks\n")
    assert "── reasoning ──\n**Reading the request**" in text
    assert '── tool call 0: get_weather (call_x01) ──\n{\n  "city": "Paris"\n}' in text
    assert '── tool call 1: get_time (call_x02) ──\n{\n  "timezone": "Europe/Paris"\n}' in text
    assert "finish_reason: tool_calls" in text
    usage = usage_of(events)
    assert f"usage: prompt {usage['input_tokens']} (cached " in text


# -- Responses events --------------------------------------------------------------------------

RESPONSES_CASES: dict[str, list[str]] = {
    "tools": [
        "response resp_x · model gpt-5.5 · completed · ",
        "── item 0: reasoning rs_x00 ──\nsummary:\n**Reading the request**\n\nThe user wrote",
        '── item 1: function_call fc_x01 ──\nget_weather (call_x01)\n{\n  "city": "Paris"\n}',
        "── item 2: function_call fc_x02 ──\nget_time (call_x02)\n{\n",
        "── end ──\ncompleted\n",
    ],
    "reasoning": [
        "**Understanding the question**\n\nThe user wants",
        "every reasoning event: part added, text deltas, text done, part done.\n\n**Deciding**",
        "── item 1: message msg_x01 ──\nHello from the emulator. You said: [scenario:reasoning]",
    ],
    "failed": [
        "response resp_x · model gpt-5.5 · failed · ",
        "── item 0: message msg_x00 [incomplete] ──\nThis answer is interrupted by a server",
        "failed: The emulator failed this response on purpose ([scenario:failed]). (server_error)",
    ],
    "codex_empty_output": [
        "── item 1: message msg_x01 ──\nHello from the emulator. You said: [scenario:codex_",
        "── end ──\ncompleted\n",
    ],
    "incomplete": ["── end ──\nincomplete: max_output_tokens\n"],
    "refusal": ["refusal:\nI'm sorry, but the emulator refuses this request."],
    "error_event": [
        "response resp_x · model gpt-5.5 · error · 3 events",
        "error: Rate limit reached (emulated). Please try again in 1s. (rate_limit_exceeded)",
    ],
}


def counted(events: list[dict[str, Any]]) -> list[str]:
    return [f"{kind} \u00d7{n}" for kind, n in Counter(e["type"] for e in events).items()]


@pytest.mark.parametrize("scenario", RESPONSES_CASES)
def test_responses_sse_body_from_the_emulator(scenario: str) -> None:
    events = emulated(scenario)
    body = responses_sse(events)
    text = views.render_responses_events(body)
    for expected in [*RESPONSES_CASES[scenario], *counted(events)]:
        assert expected in text
    assert f" · {len(events)} events\n" in text
    last = events[-1].get("response", {})
    if "usage" in last:
        usage = last["usage"]
        assert f"usage: input {usage['input_tokens']} (cached " in text
        assert f"total {usage['total_tokens']}" in text
    assert views.is_responses_events(body)
    assert not views.is_chat_stream(body)


@pytest.mark.parametrize("scenario", ["tools", "codex_empty_output", "failed"])
def test_the_websocket_transcript_reads_like_the_sse_body(scenario: str) -> None:
    events = emulated(scenario)
    texts = [json.dumps(event) for event in events]
    assert views.render_responses_events(texts) == views.render_responses_events(
        responses_sse(events)
    )


def test_a_websocket_carrying_two_responses_shows_each_with_its_request() -> None:
    create = {"type": "response.create", "model": "gpt-5.5", "input": [{}, {}], "store": False}
    second = {**create, "previous_response_id": "resp_x"}
    texts = [
        json.dumps(create),
        *map(json.dumps, emulated("tools")),
        json.dumps(second),
        *map(json.dumps, emulated("refusal")),
    ]
    text = views.render_responses_events(texts)
    first_part, _, second_part = text.partition("\n\nresponse resp_x")
    assert "→ response.create · model gpt-5.5 · 2 input items\n" in first_part
    assert "get_weather (call_x01)" in first_part
    assert "→ response.create · model gpt-5.5 · 2 input items · previous resp_x" in second_part
    assert "emulator refuses" in second_part
    assert "get_weather" not in second_part


def test_items_come_from_done_events_or_the_terminal_output_when_there_were_no_deltas() -> None:
    message = {"type": "message", "id": "msg_1", "content": [{"type": "output_text", "text": "Hi"}]}
    call = {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "f", "arguments": "[1]"}
    completed = {
        "type": EventType.COMPLETED,
        "response": {"id": "resp_1", "status": "completed", "output": [message, call]},
    }
    only_done = [{"type": EventType.OUTPUT_ITEM_DONE, "output_index": 0, "item": message}]
    text = views.render_responses_events(responses_sse([*only_done, completed]))
    assert "── item 0: message msg_1 ──\nHi\n" in text
    assert "── item 1: function_call fc_1 ──\nf (c1)\n[\n  1\n]\n" in text


def test_unknown_and_malformed_events_are_counted_not_fatal() -> None:
    texts = ["not json", "[1, 2]", json.dumps({"type": "response.future_thing", "x": 1}), "[DONE]"]
    text = views.render_responses_events(texts)
    assert "(not JSON) \u00d71 · (no type) \u00d71 · response.future_thing \u00d71" in text
    assert "[DONE] \u00d71" in text
    assert "no terminal event: the stream ended before the response did" in text
    assert "2 payloads not events, first: not json" in text


# -- sniffing ----------------------------------------------------------------------------------

SNIFF_CASES = [
    ("chat stream", REASONING_AND_TEXT, True, False),
    ("chat stream, CRLF", REASONING_AND_TEXT.replace(b"\n", b"\r\n"), True, False),
    ("chat chunk without object", chat_sse({"choices": []}), True, False),
    ("Responses SSE", responses_sse(emulated("text")), False, True),
    ("Responses data-only", encode_data('{"type": "response.created"}'), False, True),
    ("Responses error event", encode_data('{"type": "error", "message": "x"}'), False, True),
    (
        "first event cut by the window",
        b'data: {"type": "response.x", "p": "' + b"a" * 99999,
        False,
        True,
    ),
    ("chat completion JSON", b'{"object": "chat.completion", "choices": []}', False, False),
    ("only [DONE]", DONE, False, False),
    ("empty", b"", False, False),
    ("binary", bytes(range(256)), False, False),
    ("other SSE", encode_event("message_start", '{"type": "message_start"}'), False, False),
]


@pytest.mark.parametrize(
    ("body", "chat", "responses"),
    [case[1:] for case in SNIFF_CASES],
    ids=[case[0] for case in SNIFF_CASES],
)
def test_sniffers(body: bytes, chat: bool, responses: bool) -> None:
    assert views.is_chat_stream(body) is chat
    assert views.is_responses_events(body) is responses


# -- chat request ------------------------------------------------------------------------------


def test_chat_request_summary() -> None:
    body = {
        "model": "gpt-5.5",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_abc",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_abc", "content": "18C"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {"name": "get_weather", "description": "Weather.\nMore."},
            }
        ],
    }
    text = views.render_chat_request(json.dumps(body).encode())
    assert text == "\n".join(
        [
            "chat request · model gpt-5.5 · stream · 4 messages · 1 tool",
            'params: stream_options={"include_usage": true}',
            "── system ──",
            "Be brief.",
            "── user ──",
            "What is this?\n[image https://x.test/a.png]",
            "── assistant ──",
            "",
            '→ tool call get_weather (call_abc): {"city":"Paris"}',
            "── tool (call_abc) ──",
            "18C",
            "── tools ──",
            "get_weather (function) — Weather.",
        ]
    )


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[]", b'{"model": "gpt-5.5", "input": "hi"}', b'{"messages": 3}', b"\xff"],
)
def test_chat_request_returns_none_for_other_bodies(body: bytes) -> None:
    assert views.render_chat_request(body) is None


# -- bounds ------------------------------------------------------------------------------------


def test_an_event_over_the_decoder_limit_stops_decoding_but_keeps_what_came_before() -> None:
    huge = b"data: " + b"x" * (views.MAX_EVENT_BYTES + 10) + b"\n\n"
    text = views.render_chat_stream(chat_sse(chunk({"content": "kept"}), done=False) + huge + DONE)
    assert "── content ──\nkept" in text
    assert "SSE decoding stopped: upstream SSE event exceeds" in text
    assert views.is_chat_stream(huge) is False


def test_only_the_first_max_input_bytes_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(views.reading, "MAX_INPUT_BYTES", 300)
    body = chat_sse(*(chunk({"content": f"<{i}>"}) for i in range(10)))
    text = views.render_chat_stream(body)
    assert f"only the first 300 of {len(body)} bytes are shown" in text
    assert "<0>" in text
    assert "<9>" not in text
    texts = [json.dumps(event) for event in emulated("tools")]
    assert "only the first 0 of " in views.render_responses_events(texts)


def test_long_texts_are_clipped_and_the_view_is_capped() -> None:
    long_text = chat_sse(chunk({"content": "y" * (views.MAX_BLOCK_CHARS + 5)}), chunk({}, "stop"))
    text = views.render_chat_stream(long_text)
    assert "\n… 5 more characters not shown\nfinish_reason: stop" in text

    calls = [
        chunk(call_delta(i, arguments="z" * views.MAX_BLOCK_CHARS, name="f", call_id=f"c{i}"))
        for i in range(8)
    ]
    text = views.render_chat_stream(chat_sse(*calls))
    assert len(text) <= views.MAX_OUTPUT_CHARS + 100
    assert text.endswith(f"… truncated: the view is capped at {views.MAX_OUTPUT_CHARS} characters")


def test_values_nested_too_deeply_for_the_json_module_render() -> None:
    deep = json.loads("[" * 900 + "]" * 900)
    events: list[Any] = [
        {"type": EventType.OUTPUT_ITEM_DONE, "output_index": 0, "item": {"type": "x", "v": deep}},
        {
            "type": EventType.FUNCTION_CALL_ARGUMENTS_DELTA,
            "output_index": 1,
            "delta": json.dumps(deep),
        },
        {"type": EventType.FAILED, "response": {"status": "failed", "error": deep}},
        {"type": EventType.REASONING_SUMMARY_TEXT_DELTA, "output_index": 2, "summary_index": deep},
    ]
    texts = [json.dumps(event) for event in events] + ["[" * 100_000]
    text = views.render_responses_events(texts)
    assert "── item 1: ? ──\n[\n  [\n    [" in text
    assert "(not JSON) \u00d71" in text
    check_all(b"".join(encode_data(text) for text in texts))
    check_all(chat_sse({"error": deep}, chunk(call_delta(0, arguments=json.dumps(deep)))))


def test_lone_surrogates_and_invalid_utf8_render_as_text() -> None:
    body = b'data: {"choices": [{"delta": {"content": "a\\ud800b\xff"}}]}\n\n'
    text = views.render_chat_stream(body)
    text.encode("utf-8")  # encodable
    assert "── content ──\na?b\ufffd" in text


# -- robustness --------------------------------------------------------------------------------

# The fields the views read, so that generated structures reach their deep paths.
_FIELDS = """type id model status response output output_index item_id item delta text arguments
    input name call_id summary content summary_index content_index usage error message code
    incomplete_details choices index finish_reason tool_calls function refusal role
    reasoning_content messages tools image_url url input_tokens prompt_tokens
    prompt_tokens_details cached_tokens status_code"""
KEYS = st.sampled_from(_FIELDS.split())
TYPES = st.sampled_from([*EventType, "response.create", "message", "output_text", "x"])
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | TYPES
)
JSONISH = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(KEYS | st.text(max_size=4), inner, max_size=5)
    ),
    max_leaves=15,
)
EVENTS = st.builds(
    lambda fields, kind: {**fields, "type": kind},
    st.dictionaries(KEYS, JSONISH, max_size=5),
    TYPES | SCALARS,
)
PAYLOADS = st.lists(
    EVENTS.map(json.dumps) | JSONISH.map(json.dumps) | st.text(max_size=30) | st.just("[DONE]"),
    max_size=8,
)


def check_all(data: bytes) -> None:
    for sniff in (views.is_chat_stream, views.is_responses_events):
        assert isinstance(sniff(data), bool)
    for render in (views.render_chat_stream, views.render_responses_events):
        assert isinstance(render(data), str)
    assert isinstance(views.render_chat_request(data), str | None)


@settings(max_examples=150)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    check_all(data)


@settings(max_examples=100)
@given(PAYLOADS, st.data())
def test_arbitrary_event_structures_never_raise(payloads: list[str], data: st.DataObject) -> None:
    body = b"".join(encode_data(payload) for payload in payloads)
    check_all(body)
    check_all(body[: data.draw(st.integers(0, len(body)))])  # cut anywhere
    assert isinstance(views.render_responses_events(payloads), str)


@settings(max_examples=100)
@given(st.dictionaries(KEYS, JSONISH, max_size=6), st.lists(JSONISH, max_size=4))
def test_arbitrary_chat_requests_never_raise(body: dict[str, Any], messages: list[Any]) -> None:
    text = views.render_chat_request(json.dumps({**body, "messages": messages}).encode())
    assert isinstance(text, str)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict | list):
        for key, child in value.items() if isinstance(value, dict) else enumerate(value):
            yield from paths(child, (*prefix, key))


def replace_at(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = replace_at(value[path[0]], path[1:], new)
    return copy


SCENARIOS = ["tools", "reasoning", "failed", "codex_empty_output", "refusal", "error_event"]


@settings(max_examples=80)
@given(st.sampled_from(SCENARIOS), st.data())
def test_realistic_events_with_any_field_replaced_never_raise(
    scenario: str, data: st.DataObject
) -> None:
    events: list[Any] = emulated(scenario)
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(events) - 1))
        path = data.draw(st.sampled_from(list(paths(events[index]))))
        events[index] = replace_at(events[index], path, data.draw(JSONISH))
    texts = [json.dumps(event) for event in events]
    assert isinstance(views.render_responses_events(texts), str)
    check_all(b"".join(encode_data(text) for text in texts))
