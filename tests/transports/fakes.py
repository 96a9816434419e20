"""In-process fakes for the call runner: an upstream (a `Connector` playing scripted attempts)
and the loopback exchange mitmproxy would read. No socket, no clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from chat2responses.call.commands import Open
from chat2responses.protocol.errors import ProxyError
from chat2responses.transports.upstream import AttemptEvents, Attempting

# One attempt's script: events (dicts) in order; a ProxyError raised where it stands; an
# asyncio.Event waited for (the test holds the attempt there).
Step = dict[str, Any] | ProxyError | asyncio.Event


class FakeTransport:
    """Enough of asyncio.Transport for `reading_paused`: it records what was asked of it."""

    def __init__(self) -> None:
        self.reading = True
        self.log: list[str] = []

    def is_closing(self) -> bool:
        return False

    def is_reading(self) -> bool:
        return self.reading

    def pause_reading(self) -> None:
        self.reading = False
        self.log.append("pause")

    def resume_reading(self) -> None:
        self.reading = True
        self.log.append("resume")


class FakeEvents:
    """One attempt's events, as a connector yields them."""

    def __init__(self, steps: list[Step], upstream: FakeUpstream) -> None:
        self._steps = iter(steps)
        self._upstream = upstream
        self.received = 0
        self.fake_transport = FakeTransport()
        self.drained = False

    def buffered(self) -> bool:
        return False

    def transport(self) -> Any:
        return self.fake_transport

    async def drain(self) -> None:
        self._upstream.log.append("drain")
        self.drained = True

    def __aiter__(self) -> FakeEvents:
        return self

    async def __anext__(self) -> dict[str, Any]:
        for step in self._steps:
            if isinstance(step, asyncio.Event):
                self._upstream.holding.set()  # the test may act now
                await step.wait()
                continue
            if isinstance(step, ProxyError):
                raise step
            self.received += len(repr(step))
            return step
        raise StopAsyncIteration


@dataclass
class FakeUpstream:
    """A connector that plays one script per attempt and records what it was sent."""

    attempts: list[list[Step]]
    opened: list[tuple[Open, dict[str, str]]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    events: list[FakeEvents] = field(default_factory=list)
    holding: asyncio.Event = field(default_factory=asyncio.Event)  # an attempt waits on a step

    def __call__(self, call: Attempting, command: Open, headers: dict[str, str]) -> Any:
        return self._connect(call, command, headers)

    @asynccontextmanager
    async def _connect(
        self, call: Attempting, command: Open, headers: dict[str, str]
    ) -> AsyncIterator[AttemptEvents]:
        index = len(self.opened)
        self.opened.append((command, headers))
        self.log.append(f"open {index}")
        steps = self.attempts[index]
        if steps and isinstance(steps[0], ProxyError):  # refused before any answer
            self.log.append(f"close {index}")
            raise steps[0]
        call.machine.opened(200)
        events = FakeEvents(steps, self)
        self.events.append(events)
        try:
            yield events
        finally:
            self.log.append(f"close {index}")


class FakeExchange:
    """The loopback exchange mitmproxy reads: what it was sent, and how it ended."""

    def __init__(self) -> None:
        self.status: int | None = None
        self.headers: Mapping[str, str] = {}
        self.body = bytearray()
        self.started = False
        self.finished = False
        self.aborted = False
        self.on_lost: Any = None
        self.gone = False  # mitmproxy let go of it: writes raise
        self.log: list[str] = []

    def start(self, status: int, headers: Mapping[str, str]) -> None:
        self.status, self.headers, self.started = status, headers, True
        self.log.append("head")

    async def write(self, data: bytes) -> None:
        if self.gone:
            raise ConnectionResetError("the loopback connection is closed")
        self.body += data
        self.log.append("write")

    def end(self, last: bytes = b"") -> None:
        self.body += last
        self.finished = True
        self.log.append("end")

    def respond(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status, self.headers, self.started, self.finished = status, headers, True, True
        self.body += body
        self.log.append("respond")

    def abort(self) -> None:
        self.finished = self.aborted = True
        self.log.append("abort")
