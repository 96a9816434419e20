"""One upstream call as a machine: what happened in, what to do next out.

`CallMachine` is the whole of a rewritten call's logic; transports/call.py only carries out its
commands, as emulator/websocket.py carries out the emulator session's steps. The runner tells it
what happened (`start`, each upstream `event`, the events' `end`, a `failure`, the answer's head
going out) and does what it returns:

(call/commands.py says what each command asks.)

Rule 1: before the first output an error keeps its HTTP status and may be retried; after it, an
        error is one error chunk and the stream ends. The sinks write nothing for the preamble,
        so the preamble is not output.
Rule 2: the machine alone writes the call's outcome, and it is final when `Finish` or `Fail` is
        returned (mitmproxy may end the flow as soon as the answer's end is relayed).
Rule 3: a failure is classified once (call/policy.py), adjusted by what this call knows of its
        conversation (a refused replay when nothing was replayed is the client's own; a
        continuation miss forgets the conversation), and the policy alone picks the next attempt.
Rule 4: a continuation is planned once, before the first attempt, on the WebSocket route only.
Rule 5: what the call taught (the route that answered, refused summaries, dropped WebSockets)
        goes to Memory once, when the answer ends, answered or not.
Rule 6: an `error` frame on the WebSocket route that carries no status and no known code is
        advisory once output began: logged, and the answer goes on (as the Codex CLI does).
Rule 7: a client's stop sequence ends the answer's text, not the call: the upstream is read on
        for at most LINGER seconds, for the usage its terminal event carries (the client's
        usage chunk, the summary's tokens), then closed.
Rule 8: one retry budget for the whole chain: a call whose transient failures used up its
        retries spends its request's budget (call/budget.py: the client's retry of it makes no
        retries, until it is answered), and its error tells the client not to retry, in the
        form the client honours (call/giving_up.py).
Pure: no I/O and no clock; the jitter of a backoff is injected.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from chat2responses.call.attempt_request import open_attempt
from chat2responses.call.commands import LINGER, Command, Fail, Finish, Linger, Open, Write
from chat2responses.call.giving_up import giving_up, retries_spent
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
    dead_end,
    first_attempt,
    next_attempt,
    retry_after,
)
from chat2responses.protocol.errors import ProxyError, UpstreamError
from chat2responses.protocol.events import Event, is_advisory_error
from chat2responses.protocol.redact import redact
from chat2responses.protocol.transcript import Transcript
from chat2responses.response.responses_sinks import ResponsesStreamSink

logger = logging.getLogger(__name__)

# An error object in a frame (an `error` event, `response.failed`); `"error": null` is none.
_CARRIES_ERROR = re.compile(r'"error"\s*:\s*(?!null)')


class CallMachine:
    """The logic of one call (see the module rules); one per `CallJob`."""

    def __init__(self, job: CallJob, *, jitter: Callable[[], float]) -> None:
        self.job = job
        self.outcome = job.outcome
        self.sink = job.make_sink()
        self._jitter = jitter
        self._attempt: Attempt | None = None
        self._head_out = False  # the answer's head went out (a first write, or a keepalive)
        self._lingering = False  # a stop sequence ended the text (rule 7)
        self.ended = False  # Finish or Fail was returned

    # ---- what the runner asks ------------------------------------------------------------

    @property
    def streaming(self) -> bool:
        return self.sink.streaming

    @property
    def content_type(self) -> str:
        return self.sink.content_type

    @property
    def attempt(self) -> Attempt:
        assert self._attempt is not None, "start() first"
        return self._attempt

    # ---- what happened ---------------------------------------------------------------------

    def start(self, socket_usable: Callable[[object], bool]) -> Open:
        """The first attempt; a WebSocket call continues its conversation when it can (rule 4)."""
        job = self.job
        turn, plan = job.turn, job.plan
        first = body_for(first_attempt(plan), job.body)
        if turn is not None and plan.route is Route.WEBSOCKET and turn.plan(first, socket_usable):
            job.plan = replace(plan, continuation=True)
        return self._open(first_attempt(job.plan))

    def head_out(self) -> None:
        """The answer's head went out: from now on an error is in the stream (rule 1)."""
        self._head_out = True
        self.outcome.status = 200

    def answer_headers(self) -> dict[str, str]:
        """What the answer's head adds: the served tier's word when it was downgraded."""
        notes = self.job.quota.notes if self.job.quota is not None else None
        return notes.answer_headers() if notes is not None else {}

    def sending(self, headers: Mapping[str, str]) -> None:
        """The attempt's request goes out with `headers`: kept for display, redacted."""
        self.outcome.headers = redacted(headers)

    def opened(self, status: int, headers: Mapping[str, Any] | None = None) -> None:
        """The upstream accepted the attempt (200, or 101 for a WebSocket)."""
        self.outcome.upstream_status = status
        if headers is not None:
            self.upstream_headers(headers)

    def on_socket(self, number: int, turn: int) -> None:
        """The attempt went over WebSocket `number` of this process, its `turn`-th response."""
        self.outcome.socket, self.outcome.socket_turn = number, turn

    @property
    def output_started(self) -> bool:
        """Whether the answer's first output was produced (the runner notes when)."""
        return self.sink.started

    def upstream_headers(self, headers: Mapping[str, Any]) -> None:
        """An HTTP answer's or a WebSocket handshake's headers: they carry quota readings."""
        if self.job.quota is not None:
            self.job.quota.headers(headers)

    def frame(self, text: str) -> None:
        """A WebSocket frame, kept (bounded) for display; a frame carrying an error (not
        `"error": null`) redacted, as its error is (protocol/redact.py)."""
        if self.outcome.has_room(len(text)):
            self.outcome.keep_frame(redact(text) if _CARRIES_ERROR.search(text) else text)

    def transcript(self) -> Transcript:
        """Where an HTTP attempt's raw answer is kept for display."""
        return self.outcome.upstream

    def event(self, event: Event) -> Command | None:
        """One upstream event: bytes for the client, the answer's end, or what a failure calls
        for (rules 1, 6)."""
        job = self.job
        if job.quota is not None:
            job.quota.event(event)  # quota, tier, metadata: read, and passed on to the sink
        if job.turn is not None:
            job.turn.observe(event)
        if self.attempt.route is Route.WEBSOCKET and self.sink.started and is_advisory_error(event):
            logger.warning("%s: the upstream reported %s", job.model, event)
            return None
        try:
            data = self.sink.feed(event)
        except ProxyError as err:
            return self.failure(err)
        if self.sink.done:
            return self._complete(data)
        if self.sink.stopped and not self._lingering:
            self._lingering = True
            return Linger(data, LINGER)  # rule 7
        return Write(data) if data else None

    def received(self, size: int) -> Command | None:
        """`size` bytes of upstream events so far: a buffered answer past its cap fails."""
        try:
            self.sink.check_size(size)
        except ProxyError as err:
            return self.failure(err)
        return None

    def end(self) -> Command:
        """The attempt's events ended: the answer is complete, or the stream broke off."""
        return self._complete(b"")

    def lingered(self) -> Command:
        """No terminal event within `Linger.seconds`: the answer ends without its usage, and the
        upstream is closed (rule 7)."""
        return self._complete(b"", close=True)

    def failure(self, err: ProxyError) -> Open | Fail:
        """The attempt failed with `err`: the next attempt, or the answer's end (rules 1, 3)."""
        job, outcome, attempt = self.job, self.outcome, self.attempt
        if isinstance(err, UpstreamError):
            if outcome.upstream_status is None:
                outcome.upstream_status = err.status  # what the leg shows
            if job.quota is not None:
                err = job.quota.usage_limit(err)
            if job.explain is not None:
                err = job.explain(err)  # the likely cause and the fix, in words
        failure = self._classify(attempt, err)
        outcome.tried.append(Tried(attempt, failure, err.status, retry_after(err), self._jitter()))
        if self.sink.started:  # output reached the client: no retry
            return self._fail(err)
        following = next_attempt(job.plan, tuple(outcome.tried))
        if following is None:
            spent = retries_spent(job.plan, tuple(outcome.tried))
            if spent and job.budget is not None:
                job.budget.used_up(job.budget_key)  # rule 8
            return self._fail(dead_end(job.plan, tuple(outcome.tried), err), spent=spent)
        if failure is Failure.WEBSOCKET_REFUSED and job.plan.reason is Reason.CATALOG:
            logger.warning(
                "%s: the catalog says it prefers the WebSocket, but %s refused the upgrade (%s); "
                "trying HTTP, and keeping to it if it answers",
                job.model,
                job.upstream.key,
                err.status,
            )
        logger.info("%s: %s (%s); retrying %s", job.model, err.message, err.status, following.why)
        self.sink = job.make_sink()  # the old one saw the failure
        return self._open(following)

    def stop(self, err: ProxyError) -> Fail | None:
        """The proxy is stopping: the answer ends with `err` (None: it has ended already)."""
        return None if self.ended else self._fail(err)

    # ---- the call's conversation and the end -----------------------------------------------

    def keep_socket(self, socket: object, opened_at: float) -> bool:
        """Whether the conversation keeps `socket` (the answered attempt's) for its next turn."""
        turn = self.job.turn
        return turn is not None and turn.remember(socket, opened_at)

    def sockets_to_release(self) -> list[object]:
        """Sockets the call's conversation store no longer holds, and a continuation's socket no
        attempt used (the client left first): back to the pool, or closed."""
        turn = self.job.turn
        if turn is None:
            return []
        released: list[object] = []
        if turn.continuation is not None and not self.outcome.tried:
            released.append(turn.continuation.socket)
            turn.continuation = None
        if turn.store is not None:
            released.extend(turn.store.evicted())
        return released

    def note_quota(self) -> None:
        """The call is over: the account's quota in words, and its warnings logged."""
        tap = self.job.quota
        if tap is not None:
            for warning in tap.warnings:
                logger.warning(warning)
            tap.warnings.clear()
            self.outcome.quota = tap.text()

    # ---- inside ----------------------------------------------------------------------------

    def _open(self, attempt: Attempt) -> Open:
        self._attempt = attempt
        return open_attempt(self.job, attempt)

    def _classify(self, attempt: Attempt, err: ProxyError) -> Failure:
        """The policy's view of `err`, told what this call knows of its conversation (rule 3)."""
        failure = classify(attempt.route, err, continued=attempt.continued)
        turn = self.job.turn
        if failure is Failure.REPLAY_REFUSED and (turn is None or not turn.replayed):
            failure = Failure.FATAL  # the client's own items: nothing of ours to take out
        if turn is not None and failure is Failure.CONTINUATION_MISS:
            turn.missed()
        if turn is not None and failure is Failure.REPLAY_REFUSED:
            turn.replay_refused()
        return failure

    def _complete(self, data: bytes, *, close: bool = False) -> Command:
        """The answer is complete: its last bytes, the outcome final, the lessons kept."""
        try:
            data += self.sink.finish()
        except ProxyError as err:
            return self.failure(err)
        job, outcome, attempt = self.job, self.outcome, self.attempt
        outcome.tried.append(Tried(attempt, None, 200))
        if job.turn is not None:
            for news in job.turn.finished(attempt):
                logger.warning(news)
        if job.budget is not None:
            job.budget.answered(job.budget_key)  # rule 8
        self._settle(None)
        outcome.status = 200
        return Finish(data, close=close)

    def _fail(self, err: ProxyError, *, spent: bool = False) -> Fail:
        """End the answer with `err`: in the stream once its head went out (rule 1), told not
        to be retried in the form its client honours (rule 8, call/giving_up.py); `spent`: the
        call's transient failures used up its retries."""
        sink, job = self.sink, self.job
        responses_stream = isinstance(sink, ResponsesStreamSink)
        form = giving_up(err, spent=spent, client=job.client, responses_stream=responses_stream)
        err.headers = form.headers
        head_out = self._head_out
        chunk: bytes | None = None
        status = err.status
        if form.overloaded_stream and not head_out and isinstance(sink, ResponsesStreamSink):
            chunk, status = sink.fail_overloaded(err), 200  # a stream its client won't retry
        elif sink.streaming and (head_out or sink.always_in_band):
            chunk = sink.fail(err)  # the stream's error (a WebSocket client's error frame)
        if not head_out:
            self.outcome.status = status
        self._settle(err)
        return Fail(err, chunk)

    def _settle(self, err: ProxyError | None) -> None:
        """The outcome, final: what the call taught goes to Memory (rule 5), answered or not."""
        outcome, sink, job = self.outcome, self.sink, self.job
        self.ended = True
        lesson = lesson_of(job.plan, tuple(outcome.tried))
        outcome.learned = lesson.route is not None
        for news in job.memory.learn(
            job.upstream.key, job.translation.match, lesson, now=job.planned_at
        ):
            logger.info(news)
        outcome.usage = sink.usage
        error = err or sink.error
        outcome.error = error.message if error is not None else None
        outcome.error_code = (error.code or "error") if error is not None else None
        client = getattr(sink, "client", None)
        outcome.client = client.value() if isinstance(client, Transcript) else b""
