"""One upstream call, carried out: the attempts the policy asks for, in the client's format.

`UpstreamCall.run` is the one path of every rewritten call. Each attempt goes over HTTP SSE or
the WebSocket; its events are fed once to the call's sink (chat SSE or chat JSON), and what the
sink returns is written to mitmproxy, which only relays the bytes. When an attempt fails before
any output, `policy.next_attempt` decides what comes next; the call records one `CallOutcome` that
the glue reads once, and teaches `Memory` what the upstream showed.

Must not: decide (policy.py does), translate (the sink does), or put a credential anywhere but in
the upstream request: display copies of the headers are redacted here, as they are recorded.

Rule 1: before the first output, events are held back and an error keeps its HTTP status (a JSON
        error body); after it, an error is one error chunk and the stream ends.
Rule 2: when the sink says the answer is complete, the upstream is closed (a stop sequence).
Rule 3: the client leaving cancels the handler; leaving the `async with` closes the upstream.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import ClientSession, web

from addon.auth import bearer_of
from addon.errors import ProxyError, UpstreamError, error_body
from addon.events import Event, EventType, is_advisory_error, parse_event
from addon.pipeline import Transcript
from addon.policy import (
    Attempt,
    Route,
    Tried,
    body_for,
    classify,
    dead_end_note,
    first_attempt,
    lesson_of,
    next_attempt,
    retry_after,
)
from addon.profiles import response_create_frame
from addon.transports.http import open_http_events
from addon.transports.job import CallJob, CallOutcome, redacted
from addon.transports.websocket import WebSocketPool, open_response_stream

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 15.0
KEEPALIVE = b": keepalive\n\n"
# Events that come before any output: held back, so that an early error keeps its status.
PREAMBLE = frozenset({EventType.CREATED, EventType.IN_PROGRESS, EventType.QUEUED})


class UpstreamCall:
    """Runs one `CallJob` for one loopback request (`run`)."""

    def __init__(
        self, job: CallJob, session: Callable[[], ClientSession], pool: WebSocketPool
    ) -> None:
        self.job = job
        self._session = session
        self._pool = pool
        self._response: web.StreamResponse | None = None
        self._request: web.Request | None = None
        self._pending: list[bytes] = []
        self._bearer = ""  # the login's access token last sent (a 401 refreshes it)
        self._keepalive: asyncio.TimerHandle | None = None
        self._last_write = 0.0
        self._tasks: set[asyncio.Task[None]] = set()
        self._starting: asyncio.Task[web.StreamResponse] | None = None
        self.sink = job.make_sink()

    async def run(self, request: web.Request) -> web.StreamResponse:
        self._request = request
        self._arm_keepalive()
        try:
            return await self._run()
        finally:
            if self._keepalive is not None:
                self._keepalive.cancel()
            self._note_quota()

    async def _run(self) -> web.StreamResponse:
        job, outcome = self.job, self.job.outcome
        history: list[Tried] = []
        attempt: Attempt | None = first_attempt(job.plan)
        while attempt is not None:
            if attempt.delay > 0:
                await asyncio.sleep(attempt.delay)
            try:
                await self._guarded(attempt)
            except ProxyError as err:
                if isinstance(err, UpstreamError):
                    if outcome.upstream_status is None:
                        outcome.upstream_status = err.status  # what the leg shows
                    if job.quota is not None:
                        err = job.quota.usage_limit(err)
                failure = classify(attempt.route, err)
                history.append(
                    Tried(attempt, failure, err.status, retry_after(err), random.random())
                )
                outcome.tried = history
                if self.sink.started:  # output reached the client: no retry (rule 1)
                    return await self._fail_late(err)
                attempt = next_attempt(job.plan, tuple(history))
                if attempt is None:
                    err.message += dead_end_note(job.plan, failure)
                    if self._response is not None:  # keep-alive comments went out already
                        return await self._fail_late(err)
                    return self._fail_early(err)
                logger.info(
                    "%s: %s (%s); retrying %s",
                    job.match.upstream_name,
                    err.message,
                    err.status,
                    attempt.why,
                )
                self.sink = job.make_sink()
                continue
            history.append(Tried(attempt, None, 200))
            break
        outcome.tried = history
        for news in job.memory.learn(job.upstream, job.match, lesson_of(job.plan, tuple(history))):
            logger.info(news)
        assert self._response is not None
        return self._response

    def _note_quota(self) -> None:
        tap = self.job.quota
        if tap is not None:
            for warning in tap.warnings:
                logger.warning(warning)
            tap.warnings.clear()
            self.job.outcome.quota = tap.text()

    async def _guarded(self, attempt: Attempt) -> None:
        try:
            await self._attempt(attempt)
        except (ProxyError, asyncio.CancelledError, ConnectionResetError):
            raise  # ConnectionResetError: mitmproxy is gone (the client left), nobody to answer
        except Exception as exc:  # a bug must still end in an OpenAI error, never a cut
            logger.exception("chat2responses: the upstream call failed unexpectedly")
            raise ProxyError(f"chat2responses internal error: {exc}") from None

    # ---- keep-alive comments -----------------------------------------------------------------

    def _arm_keepalive(self) -> None:
        if self.job.keepalive > 0 and self.sink.streaming:
            loop = asyncio.get_running_loop()
            self._last_write = loop.time()
            self._keepalive = loop.call_later(self.job.keepalive, self._keepalive_due)

    def _keepalive_due(self) -> None:
        """Send `: keepalive` when nothing was written for `keepalive` seconds (a comment line:
        clients ignore it; never `: ping`, never `data:`, reference/codex-backend-2026.md §5)."""
        loop = asyncio.get_running_loop()
        silent = loop.time() - self._last_write
        wait = self.job.keepalive - silent
        if wait <= 0.001:
            task = loop.create_task(self._write(KEEPALIVE))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            self._last_write, wait = loop.time(), self.job.keepalive
        self._keepalive = loop.call_later(wait, self._keepalive_due)

    # ---- one attempt ----------------------------------------------------------------------

    async def _attempt(self, attempt: Attempt) -> None:
        """One attempt, start to end: the client's answer is complete when it returns."""
        body = body_for(attempt, self.job.body)
        held: list[Event] = []
        tap = self.job.quota
        advisory = attempt.route is Route.WEBSOCKET
        async with self._events(attempt, body) as events:
            async for event in events:
                if tap is not None and tap.event(event):
                    continue
                if advisory and self.sink.started and is_advisory_error(event):
                    logger.warning(
                        "%s: the upstream reported %s", self.job.match.upstream_name, event
                    )
                    continue
                if not self.sink.started and event["type"] in PREAMBLE:
                    held.append(event)
                    continue
                if held:
                    for early in held:
                        await self._send(self.sink.feed(early), more=True)
                    held.clear()
                await self._send(self.sink.feed(event), more=events.buffered())
                if self.sink.done:
                    break
                self.sink.check_size(events.received)
            for early in held:
                await self._send(self.sink.feed(early), more=True)
            await self._complete()
            if not self.sink.stopped:
                await events.drain()  # the rest of an HTTP body: its connection can be reused

    @asynccontextmanager
    async def _events(self, attempt: Attempt, body: dict[str, Any]) -> AsyncIterator[Any]:
        job, outcome = self.job, self.job.outcome
        headers = dict(job.headers)
        if job.login is not None:
            if attempt.fresh_login:
                headers.update(await job.login.refresh_after_401(self._bearer))
            else:
                headers.update(await job.login.headers())
            self._bearer = bearer_of(headers)
        outcome.upstream_status = None
        if attempt.route is Route.HTTP:
            headers.update(job.http_headers)
            outcome.headers = redacted(headers)
            outcome.sent = _json(body)
            outcome.upstream = Transcript()
            async with open_http_events(
                self._session(),
                job.http_url,
                headers=headers,
                body=body,
                ssl=job.ssl,
                connect_timeout=CONNECT_TIMEOUT,
                idle_timeout=job.idle_timeout,
                transcript=outcome.upstream,
                on_headers=job.quota.headers if job.quota is not None else None,
            ) as events:
                outcome.upstream_status = 200
                yield _Events(events) if isinstance(events, list) else events
            return
        headers.update(job.profile.ws_headers)
        outcome.headers = redacted(headers)
        frame = response_create_frame(job.profile, body, job.ws_extra)
        outcome.sent = _json(frame)
        outcome.frames, outcome.frames_size = [], 0
        async with open_response_stream(
            job.ws_url,
            headers=headers,
            frame=frame,
            ssl=job.ssl,
            connect_timeout=CONNECT_TIMEOUT,
            idle_timeout=job.idle_timeout,
            pool=self._pool,
            on_handshake=job.quota.headers if job.quota is not None else None,
        ) as frames:
            outcome.upstream_status = 101
            yield _Frames(frames, outcome)

    # ---- writing to mitmproxy -------------------------------------------------------------

    async def _send(self, data: bytes, *, more: bool) -> None:
        """Write `data`; while more events are already here, collect them into one write."""
        if not data:
            return
        self._pending.append(data)
        if not more:
            await self._flush()

    async def _flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending) if len(self._pending) > 1 else self._pending[0]
            self._pending.clear()
            await self._write(data)

    async def _write(self, data: bytes) -> None:
        if self._response is None:
            if self._starting is None:
                self._starting = asyncio.get_running_loop().create_task(self._start(200))
            self._response = await self._starting
        self._last_write = asyncio.get_running_loop().time()
        await self._response.write(data)

    async def _start(self, status: int) -> web.StreamResponse:
        assert self._request is not None
        self.job.outcome.status = status
        self.job.outcome.first_byte_at = time.monotonic()
        response = web.StreamResponse(
            status=status,
            headers={
                "content-type": self.sink.content_type,
                "cache-control": "no-cache",
                "x-accel-buffering": "no",
            },
        )
        response.enable_chunked_encoding()
        await response.prepare(self._request)
        return response

    async def _complete(self) -> None:
        """The answer's end: the last chunks and `[DONE]`, or the whole JSON body (raises the
        upstream's error, e.g. a stream that ended before its terminal event)."""
        outcome, sink = self.job.outcome, self.sink
        data = sink.finish()
        if sink.streaming:
            await self._send(data, more=False)
            await self._close(sink.error)
            return
        assert self._request is not None
        outcome.status, outcome.first_byte_at = 200, time.monotonic()
        outcome.usage = sink.usage
        response = web.Response(status=200, body=data, content_type="application/json")
        await response.prepare(self._request)
        await response.write_eof()
        self._response = response

    def _fail_early(self, err: ProxyError) -> web.Response:
        outcome = self.job.outcome
        outcome.status, outcome.error = err.status, err.message
        outcome.first_byte_at = time.monotonic()
        return web.Response(
            status=err.status,
            body=error_body(err),
            headers={**err.headers, "content-type": "application/json"},
        )

    async def _fail_late(self, err: ProxyError) -> web.StreamResponse:
        if not self.sink.streaming:
            return self._fail_early(err)
        await self._send(self.sink.fail(err), more=False)
        return await self._close(err)

    async def _close(self, err: ProxyError | None) -> web.StreamResponse:
        outcome = self.job.outcome
        await self._flush()
        if self._keepalive is not None:
            self._keepalive.cancel()
        assert self._response is not None
        await self._response.write_eof()
        outcome.usage = self.sink.usage
        outcome.error = err.message if err is not None else None
        client = getattr(self.sink, "client", None)
        outcome.client = client.value() if client is not None else b""
        return self._response


class _Events:
    """A JSON Response's events (an upstream ignoring `stream: true`), iterated like a stream."""

    def __init__(self, events: list[Event]) -> None:
        self._events = iter(events)
        self.received = 0  # the JSON answer was read within MAX_EVENT_BYTES already

    def buffered(self) -> bool:
        return True

    async def drain(self) -> None:
        pass

    def __aiter__(self) -> _Events:
        return self

    async def __anext__(self) -> Event:
        try:
            return next(self._events)
        except StopIteration:
            raise StopAsyncIteration from None


class _Frames:
    """WebSocket frames → events, each frame kept (bounded) for display."""

    def __init__(self, frames: Any, outcome: CallOutcome) -> None:
        self._frames = frames
        self._outcome = outcome
        self.received = 0

    def buffered(self) -> bool:
        return bool(self._frames.buffered())

    async def drain(self) -> None:
        pass  # a socket goes back to the pool at the terminal event

    def __aiter__(self) -> _Frames:
        return self

    async def __anext__(self) -> Event:
        frame = await self._frames.__anext__()
        self.received += len(frame)
        self._outcome.keep_frame(frame)
        return parse_event(frame)


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
