"""One attempt's way to the upstream: its events, over HTTP SSE or the Responses WebSocket.

`connect_upstream` is the connector the call runner uses (call.py); tests give the runner a fake
one instead (`Connector`). Either yields `AttemptEvents`: iterated with `async for`, and asked
`buffered()` (is the next event already here, so writes may be batched), `transport()` (what
`reading_paused` pauses), `drain()` (read the rest so the connection can be reused) and
`received` (bytes so far, for a buffered answer's cap).

Must not: decide anything (the call machine does): it opens, reports what it saw to the machine
(`opened`, the quota headers, frames kept for display), and hands the events over.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import Any, Protocol

from aiohttp import ClientSession

from chat2responses.call.commands import Open
from chat2responses.call.job import CallJob
from chat2responses.call.machine import CallMachine
from chat2responses.call.policy import Route
from chat2responses.protocol.events import Event
from chat2responses.transports.http import open_http_events
from chat2responses.transports.websocket import WebSocketPool, open_response_stream
from chat2responses.transports.websocket.numbers import SOCKET_NUMBERS
from chat2responses.upstream.proxies import Egress

CONNECT_TIMEOUT = 15.0


class AttemptEvents(Protocol):
    received: int

    def __aiter__(self) -> AsyncIterator[Event]: ...
    def buffered(self) -> bool: ...
    def transport(self) -> asyncio.Transport | None: ...
    async def drain(self) -> None: ...


class Attempting(Protocol):
    """What a connector needs of the call it serves."""

    job: CallJob
    machine: CallMachine
    pool: WebSocketPool
    session: Callable[[], ClientSession]
    egress: Egress  # through which proxy, with the hop mark (upstream/proxies.py)


class Connector(Protocol):
    def __call__(
        self, call: Attempting, command: Open, headers: dict[str, str]
    ) -> AbstractAsyncContextManager[AttemptEvents]: ...


def connect_upstream(
    call: Attempting, command: Open, headers: dict[str, str]
) -> AbstractAsyncContextManager[AttemptEvents]:
    """The real upstream, over the attempt's route; none for an answer made here."""
    if command.here is not None:
        return _here(call, command.here)
    if command.attempt.route is Route.HTTP:
        return _http(call, command, headers)
    return _websocket(call, command, headers)


@asynccontextmanager
async def _here(call: Attempting, events: tuple[Event, ...]) -> AsyncIterator[AttemptEvents]:
    call.machine.opened(200)
    yield JsonEvents(list(events))


@asynccontextmanager
async def _http(
    call: Attempting, command: Open, headers: dict[str, str]
) -> AsyncIterator[AttemptEvents]:
    job, machine = call.job, call.machine
    async with open_http_events(
        call.session(),
        job.upstream.http_url,
        headers=headers,
        body=command.payload.encode(),
        ssl=job.ssl,
        connect_timeout=CONNECT_TIMEOUT,
        idle_timeout=job.idle_timeout,
        transcript=machine.transcript(),
        on_headers=machine.upstream_headers,
        egress=call.egress,
    ) as events:
        machine.opened(200)
        yield JsonEvents(events) if isinstance(events, list) else events


@asynccontextmanager
async def _websocket(
    call: Attempting, command: Open, headers: dict[str, str]
) -> AsyncIterator[AttemptEvents]:
    job, machine, pool = call.job, call.machine, call.pool

    def keep(ws: Any) -> bool:
        opened = pool.opened_at(ws)
        return opened is not None and machine.keep_socket(ws, opened)

    async with open_response_stream(
        job.upstream.ws_url,
        headers=headers,
        frame=command.payload,
        ssl=job.ssl,
        connect_timeout=CONNECT_TIMEOUT,
        idle_timeout=job.idle_timeout,
        pool=pool,
        on_handshake=machine.upstream_headers,
        socket=command.socket,  # type: ignore[arg-type]
        keep=keep if job.turn is not None else None,
        deflate=not job.upstream.local,
        egress=call.egress,
    ) as frames:
        machine.opened(101)
        if frames.socket is not None:
            machine.on_socket(*SOCKET_NUMBERS.use(frames.socket))
        yield FrameEvents(frames, machine)


class JsonEvents:
    """A JSON Response's events (an upstream ignoring `stream: true`), iterated like a stream."""

    def __init__(self, events: list[Event]) -> None:
        self._events = iter(events)
        self.received = 0  # the JSON answer was read within MAX_EVENT_BYTES already

    def buffered(self) -> bool:
        return True

    def transport(self) -> None:
        return None  # read whole already

    async def drain(self) -> None:
        pass

    def __aiter__(self) -> JsonEvents:
        return self

    async def __anext__(self) -> Event:
        try:
            return next(self._events)
        except StopIteration:
            raise StopAsyncIteration from None


class FrameEvents:
    """WebSocket frames → events (websocket/stream.py parsed each), each frame kept (bounded)
    for display."""

    def __init__(self, frames: Any, machine: CallMachine) -> None:
        self._frames = frames
        self._machine = machine
        self.received = 0

    def buffered(self) -> bool:
        return bool(self._frames.buffered())

    def transport(self) -> asyncio.Transport | None:
        transport: asyncio.Transport | None = self._frames.transport()
        return transport

    async def drain(self) -> None:
        pass  # a socket goes back to the pool at the terminal event

    def __aiter__(self) -> FrameEvents:
        return self

    async def __anext__(self) -> Event:
        frame = await self._frames.__anext__()
        self.received += len(frame)
        self._machine.frame(frame)
        event: Event = self._frames.event  # parsed once, by the stream
        return event


@contextmanager
def reading_paused(transport: asyncio.Transport | None) -> Iterator[None]:
    """Read nothing more from `transport` for a moment (what arrives waits in the kernel). Only a
    transport that is reading is paused, and only that one resumed: a pause that flow control
    made stays its own."""
    if transport is None or transport.is_closing() or not transport.is_reading():
        yield
        return
    transport.pause_reading()
    try:
        yield
    finally:
        if not transport.is_closing():
            transport.resume_reading()
