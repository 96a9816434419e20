"""Closing an aiohttp client session from synchronous code (mitmproxy's `done` hook).

`ClientSession.close` is a coroutine, and a close scheduled from `done` may never run: the proxy's
event loop ends right after. `close_session_now` closes every connection at once, so nothing is
left open (and aiohttp does not report an unclosed session at exit).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable

from aiohttp import ClientSession

_PENDING: set[asyncio.Task[None]] = set()


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
