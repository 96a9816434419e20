"""The addon's aiohttp client sessions: made alike (`upstream_session`), sharing the process's
one cookie jar (`chatgpt_cookies`), and closed from synchronous code (`close_session_now`, for
mitmproxy's `done` hook).

Rule 1: the jar keeps only what upstream/cookies.py lets in (the ChatGPT backend's
        infrastructure cookies, as the Codex CLI does), for every session and for the
        WebSocket handshakes (`handshake_cookie`, `keep_handshake_cookies`). One proxy serves
        many callers and accounts: an account's or a session's cookie an upstream (a CDN, a
        login server) sets in one caller's answer is dropped, never sent with another caller's
        request; and no cookie shows in a flow (call/job.py SECRET_HEADERS).
Rule 2: a session never reads the environment's proxy settings (`trust_env=False`): the proxy of
        each request is upstream/proxies.py's choice, passed with the request.
Rule 3: `ClientSession.close` is a coroutine, and a close scheduled from `done` may never run (the
        proxy's event loop ends right after): `close_session_now` closes every connection at
        once, so nothing is left open (and aiohttp does not report an unclosed session at exit).
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Awaitable, Iterable, Sequence
from http.cookies import BaseCookie, Morsel
from typing import Any

from aiohttp import ClientSession, CookieJar
from aiohttp.typedefs import LooseCookies
from yarl import URL

from chat2responses.upstream.cookies import cookies_allowed, kept_set_cookies, name_kept

_PENDING: set[asyncio.Task[None]] = set()


_NO_URL = URL()


class ChatGptCookieJar(CookieJar):
    """aiohttp's jar, letting in and out only what upstream/cookies.py allows (rule 1)."""

    def update_cookies(self, cookies: LooseCookies, response_url: URL = _NO_URL) -> None:
        if not cookies_allowed(str(response_url)):
            return
        items: Iterable[tuple[str, str | BaseCookie[str] | Morsel[Any]]]
        items = cookies.items() if hasattr(cookies, "items") else cookies
        super().update_cookies([(n, v) for n, v in items if name_kept(n)], response_url)

    def update_cookies_from_headers(self, headers: Sequence[str], response_url: URL) -> None:
        kept = kept_set_cookies(str(response_url), list(headers))
        if kept:
            super().update_cookies_from_headers(kept, response_url)

    def filter_cookies(self, request_url: URL = _NO_URL) -> BaseCookie[str]:
        found = super().filter_cookies(request_url) if cookies_allowed(str(request_url)) else None
        sent: BaseCookie[str] = BaseCookie()
        for name, morsel in (found or {}).items():
            if name_kept(name):
                sent[name] = morsel
        return sent


_JARS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ChatGptCookieJar] = (
    weakref.WeakKeyDictionary()
)


def chatgpt_cookies() -> ChatGptCookieJar:
    """The process's one cookie jar (rule 1): one per event loop (aiohttp binds a jar to one;
    the proxy runs one loop), made on first use. Call it on the loop."""
    loop = asyncio.get_running_loop()
    jar = _JARS.get(loop)
    if jar is None:
        jar = _JARS[loop] = ChatGptCookieJar()
    return jar


def upstream_session(**options: Any) -> ClientSession:
    """A client session for upstream requests (rules 1, 2); `options` go to aiohttp."""
    return ClientSession(cookie_jar=chatgpt_cookies(), trust_env=False, **options)


def _https(url: str) -> URL:
    """`url` as the jar sees it: a WebSocket URL as its HTTP twin (`wss` → `https`)."""
    parsed = URL(url)
    scheme = {"wss": "https", "ws": "http"}.get(parsed.scheme, parsed.scheme)
    return parsed.with_scheme(scheme)


def handshake_cookie(url: str) -> dict[str, str]:
    """The `Cookie` header a WebSocket handshake to `url` carries (rule 1): {} or one header."""
    if not cookies_allowed(url):
        return {}
    found = chatgpt_cookies().filter_cookies(_https(url))
    value = "; ".join(f"{name}={morsel.coded_value}" for name, morsel in found.items())
    return {"cookie": value} if value else {}


def keep_handshake_cookies(url: str, set_cookies: list[str]) -> None:
    """What a WebSocket handshake's answer from `url` set, kept as rule 1 allows."""
    if set_cookies and cookies_allowed(url):
        chatgpt_cookies().update_cookies_from_headers(set_cookies, _https(url))


def close_session_now(session: ClientSession) -> None:
    connector = session.connector
    session.detach()  # the session counts as closed from now on
    if connector is None:
        return
    done = connector.close(abort_ssl=True)  # the transports are closed by now
    with contextlib.suppress(RuntimeError):  # no loop: nothing is left to wait for
        task = asyncio.get_running_loop().create_task(_wait(done))
        _PENDING.add(task)
        task.add_done_callback(_PENDING.discard)


async def _wait(done: Awaitable[None]) -> None:
    await done
