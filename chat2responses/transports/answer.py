"""The answer mitmproxy relays: started on the first write, kept alive in silence, ended once.

`ClientAnswer` owns the loopback exchange of one call (loopback.py). The call starts before
mitmproxy's request reaches the driver, so every write first waits for the exchange to be
attached. It starts the answer (status 200, SSE headers) at the first byte to send, batches
writes while more events are already here, writes `: keepalive` comments when nothing was written
for `keepalive` seconds, and ends it with the sink's last bytes or its error — an OpenAI error
body before the first byte, one error chunk after it.

Must not: decide anything about the upstream (call.py does); it only writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from chat2responses.call.job import CallOutcome
from chat2responses.protocol.errors import ProxyError, error_body
from chat2responses.response.chat_sinks import Sink
from chat2responses.transports.loopback import JSON, Exchange

KEEPALIVE = b": keepalive\n\n"


class ClientAnswer:
    def __init__(self, outcome: CallOutcome, keepalive: float) -> None:
        self.outcome = outcome
        self.keepalive = keepalive
        self.sink: Sink | None = None  # the current attempt's (set by the call)
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

    def attach(self, exchange: Exchange) -> None:
        """mitmproxy's request arrived: the answer goes to `exchange`."""
        self._exchange = exchange
        self._attached.set()

    async def _ready(self) -> Exchange:
        if self._exchange is None:
            await self._attached.wait()
        assert self._exchange is not None
        return self._exchange

    def abandon(self) -> None:
        """The call is over: a keep-alive write still waiting (for an exchange that never came)
        is cancelled, and an answer not finished (cancelled, or the peer left) is cut."""
        for task in self._tasks:
            task.cancel()
        if self._exchange is not None and not self._exchange.finished:
            self._exchange.abort()

    def stop_keepalive(self) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()

    @property
    def _sink(self) -> Sink:
        assert self.sink is not None
        return self.sink

    def arm_keepalive(self) -> None:
        if self.keepalive > 0 and self._sink.streaming:
            loop = asyncio.get_running_loop()
            self._last_write = loop.time()
            self._keepalive = loop.call_later(self.keepalive, self._keepalive_due)

    def _keepalive_due(self) -> None:
        """Send `: keepalive` when nothing was written for `keepalive` seconds (a comment line:
        clients ignore it; never `: ping`, never `data:`, reference/codex-backend-2026.md §5)."""
        loop = asyncio.get_running_loop()
        silent = loop.time() - self._last_write
        wait = self.keepalive - silent
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
            await self.write(KEEPALIVE)

    async def send(self, data: bytes, *, more: bool) -> None:
        """Write `data`; while more events are already here (and the first byte is out), collect
        them into one write."""
        if not data:
            return
        self._pending.append(data)
        if not more or not self.started:
            await self.flush()

    async def flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending) if len(self._pending) > 1 else self._pending[0]
            self._pending.clear()
            await self.write(data)

    async def write(self, data: bytes) -> None:
        exchange = await self._ready()
        self._note_first_chunk(data)
        if not exchange.started:
            self.outcome.status = 200
            headers = {
                "content-type": self._sink.content_type,
                "cache-control": "no-cache",
                "x-accel-buffering": "no",
            }
            exchange.start(200, headers)
        self._last_write = asyncio.get_running_loop().time()
        await exchange.write(data)

    def _note_first_chunk(self, data: bytes) -> None:
        """The first chunk's time (for the call's summary): data, not a `: keepalive` comment."""
        if self.outcome.first_byte_at is None and data and data != KEEPALIVE:
            self.outcome.first_byte_at = time.monotonic()

    async def complete(self) -> None:
        """The answer's end: the last chunks and `[DONE]`, or the whole JSON body (raises the
        upstream's error, e.g. a stream that ended before its terminal event)."""
        outcome, sink = self.outcome, self._sink
        data = sink.finish()
        if sink.streaming:
            await self.send(data, more=True)  # it goes out with the end (close)
            await self.close(sink.error)
            return
        exchange = await self._ready()
        outcome.status, outcome.first_byte_at = 200, time.monotonic()
        outcome.usage = sink.usage
        exchange.respond(200, JSON, data)

    async def fail_early(self, err: ProxyError) -> None:
        exchange = await self._ready()
        outcome = self.outcome
        outcome.status, outcome.error = err.status, err.message  # no chunk: no first-chunk time
        exchange.respond(err.status, {**err.headers, **JSON}, error_body(err))

    async def fail_now(self, err: ProxyError) -> None:
        """End an answer not finished yet with `err`, as far as it got: an error body, or one
        error chunk. Nothing when mitmproxy's request never came (no one to answer)."""
        exchange = self._exchange
        if exchange is None or exchange.finished:
            return
        if self.started:
            await self.fail_late(err)
        else:
            await self.fail_early(err)

    async def fail_late(self, err: ProxyError) -> None:
        if not self._sink.streaming:
            await self.fail_early(err)
            return
        await self.send(self._sink.fail(err), more=True)  # it goes out with the end (close)
        await self.close(err)

    async def close(self, err: ProxyError | None) -> None:
        """End the stream: what is pending goes out with the end, in one write."""
        outcome = self.outcome
        if not self.started:
            await self.write(b"")  # nothing was written: the head still goes first
        if self._keepalive is not None:
            self._keepalive.cancel()
        exchange = await self._ready()
        last = b"".join(self._pending)
        self._pending.clear()
        self._note_first_chunk(last)
        exchange.end(last)
        outcome.usage = self._sink.usage
        outcome.error = err.message if err is not None else None
        client = getattr(self.sink, "client", None)
        outcome.client = client.value() if client is not None else b""


class Relayed:
    """Whether mitmproxy has relayed the answer's first bytes: set by the glue's stream callable,
    waited for by the answer after its first write (answer.py rule 1)."""

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
