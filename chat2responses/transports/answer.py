"""The answer mitmproxy relays: started on the first write, kept alive in silence, ended once.

`ClientAnswer` owns the loopback exchange of one call (loopback.py). The call starts before
mitmproxy's request reaches the driver, so every write first waits for the exchange to be
attached. It starts the answer (status 200, the sink's content type) at the first bytes, batches
writes while more events are already here, writes `: keepalive` comments when nothing was written
for `keepalive` seconds, and ends it once: a stream's last bytes, or a whole body (a JSON answer,
or an error before the head went out).

Must not: decide anything (the call machine does); it writes, tells the machine when the head
went out (`on_head`), and notes when the first data went (`CallTimes.first_byte`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from chat2responses.call.job import CallTimes
from chat2responses.call.timing import HEADER, server_timing

KEEPALIVE = b": keepalive\n\n"


class Exchange(Protocol):
    """Where the answer goes: mitmproxy's loopback request (loopback.Exchange), or a client's
    Responses WebSocket (client_socket.FrameExchange)."""

    started: bool
    finished: bool

    def start(self, status: int, headers: Mapping[str, str]) -> None: ...
    async def write(self, data: bytes) -> None: ...
    def end(self, last: bytes = b"") -> None: ...
    def respond(self, status: int, headers: Mapping[str, str], body: bytes) -> None: ...
    def abort(self) -> None: ...


class ClientAnswer:
    def __init__(
        self,
        *,
        content_type: str,
        streaming: bool,
        keepalive: float,
        times: CallTimes,
        on_head: Callable[[], None],
        head_headers: Callable[[], Mapping[str, str]] = dict,
    ) -> None:
        self.content_type = content_type
        self.streaming = streaming
        self.keepalive = keepalive
        self._times = times
        self._on_head = on_head
        self._head_headers = head_headers  # what the machine adds to the head (a tier's word)
        self._exchange: Exchange | None = None
        self._attached = asyncio.Event()
        self._pending: list[bytes] = []
        self._keepalive: asyncio.TimerHandle | None = None
        self._last_write = 0.0
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def started(self) -> bool:
        """Whether the answer's head went out."""
        return self._exchange is not None and self._exchange.started

    @property
    def attached(self) -> bool:
        """Whether mitmproxy's request arrived (there is someone to answer)."""
        return self._exchange is not None

    def attach(self, exchange: Exchange) -> None:
        """mitmproxy's request arrived: the answer goes to `exchange`."""
        self._exchange = exchange
        self._attached.set()

    async def ready(self) -> Exchange:
        if self._exchange is None:
            await self._attached.wait()
        assert self._exchange is not None
        return self._exchange

    def abandon(self) -> None:
        """The call is over: an answer not finished (cancelled, or the peer left) is cut."""
        self.stop_keepalive()
        if self._exchange is not None and not self._exchange.finished:
            self._exchange.abort()

    # ---- keep-alive comments ---------------------------------------------------------------

    def arm_keepalive(self) -> None:
        if self.keepalive > 0 and self.streaming:
            loop = asyncio.get_running_loop()
            self._last_write = loop.time()
            self._keepalive = loop.call_later(self.keepalive, self._keepalive_due)

    def stop_keepalive(self) -> None:
        """No comment goes out any more, not even one already waiting for the exchange: the
        machine decided how the answer ends knowing whether the head went out."""
        if self._keepalive is not None:
            self._keepalive.cancel()
            self._keepalive = None
        for task in self._tasks:
            task.cancel()

    def _keepalive_due(self) -> None:
        """Send `: keepalive` when nothing was written for `keepalive` seconds (a comment line:
        clients ignore it; never `: ping`, never `data:`, reference/codex-backend-2026.md §5)."""
        loop = asyncio.get_running_loop()
        wait = self.keepalive - (loop.time() - self._last_write)
        if wait <= 0.001:
            task = loop.create_task(self._write_keepalive())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            self._last_write, wait = loop.time(), self.keepalive
        self._keepalive = loop.call_later(wait, self._keepalive_due)

    async def _write_keepalive(self) -> None:
        # mitmproxy may have let go of the answer meanwhile (its client left): the call hears of
        # it through the exchange (loopback rule 4); a keep-alive has nothing to add.
        with contextlib.suppress(ConnectionResetError):
            await self._write(KEEPALIVE, comment=True)

    # ---- writing ---------------------------------------------------------------------------

    async def send(self, data: bytes, *, more: bool) -> None:
        """Write `data`; while more events are already here (and the head is out), collect them
        into one write."""
        if not data:
            return
        self._pending.append(data)
        if not more or not self.started:
            await self.flush()

    async def flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending) if len(self._pending) > 1 else self._pending[0]
            self._pending.clear()
            await self._write(data)

    async def _write(self, data: bytes, *, comment: bool = False) -> None:
        exchange = await self.ready()
        if not comment:
            self._note_first_byte(data)
        if not exchange.started:
            headers = {
                "content-type": self.content_type,
                "cache-control": "no-cache",
                "x-accel-buffering": "no",
                **self._head_headers(),
            }
            timing = server_timing(self._times)  # a stream's head: no total yet (timing rule 2)
            if timing:
                headers[HEADER] = timing
            exchange.start(200, headers)
            self._on_head()
        self._last_write = asyncio.get_running_loop().time()
        await exchange.write(data)

    async def end(self, last: bytes) -> None:
        """End a stream: what is pending and `last` go out with the end, in one write."""
        self.stop_keepalive()
        if not self.started:
            await self._write(b"")  # nothing was written: the head still goes first
        exchange = await self.ready()
        data = b"".join([*self._pending, last])
        self._pending.clear()
        self._note_first_byte(data)
        exchange.end(data)

    async def respond(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        """The whole answer at once: a JSON body (an answer, or an error before any byte)."""
        self.stop_keepalive()
        exchange = await self.ready()
        if status == 200:
            self._note_first_byte(body)
        timing = server_timing(self._times, time.monotonic())
        exchange.respond(status, {**headers, HEADER: timing} if timing else headers, body)

    def _note_first_byte(self, data: bytes) -> None:
        """The first data's time (for the call's summary): not a `: keepalive` comment."""
        if self._times.first_byte is None and data:
            self._times.first_byte = time.monotonic()


class Relayed:
    """Whether mitmproxy has relayed the answer's first bytes: set by the glue's stream callable,
    waited for by the call after its first write (call.py rule 2)."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    async def wait(self, seconds: float) -> None:
        """Until set, or `seconds` have passed: the call never stalls on it."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._event.wait()
