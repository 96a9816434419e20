"""The answer mitmproxy relays: started on the first write, kept alive in silence, ended once.

`ClientAnswer` owns the loopback HTTP response of one call: it starts it (status 200, SSE headers)
at the first byte to send, batches writes while more events are already here, writes `: keepalive`
comments when nothing was written for `keepalive` seconds, and ends it with the sink's last bytes
or its error — an OpenAI error body before the first byte, one error chunk after it.

Must not: decide anything about the upstream (call.py does); it only writes.
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from chat2responses.errors import ProxyError, error_body
from chat2responses.pipeline import Sink
from chat2responses.transports.job import CallOutcome

KEEPALIVE = b": keepalive\n\n"


class ClientAnswer:
    def __init__(self, request: web.Request, outcome: CallOutcome, keepalive: float) -> None:
        self._request = request
        self.outcome = outcome
        self.keepalive = keepalive
        self.sink: Sink | None = None  # the current attempt's (set by the call)
        self.response: web.StreamResponse | None = None
        self._pending: list[bytes] = []
        self._keepalive: asyncio.TimerHandle | None = None
        self._last_write = 0.0
        self._tasks: set[asyncio.Task[None]] = set()
        self._starting: asyncio.Task[web.StreamResponse] | None = None

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
            task = loop.create_task(self.write(KEEPALIVE))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            self._last_write, wait = loop.time(), self.keepalive
        self._keepalive = loop.call_later(wait, self._keepalive_due)

    async def send(self, data: bytes, *, more: bool) -> None:
        """Write `data`; while more events are already here, collect them into one write."""
        if not data:
            return
        self._pending.append(data)
        if not more:
            await self.flush()

    async def flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending) if len(self._pending) > 1 else self._pending[0]
            self._pending.clear()
            await self.write(data)

    async def write(self, data: bytes) -> None:
        if self.response is None:
            if self._starting is None:
                self._starting = asyncio.get_running_loop().create_task(self.start(200))
            self.response = await self._starting
        self._last_write = asyncio.get_running_loop().time()
        await self.response.write(data)

    async def start(self, status: int) -> web.StreamResponse:
        assert self._request is not None
        self.outcome.status = status
        self.outcome.first_byte_at = time.monotonic()
        response = web.StreamResponse(
            status=status,
            headers={
                "content-type": self._sink.content_type,
                "cache-control": "no-cache",
                "x-accel-buffering": "no",
            },
        )
        response.enable_chunked_encoding()
        await response.prepare(self._request)
        return response

    async def complete(self) -> None:
        """The answer's end: the last chunks and `[DONE]`, or the whole JSON body (raises the
        upstream's error, e.g. a stream that ended before its terminal event)."""
        outcome, sink = self.outcome, self._sink
        data = sink.finish()
        if sink.streaming:
            await self.send(data, more=False)
            await self.close(sink.error)
            return
        assert self._request is not None
        outcome.status, outcome.first_byte_at = 200, time.monotonic()
        outcome.usage = sink.usage
        response = web.Response(status=200, body=data, content_type="application/json")
        await response.prepare(self._request)
        await response.write_eof()
        self.response = response

    def fail_early(self, err: ProxyError) -> web.Response:
        outcome = self.outcome
        outcome.status, outcome.error = err.status, err.message
        outcome.first_byte_at = time.monotonic()
        return web.Response(
            status=err.status,
            body=error_body(err),
            headers={**err.headers, "content-type": "application/json"},
        )

    async def fail_late(self, err: ProxyError) -> web.StreamResponse:
        if not self._sink.streaming:
            return self.fail_early(err)
        await self.send(self._sink.fail(err), more=False)
        return await self.close(err)

    async def close(self, err: ProxyError | None) -> web.StreamResponse:
        outcome = self.outcome
        await self.flush()
        if self._keepalive is not None:
            self._keepalive.cancel()
        assert self.response is not None
        await self.response.write_eof()
        outcome.usage = self._sink.usage
        outcome.error = err.message if err is not None else None
        client = getattr(self.sink, "client", None)
        outcome.client = client.value() if client is not None else b""
        return self.response
