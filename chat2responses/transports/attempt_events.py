"""What one attempt's events come from, beside an SSE body (http.py's `HttpEvents`): the events
of a JSON `Response` (an upstream that ignored `stream: true`), and WebSocket frames.

Each is iterated with `async for` and answers the same questions the call asks of `HttpEvents`:
`buffered()` (is the next event already here, so writes may be batched), `transport()` (what
`reading_paused` pauses, call.py rule 5), `drain()` (read the rest so the connection can be
reused) and `received` (bytes so far, for the size cap).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from chat2responses.call.job import CallOutcome
from chat2responses.protocol.events import Event


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

    def __init__(self, frames: Any, outcome: CallOutcome) -> None:
        self._frames = frames
        self._outcome = outcome
        self.received = 0

    def buffered(self) -> bool:
        return bool(self._frames.buffered())

    def transport(self) -> Any:
        return self._frames.transport()

    async def drain(self) -> None:
        pass  # a socket goes back to the pool at the terminal event

    def __aiter__(self) -> FrameEvents:
        return self

    async def __anext__(self) -> Event:
        frame = await self._frames.__anext__()
        self.received += len(frame)
        self._outcome.keep_frame(frame)
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
