"""One response over one upstream WebSocket: a socket (the conversation's, an idle one from the
pool, or a fresh one), the `response.create` frame, and the event frames up to the first terminal
event (the package's reuse rule 4 included)."""

from __future__ import annotations

import asyncio
import logging
import ssl as ssl_module
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Final

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.protocol import State

from chat2responses.protocol.errors import UpstreamError, UpstreamProtocolError, WebSocketClosed
from chat2responses.protocol.events import (
    TERMINAL,
    Event,
    EventType,
    error_of_event,
    is_advisory_error,
    parse_event,
)
from chat2responses.transports.websocket.connect import Target, open_socket
from chat2responses.transports.websocket.errors import (
    WAITING,
    close_socket,
    upstream_errors,
)
from chat2responses.transports.websocket.pool import WebSocketPool
from chat2responses.transports.websocket.receive import Dead, first_sign, receive
from chat2responses.transports.websocket.tls import tls_context
from chat2responses.upstream.liveness import liveness_wait
from chat2responses.upstream.proxies import DIRECT, Egress

logger = logging.getLogger(__name__)

# The ends after which a socket is fit for the next response.
_CLEAN_END: Final = frozenset({EventType.COMPLETED, EventType.INCOMPLETE})
# §4.5/§4.6: the server's 60-minute limit, sent as an `error` frame; a fresh socket continues.
CONNECTION_LIMIT_REACHED: Final = "websocket_connection_limit_reached"


@asynccontextmanager
async def open_response_stream(
    url: str,
    *,
    headers: Mapping[str, str],
    frame: str,
    ssl: ssl_module.SSLContext | None = None,
    connect_timeout: float = 15.0,
    idle_timeout: float = 300.0,
    pool: WebSocketPool | None = None,
    on_handshake: Callable[[Mapping[str, str]], None] | None = None,
    socket: ClientConnection | None = None,
    keep: Callable[[ClientConnection], bool] | None = None,
    deflate: bool = True,
    egress: Egress = DIRECT,
) -> AsyncIterator[_EventStream]:
    """Connect to `url` (or take an idle socket from `pool`), send `frame` (the JSON text of
    the `response.create` frame, built by `profiles.response_create_frame`), and yield the
    event texts.

    The yielded iterator ends after (and including) the first terminal event, or raises an
    `UpstreamError`: `HandshakeRefused` for a non-101 answer, `UpstreamProtocolError` for a binary
    frame or a close before the terminal event, status 504 when no frame comes within
    `idle_timeout`. On exit the socket goes back to `pool` if the response ended cleanly;
    otherwise it is closed within `CLOSE_TIMEOUT`, even when the caller stops early or is
    cancelled. `egress`: through which proxy a fresh socket connects, with the hop mark.
    """
    stream = _EventStream(
        Target(
            url,
            headers,
            tls_context(url, ssl),
            connect_timeout,
            idle_timeout,
            pool,
            on_handshake,
            deflate,
            egress,
        ),
        frame,
        socket=socket,
        keep=keep,
    )
    try:
        await stream.start()
        yield stream
    finally:
        await stream.end()


class _EventStream:
    """The event texts of one response, ending after the first terminal event; `event` is the
    last one parsed (each frame is parsed once, here)."""

    def __init__(
        self,
        target: Target,
        frame: str,
        *,
        socket: ClientConnection | None = None,
        keep: Callable[[ClientConnection], bool] | None = None,
    ) -> None:
        self._socket = socket  # a conversation's own socket: this response continues it
        self._keep = keep  # offered the socket after a clean end, before the pool
        self._target = target
        self._where = target.where
        self._frame = frame
        self._ws: ClientConnection | None = None
        self._reused = False  # the current socket came from the pool
        self._yielded = False
        self.event: Event | None = None  # the text `__anext__` returned last, parsed
        self.finished = False
        self._clean = False  # finished with response.completed or response.incomplete
        self._failed = False
        self._pong: Awaitable[float] | None = None  # a reused socket's sign of life, awaited
        self._dead = False  # found dead: dropped without a closing handshake

    async def start(self) -> None:
        """Get a socket and send the `response.create` frame on it. A reused socket (the
        conversation's or the pool's) is sent a ping first: it must show it is alive."""
        target = self._target
        if self._socket is not None:
            # The conversation's socket: it alone knows the previous response, so there is no
            # other to fall back to; a failure here is a miss, and the call resends in full.
            self._ws, self._reused = self._socket, False
            await self._send(self._socket, may_fail=False, probe=True)
            return
        if target.pool is not None:
            ws = target.pool.acquire(target.url, target.headers, target.ssl)
            if ws is not None:
                logger.debug("reusing an idle WebSocket to %s", self._where)
                self._ws, self._reused = ws, True
                if await self._send(ws, may_fail=True, probe=True):
                    return
                logger.debug(
                    "idle WebSocket to %s failed on send; opening a fresh one", self._where
                )
                await self._drop()
        await self._open()

    async def end(self) -> None:
        """Give the socket back to the pool after a clean end; close it otherwise."""
        ws, self._ws = self._ws, None
        if ws is None:
            return
        pool = self._target.pool
        if self._clean and ws.state is State.OPEN and self._keep is not None and self._keep(ws):
            logger.debug("WebSocket to %s kept for the conversation's next turn", self._where)
            return
        if self._clean and pool is not None and ws.state is State.OPEN:
            pool.release(ws)
            logger.debug("WebSocket to %s kept for the next response", self._where)
            return
        if self._dead:
            return  # dropped already: a dead peer answers no closing handshake
        # 1001 "going away" tells the upstream we left before the response ended.
        code = CloseCode.NORMAL_CLOSURE if self.finished else CloseCode.GOING_AWAY
        await close_socket(ws, code)
        logger.debug("WebSocket to %s closed (%d)", self._where, code)

    def __aiter__(self) -> _EventStream:
        return self

    def buffered(self) -> bool:
        """Whether the next frame has already arrived (the caller may batch its writes)."""
        ws = self._ws
        return ws is not None and bool(len(ws.recv_messages.frames))

    @property
    def socket(self) -> ClientConnection | None:
        """The socket this response goes over (after `start`)."""
        return self._ws

    def transport(self) -> asyncio.Transport | None:
        """The socket's transport (for transports/upstream.reading_paused)."""
        return self._ws.transport if self._ws is not None else None

    async def __anext__(self) -> str:
        if self.finished or self._failed:
            raise StopAsyncIteration
        try:
            text, self.event = await self._next_event()
        except UpstreamError:
            self._failed = True
            raise
        kind = self.event["type"]
        if kind == EventType.ERROR and is_advisory_error(self.event):
            kind = ""  # a status-less error frame is advisory (events.is_advisory_error): no end
        self._yielded = True
        self.finished = kind in TERMINAL
        self._clean = kind in _CLEAN_END
        return text

    async def _next_event(self) -> tuple[str, Event]:
        while True:
            ws = self._ws
            assert ws is not None
            may_retry = self._reused and not self._yielded
            with upstream_errors(self._where, WAITING, self._target.idle_timeout):
                try:
                    message = await self._first_sign(ws) if self._pong is not None else None
                    if message is None:
                        message = await receive(ws, self._target.idle_timeout)
                except Dead:
                    await self._buried(ws)
                    continue
                except ConnectionClosed as exc:
                    too_big = exc.rcvd is not None and exc.rcvd.code == CloseCode.MESSAGE_TOO_BIG
                    if not may_retry or too_big:  # 1009: the frame, not the socket (rule 4)
                        raise
                    logger.debug(
                        "idle WebSocket to %s closed before answering; opening a fresh one",
                        self._where,
                    )
                    await self._replace()
                    continue
            if isinstance(message, bytes):
                # §4.3: the server sends one JSON event per text frame and never binary frames.
                raise UpstreamProtocolError(
                    f"upstream sent a binary WebSocket frame ({len(message)} bytes); "
                    "Responses events come only as text frames"
                )
            event = parse_event(message)
            if may_retry and _is_connection_limit(event):
                logger.debug(
                    "idle WebSocket to %s reached its lifetime limit; opening a fresh one",
                    self._where,
                )
                await self._replace()
                continue
            return message, event

    async def _first_sign(self, ws: ClientConnection) -> str | bytes | None:
        """A reused socket's first message when it comes before the pong, else None (receive.py
        `first_sign`); raises `Dead` when neither came within the liveness wait."""
        pong, self._pong = self._pong, None
        assert pong is not None
        pool = self._target.pool
        return await first_sign(ws, pong, liveness_wait(pool.round_trip(ws) if pool else None))

    async def _buried(self, ws: ClientConnection) -> None:
        """A reused socket did not answer in time (liveness.py rule 2): it and its idle siblings
        are dropped; the pool's is replaced by a fresh one, a conversation's is a miss."""
        wait = liveness_wait(self._target.pool.round_trip(ws) if self._target.pool else None)
        logger.info(
            "a kept WebSocket to %s did not answer within %.1f s; it is dead", self._where, wait
        )
        self._dead = True
        if self._target.pool is not None:
            self._target.pool.dead(ws)
        elif ws.state is not State.CLOSED:
            ws.transport.abort()
        if not self._reused:
            raise WebSocketClosed(
                f"upstream {self._where}: the kept WebSocket did not answer within {wait:g} s "
                "(a ping or the response); it is dead",
                CloseCode.ABNORMAL_CLOSURE,
            )
        self._ws, self._dead = None, False
        await self._open()

    async def _open(self) -> None:
        """Open a fresh socket and send the frame on it."""
        self._reused = False
        self._ws = ws = await open_socket(self._target)
        await self._send(ws, may_fail=False)

    async def _send(self, ws: ClientConnection, *, may_fail: bool, probe: bool = False) -> bool:
        """Send the frame (after a ping, when `probe`: a reused socket must show it is alive);
        False if the socket is gone and `may_fail` allows saying so."""
        timeout = self._target.idle_timeout
        with upstream_errors(self._where, "sending response.create to", timeout):
            try:
                async with asyncio.timeout(timeout):
                    if probe:
                        self._pong = await ws.ping()
                    await ws.send(self._frame)
            except TimeoutError:
                raise
            except (ConnectionClosed, OSError):
                if not may_fail:
                    raise
                return False
        return True

    async def _replace(self) -> None:
        """Swap a reused socket that failed before its first frame for a fresh one."""
        await self._drop()
        await self._open()

    async def _drop(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            await close_socket(ws, CloseCode.NORMAL_CLOSURE)


def _is_connection_limit(event: Event) -> bool:
    """Whether `event` is §4.5's `websocket_connection_limit_reached` error."""
    err = error_of_event(event) if event.get("type") == EventType.ERROR else None
    return err is not None and err.code == CONNECTION_LIMIT_REACHED
