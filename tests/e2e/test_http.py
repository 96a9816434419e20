"""End to end over HTTP: the openai SDK → a real mitmdump with the addon → the emulator."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from aiohttp import web
from openai.types.chat import ChatCompletionChunk

from tests.proxy_helpers import Mitmdump, run_mitmdump

GREETING = "Hello from the emulator. You said: "
TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}},
        },
    },
]


_CLIENTS: list[openai.OpenAI] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    """Every client a test made is closed when it ends (its pooled sockets with it)."""
    yield
    while _CLIENTS:
        _CLIENTS.pop().close()


def client(proxy: Mitmdump) -> openai.OpenAI:
    made = openai.OpenAI(base_url=proxy.base_url, api_key="sk-test", max_retries=0, timeout=20)
    _CLIENTS.append(made)
    return made


def ask(text: str) -> list[Any]:
    return [{"role": "system", "content": "Be brief."}, {"role": "user", "content": text}]


def stream_chunks(proxy: Mitmdump, text: str, **kwargs: Any) -> list[ChatCompletionChunk]:
    kwargs.setdefault("model", "gpt-5-codex")
    with client(proxy).chat.completions.create(messages=ask(text), stream=True, **kwargs) as stream:
        return list(stream)


def post_raw(proxy: Mitmdump, body: bytes) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        proxy.base_url + "/chat/completions",
        data=body,
        headers={"content-type": "application/json", "authorization": "Bearer sk-test"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, dict(err.headers), err.read()


def assert_well_formed(chunks: list[ChatCompletionChunk]) -> None:
    """Invariants real clients rely on: stable ids, role once, one finish reason."""
    assert chunks
    assert len({(c.id, c.created, c.model) for c in chunks}) == 1
    roles = [c.choices[0].delta.role for c in chunks if c.choices and c.choices[0].delta.role]
    assert roles == ["assistant"]
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert [f for f in finishes if f] == [finishes[-1]]


# ---- text ---------------------------------------------------------------------------------


def test_streamed_text_arrives_as_chat_chunks(proxy: Mitmdump) -> None:
    chunks = stream_chunks(proxy, "What is 2+2?")
    assert_well_formed(chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == GREETING + "What is 2+2?"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1


def test_the_sdk_stream_helper_accumulates_the_message(proxy: Mitmdump) -> None:
    with client(proxy).chat.completions.stream(
        model="gpt-5-codex", messages=ask("Hi there")
    ) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content == GREETING + "Hi there"
    assert final.choices[0].finish_reason == "stop"


def test_non_streamed_text_is_one_chat_completion(proxy: Mitmdump) -> None:
    raw = client(proxy).chat.completions.with_raw_response.create(
        model="gpt-5-codex", messages=ask("Hello")
    )
    assert raw.headers["content-type"].startswith("application/json")
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == GREETING + "Hello"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.prompt_tokens > 0


def test_reasoning_streams_as_reasoning_content(proxy: Mitmdump) -> None:
    chunks = stream_chunks(proxy, "[scenario:reasoning] think first")
    assert_well_formed(chunks)
    reasoning = "".join(
        (c.choices[0].delta.model_extra or {}).get("reasoning_content") or ""
        for c in chunks
        if c.choices
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert reasoning.strip()
    assert text.strip()
    assert reasoning not in text


def test_usage_chunk_only_when_asked(proxy: Mitmdump) -> None:
    with_usage = stream_chunks(proxy, "count", stream_options={"include_usage": True})
    last = with_usage[-1]
    assert last.choices == [] and last.usage is not None
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    assert last.usage.prompt_tokens_details is not None
    assert last.usage.completion_tokens_details is not None
    assert last.usage.completion_tokens_details.reasoning_tokens is not None
    without = stream_chunks(proxy, "count")
    assert all(c.choices for c in without)
    assert all(c.usage is None for c in without)


# ---- tools --------------------------------------------------------------------------------


def test_parallel_tool_calls_stream_with_indexes(proxy: Mitmdump) -> None:
    chunks = stream_chunks(proxy, "[scenario:tools] weather and time", tools=TOOLS)
    assert_well_formed(chunks)
    entries = [t for c in chunks if c.choices for t in c.choices[0].delta.tool_calls or []]
    firsts = [t for t in entries if t.id]
    assert [t.index for t in firsts] == [0, 1]
    assert [t.function.name for t in firsts if t.function] == ["get_weather", "get_time"]
    assert all(t.id and t.id.startswith("call_") for t in firsts)
    assert all(t.function is None or t.function.name is None for t in entries if not t.id)
    for index in (0, 1):
        args = "".join(
            t.function.arguments or "" for t in entries if t.index == index and t.function
        )
        json.loads(args)
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_parallel_tool_calls_non_streamed(proxy: Mitmdump) -> None:
    completion = client(proxy).chat.completions.create(
        model="gpt-5-codex", messages=ask("[scenario:tools] go"), tools=TOOLS
    )
    message = completion.choices[0].message
    assert message.content is None
    assert message.tool_calls is not None and len(message.tool_calls) == 2
    assert [c.function.name for c in message.tool_calls] == ["get_weather", "get_time"]  # type: ignore[union-attr]
    assert completion.choices[0].finish_reason == "tool_calls"


# ---- upstream faults ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "reason"), [("incomplete", "length"), ("content_filter", "content_filter")]
)
def test_incomplete_maps_to_its_finish_reason(proxy: Mitmdump, scenario: str, reason: str) -> None:
    chunks = stream_chunks(proxy, f"[scenario:{scenario}]")
    assert chunks[-1].choices[0].finish_reason == reason
    completion = client(proxy).chat.completions.create(
        model="gpt-5-codex", messages=ask(f"[scenario:{scenario}]")
    )
    assert completion.choices[0].finish_reason == reason


@pytest.mark.parametrize("scenario", ["failed", "error_event", "close_mid_stream"])
def test_a_failure_after_the_stream_began_is_one_error_chunk(
    proxy: Mitmdump, scenario: str
) -> None:
    with pytest.raises(openai.APIError) as caught:
        stream_chunks(proxy, f"[scenario:{scenario}]")
    assert caught.value.message
    healthy_after(proxy)


@pytest.mark.parametrize(
    ("scenario", "status"),
    [
        ("failed", 500),
        ("error_event", 429),
        ("close_mid_stream", 502),
        ("http_error:503", 503),
        ("rate_limit", 429),
    ],
)
def test_a_failure_before_the_first_byte_keeps_a_status(
    proxy: Mitmdump, scenario: str, status: int
) -> None:
    body = {"model": "gpt-5-codex", "messages": ask(f"[scenario:{scenario}]")}
    got, headers, raw = post_raw(proxy, json.dumps(body).encode())
    assert got == status, raw
    error = json.loads(raw)["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    if scenario == "rate_limit":
        assert {k.lower(): v for k, v in headers.items()}["retry-after"] == "1"
    healthy_after(proxy)


def test_an_http_error_reaches_a_streaming_client_as_a_status(proxy: Mitmdump) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        stream_chunks(proxy, "[scenario:http_error:503]")
    assert caught.value.status_code == 503


def test_a_slow_stream_still_arrives_whole(proxy: Mitmdump) -> None:
    chunks = stream_chunks(proxy, "[scenario:slow:30] take your time")
    assert_well_formed(chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_codex_empty_completed_output_still_gives_the_text(proxy: Mitmdump) -> None:
    completion = client(proxy).chat.completions.create(
        model="gpt-5-codex", messages=ask("[scenario:codex_empty_output] hi")
    )
    assert completion.choices[0].message.content


# ---- the client's mistakes ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b'{"model": "gpt-5-codex", "messages": [', None),
        (b"[1, 2]", None),
        (b'{"model": "gpt-5-codex", "messages": "hi"}', "messages"),
        (b'{"messages": [{"role": "user", "content": "hi"}]}', "model"),
        (b'{"model": "gpt-5-codex", "messages": [{"role": "wizard", "content": "x"}]}', None),
        (b'{"model": "gpt-5-codex", "n": 2, "messages": [{"role": "user", "content": "x"}]}', "n"),
    ],
)
def test_bad_requests_are_400_in_the_openai_shape(
    proxy: Mitmdump, body: bytes, param: str | None
) -> None:
    status, headers, raw = post_raw(proxy, body)
    assert status == 400, raw
    assert headers["content-type"].startswith("application/json")
    error = json.loads(raw)["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"]
    if param is not None:
        assert error["param"] == param
    healthy_after(proxy)


def test_the_sdk_sees_n_greater_than_one_as_bad_request(proxy: Mitmdump) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client(proxy).chat.completions.create(model="gpt-5-codex", messages=ask("x"), n=2)
    assert caught.value.param == "n"


@pytest.mark.parametrize("stream", [False, True])
def test_a_websocket_only_model_forced_onto_http_gets_a_clear_refusal(
    http_proxy: Mitmdump, stream: bool
) -> None:
    # The emulator, like the Codex backend, refuses gpt-5.5 over HTTP.
    body = {"model": "gpt-5.5", "stream": stream, "messages": ask("hi")}
    status, _, raw = post_raw(http_proxy, json.dumps(body).encode())
    assert status == 400
    error = json.loads(raw)["error"]
    assert "routing_unsupported" in f"{error['code']} {error['message']}"
    assert "responses_transport=http" in error["message"]
    healthy_after(http_proxy)


def healthy_after(proxy: Mitmdump) -> None:
    completion = client(proxy).chat.completions.create(
        model="gpt-5-codex", messages=ask("still there?")
    )
    assert completion.choices[0].message.content == GREETING + "still there?"


# ---- pass-through -------------------------------------------------------------------------

RECORDED_SSE = b'data: {"id":"x","object":"chat.completion.chunk","choices":[]}\n\ndata: [DONE]\n\n'


@contextlib.contextmanager
def recording_upstream() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    """A chat upstream on 127.0.0.1 that records what it receives and answers fixed SSE bytes."""
    seen: list[tuple[str, bytes]] = []
    ready = threading.Event()
    loop = asyncio.new_event_loop()
    holder: dict[str, Any] = {}

    async def chat(request: web.Request) -> web.StreamResponse:
        seen.append((request.path, await request.read()))
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        await response.write(RECORDED_SSE)
        await response.write_eof()
        return response

    async def start() -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", chat)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        holder["runner"] = runner
        holder["port"] = runner.addresses[0][1]
        ready.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop)
    assert ready.wait(10)
    try:
        yield f"http://127.0.0.1:{holder['port']}", seen
    finally:
        asyncio.run_coroutine_threadsafe(holder["runner"].cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_a_model_outside_the_catalog_passes_through_byte_for_byte(
    emulator_url: str, tmp_path: Path
) -> None:
    with (
        recording_upstream() as (upstream, seen),
        run_mitmdump(f"reverse:{upstream}", tmp_path, {"responses_url": emulator_url}) as proxy,
    ):
        raw = b'{"model":  "gpt-4o", "stream": true, "seed": 7,\n "messages": [{"role": "user"}]}'
        status, _, body = post_raw(proxy, raw)
        assert status == 200
        assert body == RECORDED_SSE
        assert seen == [("/v1/chat/completions", raw)]
        # A catalog model on the same proxy is rewritten and reaches the emulator instead.
        completion = client(proxy).chat.completions.create(model="gpt-5.5", messages=ask("yo"))
        assert completion.choices[0].message.content == GREETING + "yo"
        assert len(seen) == 1


# ---- the wire, as any client parses it ----------------------------------------------------


@pytest.mark.parametrize("model", ["gpt-5-codex", "gpt-5.5"])
@pytest.mark.parametrize("scenario", ["reasoning", "tools", "refusal", "incomplete", "failed"])
def test_every_chunk_on_the_wire_validates_against_the_sdk(
    proxy: Mitmdump, model: str, scenario: str
) -> None:
    body = {
        "model": model,
        "stream": True,
        "stream_options": {"include_usage": True},
        "tools": TOOLS,
        "messages": ask(f"[scenario:{scenario}]"),
    }
    status, headers, raw = post_raw(proxy, json.dumps(body).encode())
    assert status == 200
    assert headers["content-type"].startswith("text/event-stream")
    events = [e for e in raw.split(b"\n\n") if e]
    assert all(e.startswith(b"data: ") for e in events)
    payloads = [e.removeprefix(b"data: ") for e in events]
    if scenario == "failed":
        assert set(json.loads(payloads[-1])) == {"error"}
        payloads = payloads[:-1]
    else:
        assert payloads[-1] == b"[DONE]"
        payloads = payloads[:-1]
    chunks = [ChatCompletionChunk.model_validate_json(p) for p in payloads]
    if scenario == "failed":  # text began, then the error chunk: no finish reason at all
        assert chunks and not any(c.choices[0].finish_reason for c in chunks if c.choices)
    else:
        assert_well_formed(chunks)


def test_no_credential_reaches_any_log_line(emulator_url: str, tmp_path: Path) -> None:
    secret = "sk-SECRET-" + "7f3a9c" * 4
    codex_secret = "tok-CODEX-" + "b21e" * 6
    login = tmp_path / "auth.json"
    login.write_text(json.dumps({"tokens": {"access_token": codex_secret, "account_id": "acct"}}))
    # termlog_verbosity=debug: every level of every logger (mitmproxy's proxy_debug dumps raw
    # wire bytes, the client's own included, and is outside what an addon controls).
    base = {"responses_url": emulator_url, "responses_rewrite": "all"}
    for options in (
        base,
        {**base, "responses_auth": "codex", "responses_codex_auth_file": str(login)},
    ):
        confdir = tmp_path / str(len(options))
        origin = emulator_url.split("/backend-api", maxsplit=1)[0]
        with run_mitmdump(f"reverse:{origin}", confdir, options) as running:
            keyed = openai.OpenAI(base_url=running.base_url, api_key=secret, max_retries=0)
            for model in ("gpt-5-codex", "gpt-5.5", f"ws-only-{len(options)}"):
                for stream in (False, True):
                    keyed.chat.completions.create(model=model, messages=ask("hello"), stream=stream)
            keyed.close()
            running.wait_for_log("gpt-5.5 → gpt-5.5")
        assert secret not in running.log
        assert codex_secret not in running.log
        assert "acct" not in running.log.replace("account", "")


def test_a_responses_shaped_body_is_accepted_on_the_chat_path(proxy: Mitmdump) -> None:
    # Cursor's agent posts Responses-shaped JSON to /chat/completions and expects chat chunks.
    body = {
        "model": "gpt-5.5",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "cursor here"}]}],
        "reasoning": {"effort": "low"},
        "include": ["reasoning.encrypted_content"],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    status, _, raw = post_raw(proxy, json.dumps(body).encode())
    assert status == 200
    payloads = [e.removeprefix(b"data: ") for e in raw.split(b"\n\n") if e]
    assert payloads[-1] == b"[DONE]"
    chunks = [ChatCompletionChunk.model_validate_json(p) for p in payloads[:-1]]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == GREETING + "cursor here"
    assert chunks[-1].usage is not None
