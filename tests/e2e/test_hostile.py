"""End to end against a hostile upstream: every fault reaches the client as an OpenAI error.

A real mitmdump with the addon sits in front of `tests/hostile_upstream.py`, one per route
(`responses_transport=http` and `=websocket`, `responses_idle_timeout=2`), plus one per route in
front of a port that refuses connections (mitmproxy's default eager `connection_strategy`, so
that one also proves an unreachable reverse target still gets an OpenAI 502). Each fault is
driven with a streaming and a non-streaming client speaking raw HTTP/1.1 (so a cut stream is
seen as one), and for some with the openai SDK. A fault before any output must be an OpenAI error
body with a fitting status; once output began on a stream, the content so far, then exactly one
`data: {"error": …}` chunk and no `[DONE]`. Every call ends in bounded time, and the proxy still
serves a normal request after each. The cases run in parallel (the stalls dominate: ~2 s each).

The second half checks what the glue refuses before anything goes upstream: other methods on
the chat path, encoded bodies (decoded and served), lone surrogates, absurd nesting, `1e999`.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import json
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import brotli
import openai
import pytest
from backports import zstd
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from tests.hostile_upstream import (
    ANSWER_DELTAS,
    PARTIAL_DELTAS,
    Fault,
    HostileUpstream,
    hostile_upstream,
    marker,
    refused_port,
)
from tests.proxy_helpers import Mitmdump, run_mitmdump

IDLE_TIMEOUT = 2
BOUND = 10.0  # seconds any call may take, stalls included
MODEL = "gpt-5.5"
ANSWER = "".join(ANSWER_DELTAS)
PARTIAL = "".join(PARTIAL_DELTAS)
UNREACHABLE = "unreachable"
ROUTES = ("http", "websocket")
ERROR_KEYS = {"message", "type", "param", "code"}
DEFAULT_RETRIES = 2  # responses_retries


# ---- raw HTTP client ----------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # names lower-cased
    body: bytes
    cut: str | None  # why the body ended early (an incomplete chunked body, a reset), or None
    elapsed: float

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def show(self) -> str:
        return f"{self.status} {self.content_type} cut={self.cut} {self.body[:600]!r}"


def call(
    port: int,
    body: bytes | dict[str, Any],
    *,
    method: str = "POST",
    headers: dict[str, str] | None = None,
    timeout: float = 20.0,
) -> Answer:
    """One request to `/v1/chat/completions` through the proxy, read to its end."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    sent = {"content-type": "application/json", "authorization": "Bearer sk-test"}
    sent.update(headers or {})
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, "/v1/chat/completions", body=data or None, headers=sent)
        response = conn.getresponse()
        cut = None
        try:
            raw = response.read()
        except http.client.IncompleteRead as exc:
            raw, cut = exc.partial, f"incomplete read: {exc!r}"
        except OSError as exc:
            raw, cut = b"", repr(exc)
        got = {k.lower(): v for k, v in response.getheaders()}
        return Answer(response.status, got, raw, cut, time.monotonic() - started)
    finally:
        conn.close()


def chat(text: str, *, stream: bool, **extra: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "stream": stream,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }


# ---- what a client must see ---------------------------------------------------------------


def error_of(answer: Answer, status: int) -> dict[str, Any]:
    """The OpenAI error body of an answer that failed before its first byte."""
    assert answer.status == status, answer.show()
    assert answer.content_type.startswith("application/json"), answer.show()
    assert answer.cut is None, answer.show()
    assert b"<html" not in answer.body.lower(), answer.show()
    data = json.loads(answer.body)
    assert set(data) == {"error"}, answer.show()
    error: dict[str, Any] = data["error"]
    assert set(error) == ERROR_KEYS, answer.show()
    assert isinstance(error["message"], str) and error["message"], answer.show()
    return error


def events_of(answer: Answer) -> list[bytes]:
    """The `data:` payloads of a chat SSE answer that was not cut."""
    assert answer.status == 200, answer.show()
    assert answer.content_type.startswith("text/event-stream"), answer.show()
    assert answer.cut is None, answer.show()
    events = [e for e in answer.body.split(b"\n\n") if e.strip()]
    data = [e for e in events if not e.startswith(b":")]  # keep-alive comments are fine
    assert all(e.startswith(b"data: ") for e in data), answer.show()
    return [e.removeprefix(b"data: ") for e in data]


def text_of(chunks: list[ChatCompletionChunk]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def error_chunk_of(answer: Answer) -> dict[str, Any]:
    """The one error chunk ending a stream that failed after output began; its content so far
    must be exactly what the upstream had sent."""
    payloads = events_of(answer)
    assert b"[DONE]" not in payloads, answer.show()
    errors = [p for p in payloads if p.startswith(b'{"error"')]
    assert len(errors) == 1, answer.show()
    assert payloads[-1] == errors[0], answer.show()
    data = json.loads(payloads[-1])
    assert set(data) == {"error"}, answer.show()
    assert set(data["error"]) == ERROR_KEYS, answer.show()
    assert data["error"]["message"], answer.show()
    chunks = [ChatCompletionChunk.model_validate_json(p) for p in payloads[:-1]]
    assert text_of(chunks) == PARTIAL, answer.show()
    assert not any(c.choices[0].finish_reason for c in chunks if c.choices), answer.show()
    error: dict[str, Any] = data["error"]
    return error


def assert_answered(answer: Answer, *, stream: bool) -> None:
    """A normal answer, whole."""
    if not stream:
        assert answer.status == 200, answer.show()
        completion = ChatCompletion.model_validate_json(answer.body)
        assert completion.choices[0].message.content == ANSWER
        assert completion.choices[0].finish_reason == "stop"
        return
    payloads = events_of(answer)
    assert payloads[-1] == b"[DONE]", answer.show()
    chunks = [ChatCompletionChunk.model_validate_json(p) for p in payloads[:-1]]
    assert text_of(chunks) == ANSWER
    assert chunks[-1].choices[0].finish_reason == "stop"


# ---- fixtures -----------------------------------------------------------------------------


@contextlib.contextmanager
def started_together(
    starts: dict[str, Callable[[], contextlib.AbstractContextManager[Mitmdump]]],
) -> Iterator[dict[str, Mitmdump]]:
    """Enter several `run_mitmdump` blocks at once (each takes a second or two to start)."""
    managers = {name: start() for name, start in starts.items()}
    with contextlib.ExitStack() as stack, ThreadPoolExecutor(len(managers)) as pool:
        futures = {name: pool.submit(cm.__enter__) for name, cm in managers.items()}
        entered: dict[str, Mitmdump] = {}
        failure: BaseException | None = None
        for name, future in futures.items():
            try:
                entered[name] = future.result()
                stack.push(managers[name].__exit__)
            except BaseException as exc:
                failure = failure or exc
        if failure is not None:
            raise failure
        yield entered


@dataclass
class Setup:
    upstream: HostileUpstream
    proxies: dict[str, Mitmdump]  # "http", "websocket", "dead-http", "dead-websocket"
    dead_port: int

    def proxy(self, route: str, fault: Fault | str) -> Mitmdump:
        return self.proxies[f"dead-{route}" if fault == UNREACHABLE else route]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    with hostile_upstream() as upstream, refused_port() as dead:
        dead_origin = f"http://127.0.0.1:{dead}"

        def start(route: str, origin: str, url: str) -> Any:
            options = {
                "responses_url": url,
                "responses_rewrite": "all",
                "responses_transport": route,
                "responses_idle_timeout": str(IDLE_TIMEOUT),
            }
            confdir = tmp_path_factory.mktemp(f"mitmproxy-{route}")
            # No connection_strategy: mitmproxy's default (eager) on purpose.
            return lambda: run_mitmdump(f"reverse:{origin}", confdir, options)

        starts = {route: start(route, upstream.origin, upstream.url) for route in ROUTES}
        starts |= {f"dead-{r}": start(r, dead_origin, dead_origin + "/v1") for r in ROUTES}
        with started_together(starts) as proxies:
            yield Setup(upstream, proxies, dead)


# ---- the fault matrix, run in parallel ----------------------------------------------------

# fault → (status before the first byte, whether output has begun when it strikes)
EXPECTED: dict[Fault | str, tuple[int, bool]] = {
    Fault.GARBAGE: (502, False),
    Fault.RESET: (502, True),
    Fault.RESET_START: (502, False),
    Fault.STALL_START: (504, False),
    Fault.STALL_DELTA: (504, True),
    Fault.HUGE: (502, False),
    Fault.BINARY: (502, False),
    Fault.CLOSE_1011: (502, False),
    Fault.CLOSE_MID: (502, True),
    UNREACHABLE: (502, False),
}
WEBSOCKET_ONLY = {Fault.BINARY, Fault.CLOSE_1011, Fault.CLOSE_MID}
STALLS = {Fault.STALL_START, Fault.STALL_DELTA}
CLIENTS = ("stream", "json")
CASES = [
    (route, fault, client)
    for route in ROUTES
    for fault in [Fault.NORMAL, *EXPECTED]
    if route == "websocket" or fault not in WEBSOCKET_ONLY
    for client in CLIENTS
]
# The openai SDK as the client, for the faults whose shape matters most to it.
SDK_CASES = [
    (route, fault, stream)
    for route in ROUTES
    for fault in (Fault.GARBAGE, Fault.RESET, Fault.STALL_DELTA, Fault.STALL_START)
    for stream in (True, False)
]


@dataclass
class Outcome:
    answer: Answer
    healthy: Answer  # a normal request on the same proxy, right after


@dataclass
class SdkOutcome:
    error: BaseException | None
    text: str
    elapsed: float


def _run_case(setup: Setup, route: str, fault: Fault | str, client: str) -> Outcome:
    proxy = setup.proxy(route, fault)
    stream = client == "stream"
    label = marker(fault) if isinstance(fault, Fault) else ""
    text = f"{label} case {route} {client} {uuid.uuid4().hex}"
    answer = call(proxy.port, chat(text, stream=stream))
    healthy = call(proxy.port, chat(f"still there? {uuid.uuid4().hex}", stream=False))
    return Outcome(answer, healthy)


def _run_sdk(setup: Setup, route: str, fault: Fault, stream: bool) -> SdkOutcome:
    client = openai.OpenAI(
        base_url=setup.proxies[route].base_url, api_key="sk-test", max_retries=0, timeout=20
    )
    started, text = time.monotonic(), ""
    messages: Any = [{"role": "user", "content": f"{marker(fault)} sdk {uuid.uuid4().hex}"}]
    try:
        if stream:
            with client.chat.completions.create(
                model=MODEL, messages=messages, stream=True
            ) as chunks:
                for chunk in chunks:
                    text += text_of([chunk])
        else:
            client.chat.completions.create(model=MODEL, messages=messages)
    except Exception as exc:
        return SdkOutcome(exc, text, time.monotonic() - started)
    finally:
        client.close()
    return SdkOutcome(None, text, time.monotonic() - started)


@pytest.fixture(scope="module")
def outcomes(setup: Setup) -> dict[tuple[str, Fault | str, str], Outcome]:
    # Two batches: the 20 MB answers load the upstream's event loop and the proxies enough to
    # delay the others' timed faults (a close 0.3 s after a delta must not look like a stall).
    results: dict[tuple[str, Fault | str, str], Outcome] = {}
    for batch in (
        [c for c in CASES if c[1] is not Fault.HUGE],
        [c for c in CASES if c[1] is Fault.HUGE],
    ):
        with ThreadPoolExecutor(len(batch)) as pool:
            futures = {case: pool.submit(_run_case, setup, *case) for case in batch}
            results |= {case: future.result() for case, future in futures.items()}
    return results


@pytest.fixture(scope="module")
def sdk_outcomes(
    setup: Setup, outcomes: dict[tuple[str, Fault | str, str], Outcome]
) -> dict[tuple[str, Fault, bool], SdkOutcome]:
    with ThreadPoolExecutor(len(SDK_CASES)) as pool:
        futures = {case: pool.submit(_run_sdk, setup, *case) for case in SDK_CASES}
        return {case: future.result() for case, future in futures.items()}


def _case_id(case: tuple[Any, ...]) -> str:
    return "-".join(str(part) for part in case)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_each_fault_reaches_the_client_as_an_openai_error(
    outcomes: dict[tuple[str, Fault | str, str], Outcome],
    case: tuple[str, Fault | str, str],
) -> None:
    _, fault, client = case
    outcome = outcomes[case]
    answer, stream = outcome.answer, client == "stream"
    assert answer.elapsed < BOUND, answer.show()
    if fault is Fault.NORMAL:
        assert_answered(answer, stream=stream)
    else:
        status, begun = EXPECTED[fault]
        error = error_chunk_of(answer) if stream and begun else error_of(answer, status)
        if fault in STALLS:
            assert "stalled" in error["message"], error
            assert answer.elapsed >= IDLE_TIMEOUT - 0.2, answer.show()
    # The proxy is still there and serving.
    if fault == UNREACHABLE:
        error_of(outcome.healthy, 502)
    else:
        assert_answered(outcome.healthy, stream=False)


@pytest.mark.parametrize("case", SDK_CASES, ids=_case_id)
def test_the_sdk_sees_an_api_error_never_a_cut_connection(
    sdk_outcomes: dict[tuple[str, Fault, bool], SdkOutcome], case: tuple[str, Fault, bool]
) -> None:
    _, fault, stream = case
    outcome = sdk_outcomes[case]
    assert outcome.elapsed < BOUND
    error = outcome.error
    assert isinstance(error, openai.APIError), repr(error)
    assert not isinstance(error, openai.APIConnectionError), repr(error)
    status, begun = EXPECTED[fault]
    if stream and begun:
        assert outcome.text == PARTIAL
    else:
        assert isinstance(error, openai.APIStatusError), repr(error)
        assert error.status_code == status
    if fault in STALLS:
        assert "stalled" in error.message


def test_each_fault_went_upstream_on_its_own_transport_a_bounded_number_of_times(
    setup: Setup, outcomes: dict[tuple[str, Fault | str, str], Outcome]
) -> None:
    # A forced transport is never switched; a failure before any output may be retried
    # (responses_retries, default 2) but not more.
    for route, fault, client in CASES:
        if fault == UNREACHABLE:
            continue
        calls = setup.upstream.containing(f"case {route} {client} ")
        calls = [r for r in calls if marker(Fault(fault)) in r.body]
        assert 1 <= len(calls) <= 1 + DEFAULT_RETRIES, (route, fault, client, len(calls))
        assert {r.transport for r in calls} == {route}, (route, fault, client)
        if fault is Fault.NORMAL or (client == "stream" and EXPECTED[fault][1]):
            assert len(calls) == 1, (route, fault, client)  # output began: never retried
        elif fault is Fault.RESET_START:  # a connection cut before any output: retried, both routes
            assert len(calls) == 1 + DEFAULT_RETRIES, (route, fault, client, len(calls))


def test_an_eager_connection_to_a_dead_reverse_target_still_gets_an_openai_502(
    setup: Setup,
) -> None:
    # `dead-http` runs `--mode reverse:http://127.0.0.1:<dead port>` with the default
    # connection_strategy (eager): mitmproxy connects before reading the request.
    proxy = setup.proxies["dead-http"]
    for stream in (False, True):
        try:
            answer = call(proxy.port, chat("hello", stream=stream))
        except (ConnectionError, http.client.RemoteDisconnected) as exc:
            pytest.fail(f"the connection was dropped instead of answered: {exc!r}")
        error = error_of(answer, 502)
        assert "127.0.0.1" in error["message"], error  # it names the upstream it could not reach


# ---- what the glue refuses before anything goes upstream ----------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_other_methods_on_the_chat_path_are_405(setup: Setup, method: str) -> None:
    body = b"" if method in ("GET", "DELETE") else json.dumps(chat("x", stream=False)).encode()
    answer = call(setup.proxies["http"].port, body, method=method)
    error_of(answer, 405)
    assert answer.headers.get("allow") == "POST", answer.headers


def _deflate(data: bytes) -> bytes:
    return zlib.compress(data)


ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "deflate": _deflate,
    "br": brotli.compress,
    "zstd": zstd.compress,
}


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("encoding", list(ENCODERS))
def test_an_encoded_request_body_is_decoded_and_answered(
    setup: Setup, route: str, encoding: str
) -> None:
    token = f"encoded-{encoding}-{uuid.uuid4().hex}"
    for stream in (False, True):
        raw = json.dumps(chat(f"{token} {stream}", stream=stream)).encode()
        answer = call(
            setup.proxies[route].port,
            ENCODERS[encoding](raw),
            headers={"content-encoding": encoding},
        )
        assert_answered(answer, stream=stream)
    received = setup.upstream.containing(token)
    assert len(received) == 2
    assert {r.transport for r in received} == {route}


@pytest.mark.parametrize("encoding", list(ENCODERS))
def test_a_compressed_body_that_inflates_past_the_limit_is_a_413(
    setup: Setup, encoding: str
) -> None:
    """A few KB that would inflate to 64 MB gets a 413 through the proxy (that it stops at the
    limit rather than inflating it whole is test_content_coding.py's)."""
    zeros = b"\0" * (64 << 20)
    bomb = brotli.compress(zeros, quality=1) if encoding == "br" else ENCODERS[encoding](zeros)
    answer = call(setup.proxies["http"].port, bomb, headers={"content-encoding": encoding})
    error_of(answer, 413)


def _with_escape(body: dict[str, Any], escape: str) -> bytes:
    """`body` as JSON, with every `@@` replaced by a raw `\\u` escape (json.dumps would refuse to
    write a lone surrogate itself)."""
    return json.dumps(body).replace("@@", escape).encode()


TOOL = {
    "type": "function",
    "function": {"name": "look@@up", "parameters": {"type": "object", "properties": {}}},
}


@pytest.mark.parametrize(
    ("content", "tools", "stream", "field"),
    [
        ("a@@b", None, False, "messages[0].content"),
        ("a@@b", None, True, "messages[0].content"),
        ("use the tool", [TOOL], False, "tools[0].function.name"),
    ],
    ids=["content", "content-stream", "tool-name"],
)
def test_a_lone_surrogate_is_a_400_naming_the_field(
    setup: Setup, content: str, tools: list[Any] | None, stream: bool, field: str
) -> None:
    token = f"surrogate-{uuid.uuid4().hex}"
    extra = {"tools": tools} if tools else {}
    body = chat(f"{token} {content}", stream=stream, **extra)
    for escape in ("\\ud800", "\\uDFFF"):
        answer = call(setup.proxies["http"].port, _with_escape(body, escape))
        error = error_of(answer, 400)
        assert field in f"{error['param']} {error['message']}", error
    assert setup.upstream.containing(token) == []


def _nested_schema(levels: int) -> str:
    """A JSON schema `levels` objects deep, as text (json.dumps itself gives up near 1000)."""
    opening = '{"type": "object", "properties": {"deeper": ' * levels
    return opening + '{"type": "string"}' + "}}" * levels


@pytest.mark.parametrize("levels", [1480, 100])
def test_a_deeply_nested_tool_schema_is_a_400_before_anything_goes_upstream(
    setup: Setup, levels: int
) -> None:
    token = f"deep-{levels}-{uuid.uuid4().hex}"
    tool = {"type": "function", "function": {"name": "deep", "parameters": "@@"}}
    for route in ROUTES:
        for stream in (False, True):
            body = json.dumps(chat(token, stream=stream, tools=[tool]))
            raw = body.replace('"@@"', _nested_schema(levels)).encode()
            answer = call(setup.proxies[route].port, raw)
            error = error_of(answer, 400)
            assert "nested" in error["message"], error
    assert setup.upstream.containing(token) == []
    assert_answered(call(setup.proxies["http"].port, chat("after", stream=True)), stream=True)


@pytest.mark.parametrize("number", ["1e999", "-1e999", "NaN", "Infinity"])
def test_a_number_json_cannot_carry_is_a_400(setup: Setup, number: str) -> None:
    token = f"number-{uuid.uuid4().hex}"
    raw = json.dumps(chat(token, stream=False, temperature=0.5)).replace("0.5", number)
    answer = call(setup.proxies["http"].port, raw.encode())
    error_of(answer, 400)
    assert setup.upstream.containing(token) == []


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("client", CLIENTS)
def test_an_upstream_error_quoting_a_lone_surrogate_is_answered(
    setup: Setup, route: str, client: str
) -> None:
    # The message goes into log lines (the retry's, the call's), and mitmproxy's console
    # refuses a lone surrogate: that once failed the call, leaving the client mitmproxy's HTML
    # 502 page or no answer at all.
    proxy = setup.proxies[route]
    text = f"{marker(Fault.SURROGATE)} {route} {client} {uuid.uuid4().hex}"
    answer = call(proxy.port, chat(text, stream=client == "stream"), timeout=BOUND * 2)
    error = error_of(answer, 500)
    assert error["message"] == "bad \\ud800 thing", answer.show()
    assert "\\ud800" in proxy.log  # logged as its escape, the call's line included


def test_the_log_has_no_traceback(setup: Setup) -> None:
    # Runs last in this file (pytest keeps definition order): by now every case above ran.
    for name, proxy in setup.proxies.items():
        assert "Traceback" not in proxy.log, (name, proxy.log[-4000:])
