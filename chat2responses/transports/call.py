"""One upstream call, carried out: the attempts the policy asks for, in the client's format.

`UpstreamCall.run` is the one path of every rewritten call. Each attempt goes over HTTP SSE or
the WebSocket; its events are fed once to the call's sink (chat SSE or chat JSON), and what the
sink returns is written to mitmproxy, which only relays the bytes. When an attempt fails before
any output, `policy.next_attempt` decides what comes next; the call records one `CallOutcome` that
the glue reads once, and teaches `Memory` what the upstream showed.

Must not: decide (policy.py does), translate (the sink does), or put a credential anywhere but in
the upstream request: display copies of the headers are redacted here, as they are recorded.

Rule 1: before the first output an error keeps its HTTP status (a JSON error body); after it,
        an error is one error chunk and the stream ends. The sinks write nothing for the
        preamble (events.PREAMBLE: `response.created`, …), so it is not output.
Rule 2: when the sink says the answer is complete, the upstream is closed (a stop sequence).
Rule 3: the client leaving cancels the call; leaving the `async with` closes the upstream.
Rule 4: the call starts as soon as the glue registers it, before mitmproxy's request reaches the
        driver: the upstream's answer is on its way while mitmproxy makes the loopback hop.
Rule 5: first bytes first. mitmproxy relays the answer on this same event loop, and an upstream
        that answers in a burst keeps the loop busy reading, decoding and translating; so once
        the first bytes are written, the upstream socket is not read (its data waits in the
        kernel) until the glue says mitmproxy relayed them (`job.relayed`), at most
        FIRST_RELAY_WAIT. The client's first byte comes that much sooner; nothing is lost.
Rule 6: the outcome is final when the client's answer is: the answered attempt is recorded right
        after the answer's end is written, before the rest of an HTTP body is drained, because
        mitmproxy may end the flow and report it as soon as it has relayed that end.
Rule 7: a call the proxy cancels as it stops (`stopping` set) ends its answer with that error:
        a JSON error body before the first byte, one error chunk after it; never a cut stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from aiohttp import ClientSession

from chat2responses.call.job import CallJob, redacted
from chat2responses.call.memory import lesson_of
from chat2responses.call.policy import (
    Attempt,
    Failure,
    Reason,
    Route,
    Tried,
    body_for,
    classify,
    dead_end_note,
    first_attempt,
    next_attempt,
    retry_after,
)
from chat2responses.protocol.errors import ProxyError, UpstreamError
from chat2responses.protocol.events import is_advisory_error
from chat2responses.protocol.transcript import Transcript
from chat2responses.protocol.wire import dumps
from chat2responses.transports.answer import ClientAnswer
from chat2responses.transports.attempt_events import FrameEvents, JsonEvents, reading_paused
from chat2responses.transports.http import open_http_events
from chat2responses.transports.websocket import WebSocketPool, open_response_stream
from chat2responses.upstream.login import bearer_of
from chat2responses.upstream.profiles import response_create_frame

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 15.0
KEEPALIVE = b": keepalive\n\n"
FIRST_RELAY_WAIT = 0.02  # seconds, at most (rule 5)


class UpstreamCall:
    """Runs one `CallJob` for one loopback request (`run`)."""

    def __init__(
        self, job: CallJob, session: Callable[[], ClientSession], pool: WebSocketPool
    ) -> None:
        self.job = job
        self._session = session
        self._pool = pool
        self._bearer = ""  # the login's access token last sent (a 401 refreshes it)
        self.sink = job.make_sink()
        self.answer = ClientAnswer(job.outcome, job.keepalive)
        self.answer.sink = self.sink
        self.stopping: ProxyError | None = None  # why the proxy cancels it (rule 7)

    async def run(self) -> None:
        """The whole call; its answer goes to the exchange attached to `answer` (it waits for
        mitmproxy's request to arrive before its first write)."""
        self.answer.arm_keepalive()
        try:
            await self._run()
        except asyncio.CancelledError:
            if self.stopping is None:
                raise
            with contextlib.suppress(ConnectionResetError):  # mitmproxy let go of it meanwhile
                await self.answer.fail_now(self.stopping)  # rule 7
        except ConnectionResetError:
            logger.debug("the loopback connection closed: nobody to answer")
        except Exception as exc:  # a bug must still end in an answer, never a hang
            logger.exception("chat2responses: the call failed unexpectedly")
            if not self.answer.started:
                await self.answer.fail_early(ProxyError(f"chat2responses internal error: {exc}"))
        finally:
            self.answer.stop_keepalive()
            self.answer.abandon()
            self._note_quota()
            self._let_go()

    async def _run(self) -> None:
        job, outcome = self.job, self.job.outcome
        if job.turn is not None and job.plan.route is Route.WEBSOCKET:
            full = body_for(first_attempt(job.plan), job.body)
            if job.turn.plan(full, self._pool.usable):  # policy rule 7: the first attempt only
                job.plan = replace(job.plan, continuation=True)
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
                failure = self._failure(attempt, err)
                history.append(
                    Tried(attempt, failure, err.status, retry_after(err), random.random())
                )
                outcome.tried = history
                if self.sink.started:  # output reached the client: no retry (rule 1)
                    await self.answer.fail_late(err)
                    return
                attempt = next_attempt(job.plan, tuple(history))
                if attempt is None:
                    err.message += dead_end_note(job.plan, failure)
                    if self.answer.started:  # keep-alive comments went out already
                        await self.answer.fail_late(err)
                    else:
                        await self.answer.fail_early(err)
                    return
                if failure is Failure.WEBSOCKET_REFUSED and job.plan.reason is Reason.CATALOG:
                    logger.warning(
                        "%s: the catalog says it prefers the WebSocket, but %s refused the "
                        "upgrade (%s); trying HTTP, and keeping to it if it answers",
                        job.match.upstream_name,
                        job.upstream,
                        err.status,
                    )
                logger.info(
                    "%s: %s (%s); retrying %s",
                    job.match.upstream_name,
                    err.message,
                    err.status,
                    attempt.why,
                )
                self.sink = self.answer.sink = job.make_sink()  # the old one saw the failure
                continue
            break

    def _answered(self, attempt: Attempt) -> None:
        """`attempt` answered the client: the outcome is final before anything else is awaited
        (rule 6; mitmproxy may end the flow and read it as soon as the answer's end is out)."""
        job, outcome = self.job, self.job.outcome
        history = [*outcome.tried, Tried(attempt, None, 200)]
        outcome.tried = history
        if job.turn is not None:
            for news in job.turn.finished(attempt):
                logger.warning(news)
        lesson = lesson_of(job.plan, tuple(history))
        outcome.learned = lesson.route is not None
        for news in job.memory.learn(job.upstream, job.match, lesson):
            logger.info(news)

    def _let_go(self) -> None:
        """Sockets the conversation store no longer holds go back to the pool (or close); so does
        a continuation's socket that no attempt used (the client left first)."""
        turn = self.job.turn
        if turn is not None and turn.continuation is not None and not self.job.outcome.tried:
            self._pool.give_back(turn.continuation.socket)
            turn.continuation = None
        if turn is not None and turn.store is not None:
            for ws in turn.store.evicted():
                self._pool.give_back(ws)

    def _note_quota(self) -> None:
        tap = self.job.quota
        if tap is not None:
            for warning in tap.warnings:
                logger.warning(warning)
            tap.warnings.clear()
            self.job.outcome.quota = tap.text()

    def _failure(self, attempt: Attempt, err: ProxyError) -> Failure:
        """The policy's view of `err`, told what this call knows of its conversation."""
        failure = classify(attempt.route, err, continued=attempt.continued)
        turn = self.job.turn
        if failure is Failure.REPLAY_REFUSED and (turn is None or not turn.replayed):
            failure = Failure.FATAL  # the client's own items: nothing of ours to take out
        if turn is not None and failure is Failure.CONTINUATION_MISS:
            turn.missed()
        if turn is not None and failure is Failure.REPLAY_REFUSED:
            turn.replay_refused()
        return failure

    async def _guarded(self, attempt: Attempt) -> None:
        try:
            await self._attempt(attempt)
        except (ProxyError, asyncio.CancelledError, ConnectionResetError):
            raise  # ConnectionResetError: mitmproxy is gone (the client left), nobody to answer
        except Exception as exc:  # a bug must still end in an OpenAI error, never a cut
            logger.exception("chat2responses: the upstream call failed unexpectedly")
            raise ProxyError(f"chat2responses internal error: {exc}") from None

    # ---- one attempt ----------------------------------------------------------------------

    async def _attempt(self, attempt: Attempt) -> None:
        """One attempt, start to end: the client's answer is complete when it returns."""
        body = body_for(attempt, self.job.body)
        tap, turn = self.job.quota, self.job.turn
        advisory = attempt.route is Route.WEBSOCKET
        relayed = self.job.relayed
        async with self._events(attempt, body) as events:
            async for event in events:
                if tap is not None and tap.event(event):
                    continue
                if turn is not None:
                    turn.observe(event)
                if advisory and self.sink.started and is_advisory_error(event):
                    logger.warning(
                        "%s: the upstream reported %s", self.job.match.upstream_name, event
                    )
                    continue
                data = self.sink.feed(event)  # nothing for the preamble (rule 1)
                # The answer's last events go out with its end (ClientAnswer.close).
                await self.answer.send(data, more=events.buffered() or self.sink.done)
                if relayed is not None and self.answer.started:  # rule 5
                    with reading_paused(events.transport()):
                        await relayed.wait(FIRST_RELAY_WAIT)
                    relayed = None
                if self.sink.done:
                    break
                self.sink.check_size(events.received)
            await self.answer.complete()
            self._answered(attempt)
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
        headers.update(job.session_headers)  # the conversation's, over a login's per-process one
        turn, socket, full = job.turn, None, body
        if turn is not None:
            body, socket = turn.body(attempt, body)
            outcome.sent_items, outcome.full_items = turn.sent_items, turn.full_items
            outcome.replayed, outcome.continued = turn.replayed, socket is not None
            outcome.full_body = full if socket is not None else None
        outcome.upstream_status = None
        if attempt.route is Route.HTTP:
            headers.update(job.http_headers)
            outcome.headers = redacted(headers)
            outcome.sent = dumps(body).encode()
            outcome.upstream = Transcript()
            async with open_http_events(
                self._session(),
                job.http_url,
                headers=headers,
                body=outcome.sent,
                ssl=job.ssl,
                connect_timeout=CONNECT_TIMEOUT,
                idle_timeout=job.idle_timeout,
                transcript=outcome.upstream,
                on_headers=job.quota.headers if job.quota is not None else None,
            ) as events:
                outcome.upstream_status = 200
                yield JsonEvents(events) if isinstance(events, list) else events
            return
        headers.update(job.profile.ws_headers)
        outcome.headers = redacted(headers)
        frame = response_create_frame(job.profile, body, job.ws_extra)
        outcome.sent = dumps(frame).encode()
        outcome.frames, outcome.frames_size = [], 0
        async with open_response_stream(
            job.ws_url,
            headers=headers,
            frame=outcome.sent.decode(),
            ssl=job.ssl,
            connect_timeout=CONNECT_TIMEOUT,
            idle_timeout=job.idle_timeout,
            pool=self._pool,
            on_handshake=job.quota.headers if job.quota is not None else None,
            socket=socket,  # type: ignore[arg-type]
            keep=self._keep_socket if turn is not None else None,
        ) as frames:
            outcome.upstream_status = 101
            yield FrameEvents(frames, outcome)

    def _keep_socket(self, ws: Any) -> bool:
        turn = self.job.turn
        opened = self._pool.opened_at(ws)
        return turn is not None and opened is not None and turn.remember(ws, opened)
