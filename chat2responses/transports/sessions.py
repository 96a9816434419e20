"""The addon's aiohttp client sessions: made alike (`upstream_session`), and closed from
synchronous code (`close_session_now`, for mitmproxy's `done` hook).

Rule 1: a session keeps no cookies. One proxy serves many callers and accounts over one session:
        a cookie an upstream set in one caller's answer (a CDN's, a login server's) is never sent
        with another caller's request, and never shows in a flow.
Rule 2: a session never reads the environment's proxy settings (`trust_env=False`): the proxy of
        each request is upstream/proxies.py's choice, passed with the request.
Rule 3: `ClientSession.close` is a coroutine, and a close scheduled from `done` may never run (the
        proxy's event loop ends right after): `close_session_now` closes every connection at
        once, so nothing is left open (and aiohttp does not report an unclosed session at exit).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any

from aiohttp import ClientSession, DummyCookieJar

_PENDING: set[asyncio.Task[None]] = set()


def upstream_session(**options: Any) -> ClientSession:
    """A client session for upstream requests (rules 1, 2); `options` go to aiohttp."""
    return ClientSession(cookie_jar=DummyCookieJar(), trust_env=False, **options)


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
