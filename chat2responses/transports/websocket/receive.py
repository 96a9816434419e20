"""Reading one upstream WebSocket: the next message with silence bounded, and a reused socket's
first sign of life (upstream/liveness.py). websockets' exceptions pass through: the caller maps
them (errors.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Final

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosedError

_POLL: Final = 0.5  # seconds: how often a silent socket is checked for a failure of our own


class Dead(Exception):
    """A reused socket showed no sign of life in time (upstream/liveness.py)."""


async def first_sign(
    ws: ClientConnection, pong: Awaitable[float], wait: float
) -> str | bytes | None:
    """The first message of a reused socket that was pinged with its request, when it comes
    before the pong; None when the pong came first (read its messages as usual). Raises `Dead`
    when neither came within `wait` seconds, `ConnectionClosed` when it closed meanwhile."""
    receiving = asyncio.ensure_future(ws.recv())
    waiting = asyncio.ensure_future(pong)  # websockets' own future: never cancelled here
    try:
        done, _ = await asyncio.wait(
            {receiving, waiting}, timeout=wait, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        if not receiving.done():
            receiving.cancel()  # websockets: a cancelled recv() loses nothing
        await asyncio.gather(receiving, return_exceptions=True)
    if receiving in done:
        return receiving.result()
    if waiting in done and waiting.exception() is None:
        return None
    if waiting in done:  # the pong will never come: the connection closed
        return await ws.recv()  # raises ConnectionClosed (or returns what came before)
    raise Dead


async def receive(ws: ClientConnection, idle_timeout: float) -> str | bytes:
    """The next message, or TimeoutError after `idle_timeout` seconds of silence.

    When websockets fails the connection itself (a message over `max_size`: it sends close 1009)
    and the upstream never answers the close, `recv` would wait out the whole idle timeout; so
    silence is watched in short steps, and such a failure surfaces at once.
    """
    buffered = getattr(ws.recv_messages.frames, "queue", None)  # websockets' own frame deque
    if buffered and buffered[0].fin:
        return await ws.recv()  # a whole message is here: no wait to bound (most of a burst)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + idle_timeout
    while True:
        try:
            async with asyncio.timeout(min(_POLL, max(deadline - loop.time(), 0))):
                return await ws.recv()
        except TimeoutError:
            sent = ws.protocol.close_sent
            if sent is not None:
                raise ConnectionClosedError(None, sent, None) from None
            if loop.time() >= deadline:
                raise
