"""The addon's aiohttp sessions and their cookie jar (transports/sessions.py rule 1): only the
ChatGPT backend's infrastructure cookies are kept and sent, to ChatGPT hosts alone; a cookie any
other upstream sets, or an account's cookie, never goes with a later request."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import ClientSession, web
from yarl import URL

from chat2responses.transports import sessions
from chat2responses.transports.driver import Driver
from chat2responses.transports.sessions import (
    ChatGptCookieJar,
    chatgpt_cookies,
    close_session_now,
    handshake_cookie,
    keep_handshake_cookies,
    upstream_session,
)
from chat2responses.upstream import cookies
from tests.aiohttp_helpers import served

CODEX = URL("https://chatgpt.com/backend-api/codex/responses")
ANSWER = [
    "__cf_bm=bot; Path=/; Domain=.chatgpt.com; Secure; HttpOnly",
    "__Secure-next-auth.session-token=account; Path=/; Secure; HttpOnly",
    "__oailb=route; Path=/; Secure",
    "oai-did=device; Path=/",
]


@pytest.fixture
async def upstream() -> AsyncIterator[str]:
    """`/set` answers with two cookies for the whole host (one Cloudflare's, one an account's);
    `/echo` says which cookies came. Named `localhost`, not by its address: aiohttp's jar takes
    no cookie from an IP address."""

    async def set_cookie(request: web.Request) -> web.Response:
        answer = web.Response(text="set")
        answer.set_cookie("__cf_bm", "caller-a", path="/")
        answer.set_cookie("__Secure-next-auth.session-token", "account-a", path="/")
        return answer

    async def echo(request: web.Request) -> web.Response:
        return web.Response(text=request.headers.get("cookie", ""))

    app = web.Application()
    app.router.add_post("/set", set_cookie)
    app.router.add_post("/echo", echo)
    async with served(app) as port:
        yield f"http://localhost:{port}"


async def cookies_sent_after_some_were_set(session: ClientSession, base: str) -> str:
    async with session.post(f"{base}/set", data=b"{}") as first:
        assert await first.text() == "set"
    async with session.post(f"{base}/echo", data=b"{}") as second:
        return await second.text()


async def test_a_plain_aiohttp_session_would_send_every_cookie_back(upstream: str) -> None:
    """What the tests below rule out is real: a plain jar keeps both cookies."""
    async with ClientSession() as session:
        sent = await cookies_sent_after_some_were_set(session, upstream)
    assert sorted(sent.split("; ")) == [
        "__Secure-next-auth.session-token=account-a",
        "__cf_bm=caller-a",
    ]


@pytest.mark.parametrize(
    "make",
    [upstream_session, lambda: Driver().session()],
    ids=["upstream_session", "the calls' session"],
)
async def test_an_upstream_that_is_no_chatgpt_host_gets_no_cookie_back(
    upstream: str, make: Callable[[], ClientSession]
) -> None:
    session = make()
    try:
        assert await cookies_sent_after_some_were_set(session, upstream) == ""
        assert session.cookie_jar is chatgpt_cookies()  # one jar for all (rule 1)
        assert len(session.cookie_jar) == 0
    finally:
        close_session_now(session)


async def test_a_chatgpt_host_gets_back_its_infrastructure_cookie_and_nothing_else(
    upstream: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wiring through aiohttp, with the local server standing in for a ChatGPT host."""

    def a_chatgpt_host(url: str) -> bool:
        return url.startswith("http://localhost:")

    monkeypatch.setattr(cookies, "cookies_allowed", a_chatgpt_host)
    monkeypatch.setattr(sessions, "cookies_allowed", a_chatgpt_host)
    session = upstream_session()
    try:
        assert await cookies_sent_after_some_were_set(session, upstream) == "__cf_bm=caller-a"
    finally:
        close_session_now(session)


async def test_the_jar_keeps_only_infrastructure_cookies_from_chatgpt() -> None:
    jar = ChatGptCookieJar()
    jar.update_cookies_from_headers(ANSWER, CODEX)
    jar.update_cookies_from_headers(["__cf_bm=other; Path=/"], URL("https://api.openai.com/v1"))
    jar.update_cookies({"_cfuvid": "u", "_account": "acct"}, URL("https://chatgpt.com/"))
    jar.update_cookies({"__cflb": "lb"}, URL("https://relay.example/"))
    sent = {name: morsel.value for name, morsel in jar.filter_cookies(CODEX).items()}
    assert sent == {"__cf_bm": "bot", "__oailb": "route", "_cfuvid": "u"}
    assert len(jar) == 3
    for elsewhere in ("http://chatgpt.com/backend-api", "https://api.openai.com/v1/responses"):
        assert dict(jar.filter_cookies(URL(elsewhere))) == {}


async def test_a_websocket_handshake_shares_the_jar() -> None:
    url = "wss://chatgpt.com/backend-api/codex/responses"
    assert handshake_cookie(url) == {}
    keep_handshake_cookies(url, ANSWER)
    keep_handshake_cookies("wss://relay.example/responses", ["__cflb=x; Path=/"])
    assert handshake_cookie(url) == {"cookie": "__cf_bm=bot; __oailb=route"}
    assert handshake_cookie("ws://chatgpt.com/backend-api/codex/responses") == {}
    assert handshake_cookie("wss://relay.example/responses") == {}
    assert len(chatgpt_cookies()) == 2  # the same jar the HTTP sessions use
