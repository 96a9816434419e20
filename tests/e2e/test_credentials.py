"""End to end with `responses_auth=codex`: the login's credentials go upstream and nowhere else.

A Codex login file holds a recognisable access token, account id and refresh token; clients send
their own recognisable `authorization`, `api-key`, `x-api-key`, `openai-organization`,
`openai-project` and `cookie`. Through real proxies in front of `tests/hostile_upstream.py`:

- mitmdump `-w FILE` drives successes on both routes, an upstream error before the first byte,
  a reset mid-stream and a client that leaves mid-stream, then stops normally;
- two more mitmdumps `-w FILE` are stopped (SIGTERM, SIGINT) with a stream in flight per route;
- mitmweb drives the same kinds of call and its flows are exported (`GET /flows/dump`).

Then every saved or exported flow (its `get_state()` dumped, and the raw bytes) is searched for
the login's secrets: never there. The upstream must have received the login's token and account
id, and none of the client's own credentials. In mitmweb's upstream legs, every credential
header shows as `<redacted>`, whole.
"""

from __future__ import annotations

import contextlib
import io
import json
import signal
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from mitmproxy import http
from mitmproxy.io import FlowReader

from tests.e2e.test_hostile import Answer, call
from tests.hostile_upstream import (
    PARTIAL_DELTAS,
    Fault,
    HostileUpstream,
    Received,
    hostile_upstream,
    marker,
)
from tests.mitmweb_helpers import run_mitmweb
from tests.proxy_helpers import Mitmdump, run_mitmdump

HTTP_MODEL, WS_MODEL = "gpt-5-codex", "gpt-5.5"  # responses_transport=auto: catalog routes
MODELS = {"http": HTTP_MODEL, "websocket": WS_MODEL}
REDACTED = "<redacted>"
# Header names that carry a credential, upstream or from a client.
CREDENTIAL_HEADERS = (
    "authorization",
    "chatgpt-account-id",
    "api-key",
    "x-api-key",
    "openai-organization",
    "openai-project",
    "cookie",
)


@dataclass(frozen=True)
class Secrets:
    access_token: str
    account_id: str
    refresh_token: str
    client: dict[str, str]  # the client's own credential headers

    @property
    def login(self) -> tuple[str, ...]:
        return (self.access_token, self.account_id, self.refresh_token)

    @property
    def client_values(self) -> tuple[str, ...]:
        """The distinctive part of each client header (without `Bearer `, `session=`)."""
        return tuple(v.split(" ")[-1].split("=")[-1] for v in self.client.values())


def make_secrets() -> Secrets:
    return Secrets(
        access_token=f"tok-SECRET-{uuid.uuid4()}",
        account_id=f"acct-SECRET-{uuid.uuid4()}",
        refresh_token=f"rt-SECRET-{uuid.uuid4()}",
        client={
            "authorization": f"Bearer sk-CLIENT-{uuid.uuid4().hex}",
            "api-key": f"ak-CLIENT-{uuid.uuid4().hex}",
            "x-api-key": f"xk-CLIENT-{uuid.uuid4().hex}",
            "openai-organization": f"org-CLIENT-{uuid.uuid4().hex}",
            "openai-project": f"proj-CLIENT-{uuid.uuid4().hex}",
            "cookie": f"session=ck-CLIENT-{uuid.uuid4().hex}",
        },
    )


def write_login(path: Path, secrets: Secrets) -> Path:
    tokens = {
        "access_token": secrets.access_token,
        "account_id": secrets.account_id,
        "refresh_token": secrets.refresh_token,
        "id_token": "x",
    }
    path.write_text(json.dumps({"tokens": tokens}))
    return path


def options(upstream: HostileUpstream, login: Path) -> dict[str, str]:
    return {
        "responses_url": upstream.url,
        "responses_rewrite": "all",
        "responses_auth": "codex",
        "responses_codex_auth_file": str(login),
        "responses_idle_timeout": "2",
    }


def body(run: str, route: str, fault: Fault, *, stream: bool) -> dict[str, Any]:
    text = f"{marker(fault)} run {run} {uuid.uuid4().hex}"
    return {
        "model": MODELS[route],
        "stream": stream,
        "messages": [{"role": "user", "content": text}],
    }


def ask(port: int, secrets: Secrets, payload: dict[str, Any]) -> Answer:
    return call(port, payload, headers=secrets.client)


@contextlib.contextmanager
def open_stream(port: int, secrets: Secrets, payload: dict[str, Any]) -> Iterator[socket.socket]:
    """A streaming request over a raw socket, read until the first content arrived."""
    data = json.dumps(payload).encode()
    head = [
        "POST /v1/chat/completions HTTP/1.1",
        "host: 127.0.0.1",
        "content-type: application/json",
        f"content-length: {len(data)}",
        *(f"{name}: {value}" for name, value in secrets.client.items()),
    ]
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        sock.sendall("\r\n".join(head).encode() + b"\r\n\r\n" + data)
        seen = b""
        while PARTIAL_DELTAS[0].encode() not in seen:
            got = sock.recv(65536)
            assert got, f"the stream ended before any content: {seen!r}"
            seen += got
        assert seen.startswith(b"HTTP/1.1 200"), seen
        yield sock
    finally:
        sock.close()


# ---- what is searched ---------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    raise TypeError(type(value).__name__)


def serialized(flow: Any) -> str:
    return json.dumps(flow.get_state(), default=_text)


def read_flows(data: bytes) -> list[Any]:
    return list(FlowReader(io.BytesIO(data)).stream())


def assert_no_login_secret(where: str, data: bytes, flows: list[Any], secrets: Secrets) -> None:
    for secret in secrets.login:
        assert secret.encode() not in data, f"{where}: the raw bytes hold {secret[:10]}…"
        for flow in flows:
            assert secret not in serialized(flow), f"{where}: flow {flow.id} holds {secret[:10]}…"


def assert_upstream_got_only_the_login(received: list[Received], secrets: Secrets) -> None:
    assert received
    for request in received:
        headers = request.headers
        assert headers.get("authorization") == f"Bearer {secrets.access_token}", request.transport
        assert headers.get("chatgpt-account-id") == secrets.account_id, request.transport
        for name in ("api-key", "x-api-key", "openai-organization", "openai-project", "cookie"):
            assert name not in headers, (request.transport, name)
        everything = json.dumps(headers)
        for value in secrets.client_values:
            assert value not in everything, (request.transport, value[:12])


# ---- the runs -----------------------------------------------------------------------------


@dataclass
class Run:
    name: str
    data: bytes = b""  # the saved (or exported) flows file
    flows: list[Any] = field(default_factory=list)
    log: str = ""
    answers: dict[str, Answer] = field(default_factory=dict)
    legs: list[Any] = field(default_factory=list)  # mitmweb: the upstream legs
    api_flows: bytes = b""  # mitmweb: GET /flows


def run_dump(upstream: HostileUpstream, secrets: Secrets, root: Path) -> Run:
    """Successes, an early error, a reset mid-stream, a client leaving mid-stream; then stop."""
    run, file = Run("dump"), root / "dump.flows"
    login = write_login(root / "auth.json", secrets)
    with (
        run_mitmdump(
            f"reverse:{upstream.origin}", root / "conf", options(upstream, login), "-w", str(file)
        ) as proxy,
        logged_on_failure(proxy),
    ):
        for route in MODELS:
            for stream in (True, False):
                run.answers[f"{route}-ok-{stream}"] = ask(
                    proxy.port, secrets, body("dump", route, Fault.NORMAL, stream=stream)
                )
            run.answers[f"{route}-error"] = ask(
                proxy.port, secrets, body("dump", route, Fault.ERROR_STATUS, stream=True)
            )
            run.answers[f"{route}-reset"] = ask(
                proxy.port, secrets, body("dump", route, Fault.RESET, stream=True)
            )
            before = len(proxy.lines)
            with open_stream(
                proxy.port, secrets, body("dump", route, Fault.STALL_DELTA, stream=True)
            ):
                pass  # the client leaves after the first content
            _wait_for(lambda b=before: any(" · " in line for line in proxy.lines[b:]))
    run.log = proxy.log  # read after the stop: the shutdown's lines too
    run.data = file.read_bytes()
    run.flows = read_flows(run.data)
    return run


def run_stopped(
    upstream: HostileUpstream, secrets: Secrets, root: Path, how: signal.Signals
) -> Run:
    """A stream per route in flight when mitmdump is stopped by `how`."""
    run, file = Run(how.name), root / f"{how.name}.flows"
    login = write_login(root / "auth.json", secrets)
    with (
        run_mitmdump(
            f"reverse:{upstream.origin}", root / "conf", options(upstream, login), "-w", str(file)
        ) as proxy,
        logged_on_failure(proxy),
        open_stream(proxy.port, secrets, body(how.name, "http", Fault.STALL_DELTA, stream=True)),
        open_stream(
            proxy.port, secrets, body(how.name, "websocket", Fault.STALL_DELTA, stream=True)
        ),
    ):
        proxy.process.send_signal(how)
        proxy.process.wait(timeout=15)
    run.log = proxy.log  # read after the stop: the shutdown's lines too
    run.data = file.read_bytes()
    run.flows = read_flows(run.data)
    return run


def run_web(upstream: HostileUpstream, secrets: Secrets, root: Path) -> Run:
    """The same kinds of call through mitmweb; its flows exported through its API."""
    run = Run("mitmweb")
    login = write_login(root / "auth.json", secrets)
    settings = {k: v for k, v in options(upstream, login).items() if k != "responses_url"}
    with run_mitmweb(upstream.url, root / "conf", settings) as web:
        port = web.proxy_port
        for route in MODELS:
            run.answers[f"{route}-ok"] = ask(
                port, secrets, body("web", route, Fault.NORMAL, stream=True)
            )
            run.answers[f"{route}-error"] = ask(
                port, secrets, body("web", route, Fault.ERROR_STATUS, stream=False)
            )
            run.answers[f"{route}-reset"] = ask(
                port, secrets, body("web", route, Fault.RESET, stream=True)
            )

        def settled(flows: list[dict[str, Any]]) -> bool:
            chat = [f for f in flows if f["request"]["path"] == "/v1/chat/completions"]
            # each call's upstream leg is added as its comment is set (a kept WebSocket's turns
            # go on one leg)
            return len(chat) == 6 and all(f.get("comment") for f in chat)

        web.wait_for_flows(settled)
        run.data = web.get("/flows/dump")
        run.api_flows = web.get("/flows")
    run.log = web.log
    run.flows = read_flows(run.data)
    run.legs = [f for f in run.flows if f.request.path == "/v1/responses"]
    return run


@contextlib.contextmanager
def logged_on_failure(proxy: Mitmdump) -> Iterator[None]:
    """Add the end of the proxy's log to any failure inside the block."""
    try:
        yield
    except Exception as exc:
        raise AssertionError(f"{exc!r}\n{proxy.log[-6000:]}") from exc


def _wait_for(ready: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@dataclass
class Runs:
    secrets: Secrets
    upstream: HostileUpstream
    by_name: dict[str, Run]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    secrets = make_secrets()
    with hostile_upstream() as upstream, ThreadPoolExecutor(4) as pool:
        futures = [
            pool.submit(run_dump, upstream, secrets, tmp_path_factory.mktemp("dump")),
            pool.submit(
                run_stopped, upstream, secrets, tmp_path_factory.mktemp("term"), signal.SIGTERM
            ),
            pool.submit(
                run_stopped, upstream, secrets, tmp_path_factory.mktemp("int"), signal.SIGINT
            ),
            pool.submit(run_web, upstream, secrets, tmp_path_factory.mktemp("web")),
        ]
        done = [future.result() for future in futures]
        yield Runs(secrets, upstream, {run.name: run for run in done})


RUN_NAMES = ["dump", "SIGTERM", "SIGINT", "mitmweb"]


# ---- tests --------------------------------------------------------------------------------


def test_the_calls_did_what_they_were_meant_to(runs: Runs) -> None:
    answers = runs.by_name["dump"].answers
    for route in MODELS:
        assert answers[f"{route}-ok-True"].status == 200
        assert answers[f"{route}-ok-True"].body.rstrip().endswith(b"data: [DONE]")
        assert answers[f"{route}-ok-False"].status == 200
        assert answers[f"{route}-error"].status == 500, answers[f"{route}-error"].show()
        reset = answers[f"{route}-reset"]
        assert reset.status == 200 and reset.body.rstrip().endswith(b"}"), reset.show()
        assert b'data: {"error"' in reset.body, reset.show()
    web = runs.by_name["mitmweb"].answers
    assert [a.status for a in web.values()] == [200, 500, 200, 200, 500, 200]
    # Each route really was taken (responses_transport=auto, the catalog decides).
    for run in ("dump", "web"):
        transports = {r.transport for r in runs.upstream.containing(f" run {run} ")}
        assert transports == {"http", "websocket"}, run


@pytest.mark.parametrize("name", RUN_NAMES)
def test_saved_flows_never_hold_the_login(runs: Runs, name: str) -> None:
    run = runs.by_name[name]
    expected = {"dump": 10, "SIGTERM": 2, "SIGINT": 2, "mitmweb": 12}[name]
    assert len(run.flows) == expected, [f.request.path for f in run.flows]
    # The search sees what the flows hold: every client request's text is there.
    label = "web" if name == "mitmweb" else name
    assert f" run {label} ".encode() in run.data
    assert_no_login_secret(name, run.data, run.flows, runs.secrets)
    if run.api_flows:
        assert_no_login_secret(f"{name} /flows", run.api_flows, [], runs.secrets)


@pytest.mark.parametrize("name", RUN_NAMES)
def test_no_log_line_holds_a_secret(runs: Runs, name: str) -> None:
    log = runs.by_name[name].log
    assert log
    for secret in (*runs.secrets.login, *runs.secrets.client_values):
        assert secret not in log, secret[:12]


@pytest.mark.parametrize("run", ["dump", "SIGTERM", "SIGINT", "web"])
def test_the_upstream_got_the_login_and_none_of_the_clients_credentials(
    runs: Runs, run: str
) -> None:
    received = runs.upstream.containing(f" run {run} ")
    assert {r.transport for r in received} == {"http", "websocket"}
    assert_upstream_got_only_the_login(received, runs.secrets)


def test_upstream_legs_show_credential_headers_as_redacted_whole(runs: Runs) -> None:
    legs = runs.by_name["mitmweb"].legs
    # one leg per HTTP call, one per WebSocket across its turns: six calls in all
    turns = [
        sum(m.from_client for m in leg.websocket.messages) if leg.websocket else 1 for leg in legs
    ]
    assert sum(turns) == 6
    assert {bool(leg.websocket) for leg in legs} == {True, False}
    for leg in legs:
        assert isinstance(leg, http.HTTPFlow)
        headers = leg.request.headers
        assert headers.get("authorization") == REDACTED, dict(headers)
        assert headers.get("chatgpt-account-id") == REDACTED, dict(headers)
        for name in CREDENTIAL_HEADERS:
            for value in headers.get_all(name):
                assert value == REDACTED, (name, value[:12])
        state = serialized(leg)
        for value in runs.secrets.client_values:
            assert value not in state, value[:12]


@pytest.mark.parametrize("name", ["SIGTERM", "SIGINT"])
def test_stopping_mid_stream_leaves_no_unclosed_session(runs: Runs, name: str) -> None:
    # mitmproxy itself prints a CancelledError traceback for a client connection it cancels at
    # shutdown; the addon's own sessions must be closed, not left to the garbage collector.
    assert "Unclosed client session" not in runs.by_name[name].log
    assert "Unclosed connection" not in runs.by_name[name].log


def test_an_upstream_leg_shows_the_status_the_upstream_answered(runs: Runs) -> None:
    # The hostile upstream answers `error_status` over HTTP with a 500: the client got 500, and
    # the upstream leg in mitmweb must say 500 too, not a made-up 502.
    (leg,) = [
        f
        for f in runs.by_name["mitmweb"].legs
        if not f.websocket and marker(Fault.ERROR_STATUS).encode() in (f.request.content or b"")
    ]
    assert leg.response is not None
    assert leg.response.status_code == 500, leg.response
