"""The addon's aiohttp sessions (transports/sessions.py): no cookie an upstream sets is ever sent
back (rule 1), whoever the next request is for."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import ClientSession, web

from chat2responses.transports.driver import Driver
from chat2responses.transports.sessions import close_session_now, upstream_session


@pytest.fixture
async def upstream() -> AsyncIterator[str]:
    """`/set` answers with a cookie for the whole host; `/echo` says which cookies came. Named
    `localhost`, not by its address: aiohttp's jar takes no cookie from an IP address."""

    async def set_cookie(request: web.Request) -> web.Response:
        answer = web.Response(text="set")
        answer.set_cookie("__cf_bm", "caller-a", path="/")
        return answer

    async def echo(request: web.Request) -> web.Response:
        return web.Response(text=request.headers.get("cookie", ""))

    app = web.Application()
    app.router.add_post("/set", set_cookie)
    app.router.add_post("/echo", echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://localhost:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def cookies_sent_after_one_was_set(session: ClientSession, base: str) -> str:
    async with session.post(f"{base}/set", data=b"{}") as first:
        assert await first.text() == "set"
    async with session.post(f"{base}/echo", data=b"{}") as second:
        return await second.text()


async def test_a_plain_aiohttp_session_would_send_the_cookie_back(upstream: str) -> None:
    """The upstream's cookie is one a cookie jar keeps: what the tests below rule out is real."""
    async with ClientSession() as session:
        assert await cookies_sent_after_one_was_set(session, upstream) == "__cf_bm=caller-a"


@pytest.mark.parametrize(
    "make",
    [upstream_session, lambda: Driver().session()],
    ids=["upstream_session", "the calls' session"],
)
async def test_no_cookie_an_upstream_set_goes_with_a_later_request(
    upstream: str, make: Callable[[], ClientSession]
) -> None:
    session = make()
    try:
        assert await cookies_sent_after_one_was_set(session, upstream) == ""
        assert len(session.cookie_jar) == 0
    finally:
        close_session_now(session)
