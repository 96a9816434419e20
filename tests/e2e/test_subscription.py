"""End to end for a daily driver on a ChatGPT subscription: the login, the quota, the faults.

The openai SDK talks to a real mitmdump or mitmweb with the addon (`responses_auth=codex`), in
front of one emulator (`--require-login`, quota 42 % / 91 %). The emulator runs in a thread of
this process, wrapped so the tests can count what reached it: the token endpoint's answers,
each attempt's transport and prompt, and the 401s of tokens the test revoked.

- `login`: a mitmdump whose login file each test rewrites (an expired token, a spent refresh
  token, a revoked one).
- `web`: a mitmweb with a valid login, for the flow comments and `chat2responses.status`.
- `keepalive`: a mitmdump with `responses_keepalive=1`.

One change to the emulator's script, made here: over HTTP, `[scenario:close_1009]` plays the
normal answer. A close code 1009 (the frame was too big) only exists on the WebSocket, and the
emulator would otherwise cut the HTTP answer too, which the real backend has no reason to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import re
import secrets
import stat
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import openai
import pytest

from chat2responses.emulator import (
    Caller,
    Emulator,
    EmulatorConfig,
    Quota,
    Rejection,
    Step,
    Transport,
    Window,
    serving,
)
from chat2responses.emulator.login import LoginAuthority, TokenAnswer
from chat2responses.emulator.signing import secret_for
from chat2responses.emulator.triggers import user_text
from chat2responses.upstream.login import jwt_expiry
from tests.emulator_helpers import token_url, write_auth_json
from tests.mitmweb_helpers import Flow, Mitmweb, origin, run_mitmweb
from tests.proxy_helpers import Mitmdump, run_mitmdump

GREETING = "Hello from the emulator. You said: "
HTTP_MODEL, WS_MODEL = "gpt-5-codex", "gpt-5.5"  # the catalog's routes
ROUTES = {"http": HTTP_MODEL, "websocket": WS_MODEL}
CHAT_PATH = "/v1/chat/completions"
TEN_DAYS = 10 * 24 * 3600
RETRIES = 2  # responses_retries, the default
CLOSE_1009 = "[scenario:close_1009]"

Proxy = Mitmdump | Mitmweb
NO_CALLER = Caller()


# ---- the emulator, watched -------------------------------------------------------------------


class CountingAuthority(LoginAuthority):
    """The emulator's token endpoint, remembering the status of every answer."""

    def __init__(self, secret: bytes, *, token_ttl: int) -> None:
        super().__init__(secret, token_ttl=token_ttl)
        self.answers: list[int] = []

    def refresh(self, body: object, now: int) -> TokenAnswer:
        status, answer = super().refresh(body, now)
        self.answers.append(status)
        return status, answer


class WatchedEmulator(Emulator):
    """The emulator, noting each attempt (transport, prompt) and refusing revoked tokens."""

    def __init__(self, config: EmulatorConfig) -> None:
        super().__init__(config)
        self.tokens = CountingAuthority(secret_for(config.seed), token_ttl=config.token_ttl)
        self.login = self.tokens
        self.attempts: list[tuple[Transport, str]] = []
        self.revoked: set[str] = set()
        self.refused_revoked = 0

    def check_login(self, authorization: str | None) -> Rejection | None:
        token = (authorization or "").partition(" ")[2].strip()
        if token in self.revoked:
            self.refused_revoked += 1
            return Rejection(
                401,
                "Your authentication token has been invalidated. Please try signing in again.",
                code="token_invalidated",
            )
        return super().check_login(authorization)

    def respond(self, body: object, transport: Transport, caller: Caller = NO_CALLER) -> list[Step]:
        text = user_text(body) if isinstance(body, dict) else ""
        self.attempts.append((transport, text))
        if transport is Transport.HTTP and CLOSE_1009 in text:
            body = json.loads(json.dumps(body).replace(CLOSE_1009, "[scenario:text]"))
        return super().respond(body, transport, caller)

    def transports(self, tag: str) -> list[Transport]:
        """The transport of every attempt whose prompt holds `tag`, in order."""
        return [transport for transport, text in list(self.attempts) if tag in text]


@dataclass
class Upstream:
    emulator: WatchedEmulator
    url: str  # http://127.0.0.1:PORT/backend-api/codex

    @property
    def token_url(self) -> str:
        return token_url(self.url)

    def token_answers(self) -> list[int]:
        return list(self.emulator.tokens.answers)


@contextlib.contextmanager
def emulator_thread(emulator: WatchedEmulator) -> Iterator[Upstream]:
    """Serve `emulator` from its own event loop in a thread until the block ends."""
    started: queue.Queue[tuple[str, asyncio.AbstractEventLoop, asyncio.Event] | BaseException]
    started = queue.Queue()

    async def serve() -> None:
        stop = asyncio.Event()
        try:
            async with serving(emulator, "127.0.0.1", 0) as url:
                started.put((url, asyncio.get_running_loop(), stop))
                await stop.wait()
        except BaseException as exc:
            started.put(exc)
            raise

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    got = started.get(timeout=15)
    if isinstance(got, BaseException):
        raise RuntimeError("the emulator did not start") from got
    url, loop, stop = got
    try:
        yield Upstream(emulator, url)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    config = EmulatorConfig.default(
        require_login=True,
        quota=Quota(primary=Window(42.0, 300), secondary=Window(91.0, 10080)),
        http_ok=frozenset({WS_MODEL}),  # so that a request too big for the WebSocket can go
    )
    with emulator_thread(WatchedEmulator(config)) as running:
        yield running


# ---- the proxies -----------------------------------------------------------------------------


def codex_options(upstream: Upstream, auth_file: Path, **more: str) -> dict[str, str]:
    return {
        "responses_url": upstream.url,
        "responses_rewrite": "all",
        "responses_auth": "codex",
        "responses_codex_auth_file": str(auth_file),
        "responses_codex_refresh_url": upstream.token_url,
        **more,
    }


def valid_login(path: Path) -> dict[str, Any]:
    return write_auth_json(path, expires_at=int(time.time()) + TEN_DAYS)


@pytest.fixture(scope="module")
def login_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("login") / "auth.json"
    valid_login(path)
    return path


@pytest.fixture(scope="module")
def login(
    upstream: Upstream, login_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Mitmdump]:
    confdir = tmp_path_factory.mktemp("login-confdir")
    options = codex_options(upstream, login_file)
    with run_mitmdump(f"reverse:{origin(upstream.url)}", confdir, options) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def daily_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("daily") / "auth.json"
    valid_login(path)
    return path


@pytest.fixture(scope="module")
def web(
    upstream: Upstream, daily_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Mitmweb]:
    confdir = tmp_path_factory.mktemp("web-confdir")
    options = codex_options(upstream, daily_file)
    with run_mitmweb(upstream.url, confdir, options) as running:
        yield running


@pytest.fixture(scope="module")
def keepalive(
    upstream: Upstream, daily_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Mitmdump]:
    confdir = tmp_path_factory.mktemp("keepalive-confdir")
    options = codex_options(upstream, daily_file, responses_keepalive="1")
    with run_mitmdump(f"reverse:{origin(upstream.url)}", confdir, options) as proxy:
        yield proxy


# ---- the client ------------------------------------------------------------------------------


def client(proxy: Proxy) -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy.base_url, api_key="sk-local", max_retries=0, timeout=30)


def prompt(text: str = "") -> tuple[str, list[Any]]:
    """A tag no other request shares, and the messages that carry it after `text`."""
    tag = uuid.uuid4().hex[:12]
    return tag, [{"role": "user", "content": f"{text} {tag}".strip()}]


def complete(proxy: Proxy, model: str, messages: list[Any]) -> str:
    with client(proxy) as sdk:
        completion = sdk.chat.completions.create(model=model, messages=messages)
    return completion.choices[0].message.content or ""


def stream_text(proxy: Proxy, model: str, messages: list[Any]) -> str:
    with (
        client(proxy) as sdk,
        sdk.chat.completions.create(model=model, messages=messages, stream=True) as chunks,
    ):
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def said(messages: list[Any]) -> str:
    return GREETING + messages[-1]["content"]


def post_json(url: str, body: Any) -> tuple[int, dict[str, str], bytes]:
    """POST `body` as JSON; the status, headers (lower case) and the whole body."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", "authorization": "Bearer sk-local"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            headers = {k.lower(): v for k, v in response.headers.items()}
            return response.status, headers, response.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


# ---- mitmweb ---------------------------------------------------------------------------------


def chat_flow(web: Mitmweb, tag: str, timeout: float = 10.0) -> Flow:
    """The client flow whose request holds `tag`, once the call is over (it has its comment)."""
    seen: dict[str, bool] = {}

    def ready(flows: list[Flow]) -> bool:
        for flow in flows:
            if flow["request"]["path"] != CHAT_PATH or not flow.get("comment"):
                continue
            if flow["id"] not in seen:
                seen[flow["id"]] = tag.encode() in web.body(flow["id"], "request")
        return any(seen.values())

    flows = web.wait_for_flows(ready, timeout)
    (flow,) = [f for f in flows if seen.get(f["id"])]
    return flow


def command(web: Mitmweb, name: str) -> Any:
    """Run a mitmproxy command through mitmweb's API (`POST /commands/NAME`). Tornado's XSRF
    check on a POST wants the same token as the `_mitmproxy_xsrf` cookie and the `X-XSRFToken`
    header (a browser gets the cookie from the page; any hex token of ours passes the check)."""
    xsrf = secrets.token_hex(16)
    request = urllib.request.Request(
        f"{web.web_url}/commands/{name}",
        data=json.dumps({"arguments": []}).encode(),
        headers={
            "content-type": "application/json",
            "cookie": f"_mitmproxy_xsrf={xsrf}",
            "x-xsrftoken": xsrf,
            "authorization": f"Bearer {web.token}",
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            answer: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as err:
        with err:
            raise AssertionError(f"POST /commands/{name}: HTTP {err.code} {err.read()!r}") from None
    assert "error" not in answer, answer
    return answer["value"]


# ---- 1-4: the login refreshes itself ---------------------------------------------------------


def expired_login(path: Path, **extra: Any) -> dict[str, Any]:
    """Write a login whose access token expired an hour ago (and `extra` top-level fields)."""
    document = write_auth_json(path, expires_at=int(time.time()) - 3600)
    if extra:
        document |= extra
        path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return document


def read_login(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def assert_refreshed(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """New tokens (an unexpired access token), the same account, every other field kept. (The
    emulator's id token has no nonce: one issued in the same second may be the same.)"""
    for name in ("access_token", "refresh_token"):
        assert new["tokens"][name] != old["tokens"][name], name
    assert new["tokens"]["account_id"] == old["tokens"]["account_id"]
    expiry = jwt_expiry(new["tokens"]["access_token"])
    assert expiry is not None and expiry > time.time() + 3600
    refreshed = datetime.fromisoformat(new["last_refresh"]).timestamp()
    assert abs(refreshed - time.time()) < 60, new["last_refresh"]
    assert {k: v for k, v in new.items() if k not in ("tokens", "last_refresh")} == {
        k: v for k, v in old.items() if k not in ("tokens", "last_refresh")
    }


def test_an_expired_login_is_refreshed_written_back_and_the_call_succeeds(
    upstream: Upstream, login: Mitmdump, login_file: Path
) -> None:
    old = expired_login(login_file, preferred_store="file", agent={"name": "kept", "ids": [1, 2]})
    os.chmod(login_file, 0o640)
    before = len(upstream.token_answers())
    _, messages = prompt("hello")

    assert complete(login, HTTP_MODEL, messages) == said(messages)

    assert upstream.token_answers()[before:] == [200]
    assert_refreshed(old, read_login(login_file))
    assert stat.S_IMODE(login_file.stat().st_mode) == 0o640
    for secret in (old["tokens"]["access_token"], old["tokens"]["refresh_token"]):
        assert secret not in login.log


async def test_ten_concurrent_calls_with_an_expired_login_refresh_it_once(
    upstream: Upstream, login: Mitmdump, login_file: Path
) -> None:
    old = expired_login(login_file)
    before = len(upstream.token_answers())
    aclient = openai.AsyncOpenAI(
        base_url=login.base_url, api_key="sk-local", max_retries=0, timeout=30
    )

    async def one(i: int) -> tuple[str, str]:
        _, messages = prompt(f"call {i}")
        model = WS_MODEL if i % 2 else HTTP_MODEL
        completion = await aclient.chat.completions.create(model=model, messages=messages)
        return completion.choices[0].message.content or "", said(messages)

    try:
        results = await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(10))), 60)
    finally:
        await aclient.close()

    assert all(got == want for got, want in results), results
    assert upstream.token_answers()[before:] == [200]
    assert_refreshed(old, read_login(login_file))


def test_a_refused_refresh_is_a_401_asking_for_codex_login_without_a_retry_storm(
    upstream: Upstream, login: Mitmdump, login_file: Path
) -> None:
    old = expired_login(login_file)
    spend = {"grant_type": "refresh_token", "refresh_token": old["tokens"]["refresh_token"]}
    assert post_json(upstream.token_url, spend)[0] == 200  # the Codex CLI used it meanwhile
    before = len(upstream.token_answers())

    for model, streaming in [(HTTP_MODEL, False), (WS_MODEL, True), (HTTP_MODEL, True)]:
        _, messages = prompt("refused")
        with pytest.raises(openai.AuthenticationError) as caught:
            (stream_text if streaming else complete)(login, model, messages)
        assert caught.value.status_code == 401
        message = str(caught.value.message)
        assert "codex login" in message, message
        assert "already used" in message, message

    assert upstream.token_answers()[before:] == [401]  # one POST, its outcome remembered
    assert read_login(login_file) == old


@pytest.mark.parametrize("route", ROUTES)
def test_a_revoked_but_unexpired_token_is_refreshed_once_after_the_upstream_401(
    upstream: Upstream, login: Mitmdump, login_file: Path, route: str
) -> None:
    old = valid_login(login_file)
    upstream.emulator.revoked.add(old["tokens"]["access_token"])
    refused = upstream.emulator.refused_revoked
    before = len(upstream.token_answers())
    _, messages = prompt("revoked")

    assert stream_text(login, ROUTES[route], messages) == said(messages)

    assert upstream.emulator.refused_revoked == refused + 1
    assert upstream.token_answers()[before:] == [200]
    assert_refreshed(old, read_login(login_file))


# ---- 5: the quota ----------------------------------------------------------------------------


def quota_call(web: Mitmweb) -> Flow:
    """One call through mitmweb; its client flow once the call is over."""
    tag, messages = prompt("quota")
    assert stream_text(web, HTTP_MODEL, messages) == said(messages)
    return chat_flow(web, tag)


def test_quota_shows_in_the_flow_comment(web: Mitmweb) -> None:
    summary = quota_call(web)["comment"].splitlines()[0]
    assert re.search(r"quota 5 h 42 % \(resets [^)]+\), weekly 91 % \(resets [^)]+\)", summary), (
        summary
    )


def test_a_window_over_90_percent_is_a_warning_in_the_log_once(web: Mitmweb) -> None:
    quota_call(web)
    quota_call(web)
    warning = r"quota warning: account \w+ has used 91 % of its weekly window"
    deadline = time.monotonic() + 5
    while not [line for line in web.lines if re.search(warning, line)]:
        assert time.monotonic() < deadline, web.log[-3000:]
        time.sleep(0.05)
    warnings = [line for line in web.lines if "quota warning" in line]
    assert len(warnings) == 1, warnings  # once per crossing, and not for the 5 h window at 42 %


def test_quota_shows_in_the_status_command(web: Mitmweb) -> None:
    quota_call(web)
    status = command(web, "responses.status")
    assert isinstance(status, str), status
    assert re.search(r"5 h 42 % \(resets [^)]+\), weekly 91 %", status), status


# ---- 6: the usage limit ----------------------------------------------------------------------


def seconds_to_reset(minutes: int) -> float:
    """When the emulator's window of `minutes` resets: the next multiple of its length."""
    length = minutes * 60
    return length - time.time() % length


@pytest.mark.parametrize("streaming", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("route", ROUTES)
def test_a_reached_usage_limit_is_a_429_naming_the_window_and_when_it_resets(
    web: Mitmweb, route: str, streaming: bool
) -> None:
    _, messages = prompt("[scenario:usage_limit]")
    with pytest.raises(openai.RateLimitError) as caught:
        (stream_text if streaming else complete)(web, ROUTES[route], messages)

    error = caught.value
    assert error.status_code == 429
    # Hours away: no Retry-After a client would wait out in silence, and no retry in vain.
    assert "retry-after" not in error.response.headers
    assert error.response.headers["x-should-retry"] == "false"
    resets_at = error.response.json()["error"]["resets_at"]
    assert abs(resets_at - time.time() - seconds_to_reset(300)) < 10, resets_at
    message = str(error.message)
    assert re.search(r"the 5 h window is used up; it resets [^(]+ UTC \(in [^)]+\)", message), (
        message
    )
    assert "codex login" in message


# ---- 7: overloads ----------------------------------------------------------------------------


@pytest.mark.parametrize("streaming", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("route", ROUTES)
def test_an_overload_once_is_invisible_to_the_client(
    upstream: Upstream, web: Mitmweb, route: str, streaming: bool
) -> None:
    tag, messages = prompt("[scenario:overload_once]")
    answer = (stream_text if streaming else complete)(web, ROUTES[route], messages)

    assert answer == said(messages)
    assert upstream.emulator.transports(tag) == [Transport(route)] * 2


@pytest.mark.parametrize("route", ROUTES)
def test_a_lasting_overload_is_a_503_after_the_retries(
    upstream: Upstream, web: Mitmweb, route: str
) -> None:
    tag, messages = prompt("[scenario:overload]")
    with pytest.raises(openai.APIStatusError) as caught:
        stream_text(web, ROUTES[route], messages)

    assert caught.value.status_code == 503, caught.value
    assert "overloaded" in str(caught.value.message)
    assert upstream.emulator.transports(tag) == [Transport(route)] * (1 + RETRIES)
    attempts = chat_flow(web, tag)["comment"].splitlines()[1]
    assert f"s ({RETRIES} of {RETRIES}) over" in attempts, attempts


@pytest.mark.parametrize("route", ROUTES)
def test_an_overload_after_output_is_an_error_chunk_and_never_retried(
    upstream: Upstream, web: Mitmweb, route: str
) -> None:
    tag, messages = prompt("[scenario:overload_after_output]")
    received: list[str] = []
    with (
        client(web) as sdk,
        pytest.raises(openai.APIError) as caught,
        sdk.chat.completions.create(model=ROUTES[route], messages=messages, stream=True) as chunks,
    ):
        for chunk in chunks:
            received += [c.delta.content or "" for c in chunk.choices]

    assert not isinstance(caught.value, openai.APIConnectionError)  # a chunk, not a cut
    assert "overloaded" in str(caught.value.message)
    assert "".join(received).startswith("This answer is overtaken")
    assert upstream.emulator.transports(tag) == [Transport(route)]


# ---- 8: keep-alive comments ------------------------------------------------------------------


def raw_sse(proxy: Proxy, model: str, messages: list[Any]) -> list[str]:
    """The streamed answer's lines, as sent (comments included)."""
    body = {"model": model, "messages": messages, "stream": True}
    status, headers, data = post_json(proxy.base_url + "/chat/completions", body)
    assert status == 200, data
    assert headers["content-type"].startswith("text/event-stream")
    return data.decode().splitlines()


@pytest.mark.parametrize("route", ROUTES)
def test_keepalive_comments_come_before_a_slow_first_chunk(keepalive: Mitmdump, route: str) -> None:
    _, messages = prompt("[scenario:first_token_delay:2500]")
    lines = raw_sse(keepalive, ROUTES[route], messages)

    first = next(i for i, line in enumerate(lines) if line.startswith("data:"))
    assert lines[:first].count(": keepalive") >= 1, lines[: first + 1]
    assert not [line for line in lines if line.startswith(":") and line != ": keepalive"]
    data = [line.removeprefix("data: ") for line in lines if line.startswith("data:")]
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]  # every data line is a chunk
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == said(messages)


def test_the_sdk_reads_a_stream_with_keepalive_comments(keepalive: Mitmdump) -> None:
    _, messages = prompt("[scenario:first_token_delay:2500]")
    assert stream_text(keepalive, WS_MODEL, messages) == said(messages)


# ---- 9-10: WebSocket closes ------------------------------------------------------------------


def too_big_call(web: Mitmweb) -> tuple[str, Flow]:
    """A gpt-5.5 call whose WebSocket closes with 1009, answered (over HTTP): its tag and its
    client flow. A gpt-5.5 call just before leaves an idle socket in the pool, as in daily use."""
    _, messages = prompt("warm up")
    assert stream_text(web, WS_MODEL, messages) == said(messages)
    tag, messages = prompt(CLOSE_1009)
    answer = stream_text(web, WS_MODEL, messages)
    assert answer == GREETING + messages[-1]["content"].replace(CLOSE_1009, "[scenario:text]")
    return tag, chat_flow(web, tag)


def test_a_1009_close_sends_that_request_over_http_only(upstream: Upstream, web: Mitmweb) -> None:
    tag, flow = too_big_call(web)
    comment = flow["comment"]
    assert re.search(r"attempts: first over websocket: too_big .* over http: answered", comment), (
        comment
    )

    after, messages = prompt("after a 1009")
    assert stream_text(web, WS_MODEL, messages) == said(messages)
    assert upstream.emulator.transports(after) == [Transport.WEBSOCKET]
    summary = chat_flow(web, after)["comment"]
    assert summary.startswith("websocket · 200 · ") and "(catalog prefers it)" in summary, summary

    # The frame is too big for any WebSocket: not sent again on a fresh socket, straight to HTTP.
    assert upstream.emulator.transports(tag) == [Transport.WEBSOCKET, Transport.HTTP]


def test_the_comment_of_a_1009_fallback_claims_nothing_learned(web: Mitmweb) -> None:
    _, flow = too_big_call(web)
    summary = flow["comment"].splitlines()[0]
    assert summary.startswith("http · "), summary
    assert "learned" not in summary, summary
    assert not flow["marked"], flow["marked"]


def test_a_1006_close_is_retried_once_on_a_fresh_socket(upstream: Upstream, web: Mitmweb) -> None:
    tag, messages = prompt("[scenario:close_1006_once]")
    assert stream_text(web, WS_MODEL, messages) == said(messages)
    assert upstream.emulator.transports(tag) == [Transport.WEBSOCKET] * 2
    summary = chat_flow(web, tag)["comment"]
    assert summary.startswith("websocket · 200 · ") and "(catalog prefers it)" in summary, summary

    after, messages = prompt("after a 1006")
    assert stream_text(web, WS_MODEL, messages) == said(messages)
    assert upstream.emulator.transports(after) == [Transport.WEBSOCKET]
    summary = chat_flow(web, after)["comment"]
    assert summary.startswith("websocket · 200 · ") and "(catalog prefers it)" in summary, summary
