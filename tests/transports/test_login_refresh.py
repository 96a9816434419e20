"""The Codex login refreshes itself against a real token endpoint on 127.0.0.1: once per refresh
token, once however many requests wait, never when another process already did it."""

from __future__ import annotations

import asyncio
import base64
import fcntl
import json
import os
import secrets
import stat
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from chat2responses.protocol.errors import ClientError
from chat2responses.transports import login_refresh
from chat2responses.transports.login_refresh import CodexLogin
from chat2responses.transports.websocket import websocket_ssl_context
from chat2responses.upstream.identity import CODEX_CLI_VERSION, user_agent
from chat2responses.upstream.login import AUTH_CLAIM, CLIENT_ID, REFRESH_SCOPE, bearer_of
from tests.aiohttp_helpers import served
from tests.transports.test_tls_failures import self_signed

ACCOUNT = "acct-123"


def jwt(**claims: Any) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2ln"


def access_token(expires_in: float) -> str:
    return jwt(exp=int(time.time() + expires_in), jti=secrets.token_hex(4))


@dataclass
class TokenServer:
    """An OAuth token endpoint that rotates refresh tokens and refuses a reused one."""

    url: str = ""
    valid: set[str] = field(default_factory=set)
    used: set[str] = field(default_factory=set)
    posts: list[dict[str, Any]] = field(default_factory=list)
    agents: list[tuple[str | None, str | None]] = field(default_factory=list)  # UA, originator
    status: int = 200  # answer this status (with an error body) instead of tokens
    delay: float = 0.05
    issued: list[str] = field(default_factory=list)
    received: asyncio.Event = field(default_factory=asyncio.Event)

    def grant(self) -> str:
        token = f"rt-{secrets.token_hex(6)}"
        self.valid.add(token)
        return token

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.posts.append(body)
        self.agents.append((request.headers.get("user-agent"), request.headers.get("originator")))
        self.received.set()
        await asyncio.sleep(self.delay)
        if self.status != 200:
            return web.json_response({"error": {"message": "boom"}}, status=self.status)
        token = body["refresh_token"]
        if token in self.used:
            error = {"code": "refresh_token_reused", "message": f"{token} was already used"}
            return web.json_response({"error": error}, status=401)
        if token not in self.valid:
            return web.json_response({"error": "invalid_grant"}, status=400)
        self.valid.discard(token)
        self.used.add(token)
        access = access_token(3600)
        self.issued.append(access)
        id_token = jwt(email="a@example.com", **{AUTH_CLAIM: {"chatgpt_account_id": ACCOUNT}})
        return web.json_response(
            {"access_token": access, "id_token": id_token, "refresh_token": self.grant()}
        )


@pytest.fixture
async def server() -> AsyncIterator[TokenServer]:
    state = TokenServer()
    app = web.Application()
    app.router.add_post("/oauth/token", state.handle)
    async with served(app) as port:
        state.url = f"http://127.0.0.1:{port}/oauth/token"
        yield state


def write_login(path: Path, access: str, refresh: str, **extra: Any) -> None:
    data = {
        "OPENAI_API_KEY": None,
        "tokens": {
            "id_token": jwt(email="a@example.com"),
            "access_token": access,
            "refresh_token": refresh,
            "account_id": ACCOUNT,
        },
        "last_refresh": "2026-01-01T00:00:00Z",
        **extra,
    }
    path.write_text(json.dumps(data))


@pytest.fixture
async def login(tmp_path: Path, server: TokenServer) -> AsyncIterator[CodexLogin]:
    the_login = CodexLogin(str(tmp_path / "auth.json"), server.url, timeout=2.0)
    try:
        yield the_login
    finally:
        await the_login.aclose()


async def test_an_expired_token_is_refreshed_and_the_file_keeps_the_rest(
    login: CodexLogin, server: TokenServer, tmp_path: Path
) -> None:
    path = tmp_path / "auth.json"
    old_access, old_refresh = access_token(-60), server.grant()
    write_login(path, old_access, old_refresh, agent_note={"kept": True})
    path.chmod(0o640)

    headers = await login.headers()

    assert len(server.posts) == 1
    assert server.posts[0] == {
        "client_id": CLIENT_ID,
        "grant_type": "refresh_token",
        "refresh_token": old_refresh,
        "scope": REFRESH_SCOPE,
    }
    assert headers["authorization"] == f"Bearer {server.issued[0]}"
    assert headers["chatgpt-account-id"] == ACCOUNT
    assert headers["session_id"] == login.session_id
    data = json.loads(path.read_text())
    assert data["tokens"]["access_token"] == server.issued[0]
    assert data["tokens"]["refresh_token"] in server.valid
    assert data["tokens"]["account_id"] == ACCOUNT
    assert data["OPENAI_API_KEY"] is None and data["agent_note"] == {"kept": True}
    assert data["last_refresh"] != "2026-01-01T00:00:00Z" and data["last_refresh"].endswith("Z")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [name for name in os.listdir(tmp_path) if name.endswith(".tmp")] == []
    # The new token is fresh: the next call sends nothing.
    assert await login.headers() == headers
    assert len(server.posts) == 1
    # As the Codex CLI's login client names itself (identity.py): never Python's aiohttp.
    assert server.agents == [(user_agent(CODEX_CLI_VERSION), "codex_cli_rs")]


async def test_the_refresh_names_the_client_version_it_speaks_as(
    server: TokenServer, tmp_path: Path
) -> None:
    login = CodexLogin(str(tmp_path / "auth.json"), server.url, client_version="0.153.0")
    try:
        write_login(tmp_path / "auth.json", access_token(-60), server.grant())
        await login.headers()
    finally:
        await login.aclose()
    assert server.agents == [(user_agent("0.153.0"), "codex_cli_rs")]


async def test_a_fresh_token_is_used_as_is(
    login: CodexLogin, server: TokenServer, tmp_path: Path
) -> None:
    access = access_token(3600)
    write_login(tmp_path / "auth.json", access, server.grant())
    assert (await login.headers())["authorization"] == f"Bearer {access}"
    opaque = "not-a-jwt"  # no readable exp: used as it is
    write_login(tmp_path / "auth.json", opaque, server.grant())
    assert (await login.headers())["authorization"] == f"Bearer {opaque}"
    assert server.posts == []


async def test_ten_concurrent_requests_make_one_refresh(
    login: CodexLogin, server: TokenServer, tmp_path: Path
) -> None:
    write_login(tmp_path / "auth.json", access_token(10), server.grant())  # inside the margin
    results = await asyncio.gather(*(login.headers() for _ in range(10)))
    assert len(server.posts) == 1
    assert {h["authorization"] for h in results} == {f"Bearer {server.issued[0]}"}


async def test_a_cancelled_request_does_not_abort_its_refresh(
    login: CodexLogin, server: TokenServer, tmp_path: Path
) -> None:
    path = tmp_path / "auth.json"
    write_login(path, access_token(-60), server.grant())
    server.delay = 0.3
    request = asyncio.create_task(login.headers())
    await server.received.wait()
    request.cancel()  # the client left while the refresh token was on its way
    with pytest.raises(asyncio.CancelledError):
        await request
    headers = await login.headers()  # joins the refresh in flight
    assert headers["authorization"] == f"Bearer {server.issued[0]}"
    assert json.loads(path.read_text())["tokens"]["access_token"] == server.issued[0]
    assert len(server.posts) == 1


async def test_a_refresh_by_another_process_under_the_lock_is_used(
    login: CodexLogin, server: TokenServer, tmp_path: Path
) -> None:
    path = tmp_path / "auth.json"
    write_login(path, access_token(-60), server.grant())
    # "Another process" holds the lock while it refreshes, then writes its tokens and lets go.
    fd = os.open(tmp_path / "auth.json.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    waiting = asyncio.create_task(login.headers())
    await asyncio.sleep(0.2)
    assert not waiting.done()
    theirs = access_token(3600)
    write_login(path, theirs, server.grant())
    os.close(fd)
    headers = await waiting
    assert headers["authorization"] == f"Bearer {theirs}"
    assert server.posts == []


async def test_a_lock_held_too_long_is_a_clear_401(server: TokenServer, tmp_path: Path) -> None:
    path = tmp_path / "auth.json"
    write_login(path, access_token(-60), server.grant())
    fd = os.open(tmp_path / "auth.json.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    login = CodexLogin(str(path), server.url, timeout=0.2)
    try:
        with pytest.raises(ClientError) as caught:
            await login.headers()
    finally:
        os.close(fd)
        await login.aclose()
    assert caught.value.status == 401 and caught.value.code == "codex_refresh_busy"
    assert server.posts == []


async def test_a_refused_refresh_is_a_401_and_its_token_is_never_sent_again(
    login: CodexLogin, server: TokenServer, tmp_path: Path
) -> None:
    path = tmp_path / "auth.json"
    spent = server.grant()
    server.valid.discard(spent)
    server.used.add(spent)
    access = access_token(-60)
    write_login(path, access, spent)

    for _ in range(3):
        with pytest.raises(ClientError) as caught:
            await login.headers()
        err = caught.value
        assert (err.status, err.type, err.code) == (
            401,
            "authentication_error",
            "codex_refresh_token_reused",
        )
        assert "already used" in err.message and "codex login" in err.message
        assert spent not in err.message and access not in err.message
    assert len(server.posts) == 1

    # A new `codex login` writes a new refresh token: that one is tried.
    write_login(path, access_token(-60), server.grant())
    headers = await login.headers()
    assert headers["authorization"] == f"Bearer {server.issued[0]}"
    assert len(server.posts) == 2


@pytest.mark.parametrize("status", [500, 400, 429])
async def test_a_failing_endpoint_is_a_401_without_a_second_post(
    login: CodexLogin, server: TokenServer, tmp_path: Path, status: int
) -> None:
    refresh = server.grant()
    write_login(tmp_path / "auth.json", access_token(-60), refresh)
    server.status = status
    for _ in range(2):
        with pytest.raises(ClientError) as caught:
            await login.headers()
        assert caught.value.status == 401 and caught.value.code == "codex_refresh_failed"
        assert f"HTTP {status}" in caught.value.message and "codex login" in caught.value.message
        assert refresh not in caught.value.message
    assert len(server.posts) == 1


async def test_a_timed_out_refresh_counts_as_sent(server: TokenServer, tmp_path: Path) -> None:
    path = tmp_path / "auth.json"
    write_login(path, access_token(-60), server.grant())
    server.delay = 1.0
    login = CodexLogin(str(path), server.url, timeout=0.2)
    try:
        for _ in range(2):
            with pytest.raises(ClientError) as caught:
                await login.headers()
            assert caught.value.code == "codex_refresh_unreachable"
            assert "timed out" in caught.value.message
    finally:
        await login.aclose()
    assert len(server.posts) == 1


async def test_an_unreachable_endpoint_is_a_clear_401(tmp_path: Path) -> None:
    path = tmp_path / "auth.json"
    write_login(path, access_token(-60), "rt-x")
    login = CodexLogin(str(path), "http://127.0.0.1:9/oauth/token", timeout=2.0)
    try:
        with pytest.raises(ClientError) as caught:
            await login.headers()
    finally:
        await login.aclose()
    assert caught.value.status == 401 and caught.value.code == "codex_refresh_unreachable"
    assert "could not be reached" in caught.value.message and "rt-x" not in caught.value.message


@pytest.mark.parametrize("insecure", [False, True])
async def test_the_refresh_takes_the_calls_tls_settings(tmp_path: Path, insecure: bool) -> None:
    # A token endpoint behind a certificate the machine does not trust (a TLS-inspecting
    # corporate proxy, say): with mitmproxy's ssl_insecure the calls go through, and the
    # refresh must too; without it, both are refused.
    state = TokenServer()
    app = web.Application()
    app.router.add_post("/oauth/token", state.handle)
    path = tmp_path / "auth.json"
    write_login(path, access_token(-60), state.grant())
    async with served(app, self_signed(tmp_path)) as port:
        login = CodexLogin(str(path), f"https://127.0.0.1:{port}/oauth/token", timeout=5.0)
        login.ssl = websocket_ssl_context(insecure, None)
        try:
            if insecure:
                assert (await login.headers())["authorization"].startswith("Bearer ")
                assert len(state.posts) == 1
            else:
                with pytest.raises(ClientError) as caught:
                    await login.headers()
                assert caught.value.status == 401 and state.posts == []
        finally:
            await login.aclose()


async def test_a_failed_refresh_before_expiry_keeps_the_old_token(
    login: CodexLogin, server: TokenServer, tmp_path: Path
) -> None:
    access = access_token(60)  # inside the margin, not yet expired
    write_login(tmp_path / "auth.json", access, server.grant())
    server.status = 503
    for _ in range(2):
        assert (await login.headers())["authorization"] == f"Bearer {access}"
    assert len(server.posts) == 1


async def test_a_401_refreshes_only_the_token_it_rejected(
    login: CodexLogin, server: TokenServer, tmp_path: Path
) -> None:
    path = tmp_path / "auth.json"
    write_login(path, access_token(3600), server.grant())  # valid by its exp, yet refused
    sent = await login.headers()
    retry = await login.refresh_after_401(bearer_of(sent))
    assert retry["authorization"] == f"Bearer {server.issued[0]}"
    assert len(server.posts) == 1
    # A late 401 for the old token: the file already holds another, which is used.
    again = await login.refresh_after_401(bearer_of(sent))
    assert again == retry and len(server.posts) == 1


async def test_concurrent_401s_make_one_refresh(
    login: CodexLogin, server: TokenServer, tmp_path: Path
) -> None:
    write_login(tmp_path / "auth.json", access_token(3600), server.grant())
    rejected = bearer_of(await login.headers())
    results = await asyncio.gather(*(login.refresh_after_401(rejected) for _ in range(5)))
    assert len(server.posts) == 1
    assert {h["authorization"] for h in results} == {f"Bearer {server.issued[0]}"}


async def test_a_failed_401_refresh_is_a_401_every_time_until_the_file_changes(
    login: CodexLogin, server: TokenServer, tmp_path: Path
) -> None:
    write_login(tmp_path / "auth.json", access_token(3600), "rt-unknown")
    rejected = bearer_of(await login.headers())
    for _ in range(2):
        with pytest.raises(ClientError) as caught:
            await login.refresh_after_401(rejected)
        assert caught.value.status == 401 and "HTTP 400, invalid_grant" in caught.value.message
    assert len(server.posts) == 1


async def test_new_tokens_that_cannot_be_written_are_still_used(
    login: CodexLogin, server: TokenServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(path: Path, data: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(login_refresh, "write_login", refuse)
    path = tmp_path / "auth.json"
    write_login(path, access_token(-60), server.grant())
    first = await login.headers()
    assert first["authorization"] == f"Bearer {server.issued[0]}"
    # The file still holds the spent refresh token; touching it must not send it again.
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 5_000_000))
    assert await login.headers() == first
    assert len(server.posts) == 1


async def test_environment_proxies_are_ignored(
    login: CodexLogin, server: TokenServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    write_login(tmp_path / "auth.json", access_token(-60), server.grant())
    assert (await login.headers())["authorization"] == f"Bearer {server.issued[0]}"


async def test_the_account_digest_is_stable_across_a_refresh_and_hides_the_account(
    login: CodexLogin, server: TokenServer, tmp_path: Path
) -> None:
    write_login(tmp_path / "auth.json", access_token(-60), server.grant())
    before = login.account_digest()
    await login.headers()
    assert login.account_digest() == before
    assert len(before) == 12 and ACCOUNT not in before


async def test_the_token_endpoint_redirected_elsewhere_never_gets_the_refresh_token(
    tmp_path: Path, server: TokenServer
) -> None:
    """A 307 to another origin is not followed (the refresh token would go along); one within
    the endpoint's origin is."""
    elsewhere = TokenServer()
    other = web.Application()
    other.router.add_post("/steal", elsewhere.handle)
    runner = web.AppRunner(other, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    away = f"http://localhost:{runner.addresses[0][1]}/steal"

    async def redirect(request: web.Request) -> web.Response:
        return web.Response(status=307, headers={"location": request.query["to"]})

    app = web.Application()
    app.router.add_post("/moved", redirect)
    app.router.add_post("/oauth/token", server.handle)
    front = web.AppRunner(app, access_log=None)
    await front.setup()
    await web.TCPSite(front, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{front.addresses[0][1]}"
    path = tmp_path / "auth.json"
    try:
        refresh = server.grant()
        write_login(path, access_token(-60), refresh)
        cross = CodexLogin(str(path), f"{base}/moved?to={away}", timeout=2.0)
        with pytest.raises(ClientError) as caught:
            await cross.headers()
        await cross.aclose()
        assert "another origin" in caught.value.message and "steal" not in caught.value.message
        assert elsewhere.posts == [] and server.posts == []

        write_login(path, access_token(-60), server.grant())
        same = CodexLogin(str(path), f"{base}/moved?to=/oauth/token", timeout=2.0)
        headers = await same.headers()
        await same.aclose()
        assert headers["authorization"] == f"Bearer {server.issued[0]}"
    finally:
        await runner.cleanup()
        await front.cleanup()


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "is not valid JSON"),
        (b'{"tokens": ' * 50_000 + b"{}" + b"}" * 50_000, "is not valid JSON"),
        (b"\xff\xfe not utf-8", "is not valid JSON"),
        (b" " * (2 << 20), "larger than"),
    ],
)
async def test_a_hostile_login_file_is_a_clear_401(
    tmp_path: Path, content: bytes, says: str
) -> None:
    path = tmp_path / "auth.json"
    path.write_bytes(content)
    login = CodexLogin(str(path), "http://127.0.0.1:9/oauth/token", timeout=1.0)
    with pytest.raises(ClientError) as caught:
        await login.headers()
    assert caught.value.status == 401 and says in caught.value.message


async def test_a_fifo_in_place_of_the_login_is_refused_at_once(tmp_path: Path) -> None:
    """Reading it would wait for a writer forever (and, on the event loop, hang the proxy)."""
    path = tmp_path / "auth.json"
    os.mkfifo(path)
    login = CodexLogin(str(path), "http://127.0.0.1:9/oauth/token", timeout=1.0)
    async with asyncio.timeout(5):
        with pytest.raises(ClientError) as caught:
            await login.headers()
    assert "not a regular file" in caught.value.message
    with pytest.raises(ClientError):
        login.account_digest()  # the synchronous reader is bounded the same way
