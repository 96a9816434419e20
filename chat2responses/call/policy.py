"""The call policy: which attempt an upstream call makes next.

One rewritten call is a series of attempts. The driver carries each out and classifies how it
failed (`classify`); `next_attempt` decides, from the plan and what happened so far, whether
there is another attempt and what it looks like. The plan comes from what upstreams taught the
process (memory.py).

Pure: no I/O, no clock, no mitmproxy. Every rule is a row of `_RULES`, tested as a table.

Rule 1: an attempt is retried only before any byte reached the client (the driver never asks
        after that).
Rule 2: the transport switches at most once per call, and only under `responses_transport=auto`:
        HTTP refused for needing WebSocket → WebSocket; a refused WebSocket upgrade → HTTP.
Rule 3: a refused `reasoning.summary` is retried once without it, on the same transport.
Rule 4: at most MAX_ATTEMPTS attempts, whatever the upstream does.
Rule 5: a transient failure (an overload, a 5xx, a failed connection, a WebSocket that dropped)
        is retried `responses_retries` times with exponential backoff and jitter, or after the
        upstream's `retry-after` when it gave one (a long one is left to the client).
Rule 6: a WebSocket closed with 1009 (a message too big) sends that one request over HTTP; when
        HTTP then refuses the model, the client hears of the upstream's limit (502), not of
        the HTTP refusal (`dead_end`).
Rule 7: only the first attempt may continue a conversation (`previous_response_id` and the new
        items): a miss sends the full request at once, and every other retry is a full request.
Rule 8: a refused replayed reasoning item (`invalid_encrypted_content`) is retried once without
        the replayed items.
Rule 9: a WebSocket that closed before the response ended is retried like any transient
        failure, on a fresh socket; a second such drop in one call sends the request over HTTP
        (`auto` only): one call opens at most two WebSockets for that reason. A model that drops
        twice within minutes is sent over HTTP for a while (memory.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from chat2responses.protocol.errors import (
    ConnectionBroken,
    HandshakeRefused,
    ProxyError,
    UpstreamError,
    UpstreamProtocolError,
    WebSocketClosed,
)

MAX_ATTEMPTS = 8


class Route(StrEnum):
    HTTP = "http"
    WEBSOCKET = "websocket"


class Reason(StrEnum):
    FORCED = "forced"
    CATALOG = "catalog"
    DEFAULT = "default"
    LEARNED = "learned"
    FALLBACK = "fallback"  # this request only (a message too big for the WebSocket)
    UNSTABLE = "unstable"  # the model's WebSocket dropped lately: HTTP for a while (rule 9)


class Failure(StrEnum):
    """How an attempt failed, as far as the policy cares."""

    NEEDS_WEBSOCKET = "needs_websocket"  # an HTTP 4xx saying the model is WebSocket-only
    WEBSOCKET_REFUSED = "websocket_refused"  # the upgrade was refused: this upstream wants HTTP
    SUMMARY_REFUSED = "summary_refused"  # 400 on `reasoning.summary` (unverified organizations)
    UNAUTHORIZED = "unauthorized"  # the upstream answered 401: a login may refresh once
    TRANSIENT = "transient"  # an overload, a 5xx, a failed connection, a dropped WebSocket
    TOO_BIG = "too_big"  # the WebSocket closed with 1009: this request goes over HTTP
    DROPPED = "dropped"  # the WebSocket closed before the response ended (rule 9)
    CONTINUATION_MISS = "continuation_miss"  # previous_response_not_found: send it all
    REPLAY_REFUSED = "replay_refused"  # invalid_encrypted_content: send it without replayed items
    FATAL = "fatal"  # nothing another attempt could fix


@dataclass(frozen=True, slots=True)
class Plan:
    """What the call starts from: the first route and what may change."""

    route: Route
    reason: Reason
    switchable: bool  # responses_transport=auto: the learned fallback may switch transports
    summaries: bool  # the translated body asks for `reasoning.summary`
    login: bool = False  # the addon's own login (responses_auth=codex) speaks for the client
    retries: int = 0  # responses_retries: transient failures retried before the first byte
    continuation: bool = False  # the first attempt continues the conversation on its socket
    until: float | None = None  # Reason.UNSTABLE: when the WebSocket is tried again (epoch s)


@dataclass(frozen=True, slots=True)
class Attempt:
    route: Route
    summaries: bool
    why: str  # for the call summary: "first", "over websocket", "without reasoning summaries"
    fresh_login: bool = False  # refresh the login before this attempt (after a 401)
    delay: float = 0.0  # seconds to wait before this attempt (backoff, or the upstream's word)
    continued: bool = False  # previous_response_id and the new items only (rule 7)
    replay: bool = True  # kept reasoning items may be replayed into a full request


@dataclass(frozen=True, slots=True)
class Tried:
    """One attempt and how it ended (`failure` None: it answered)."""

    attempt: Attempt
    failure: Failure | None
    status: int | None = None
    retry_after: float | None = None  # what the upstream asked for, in seconds
    jitter: float = 0.0  # in [0, 1): injected by the driver (the policy has no randomness)


def first_attempt(plan: Plan) -> Attempt:
    return Attempt(plan.route, plan.summaries, "first", continued=plan.continuation)


def _switched(history: tuple[Tried, ...]) -> bool:
    return any(t.attempt.route is not history[0].attempt.route for t in history)


def _switch(plan: Plan, history: tuple[Tried, ...], to: Route) -> Attempt | None:
    last = history[-1].attempt
    if not plan.switchable or last.route is to or _switched(history):
        return None
    return Attempt(to, last.summaries, f"over {to.value}", replay=last.replay)


def _no_summaries(plan: Plan, history: tuple[Tried, ...]) -> Attempt | None:
    last = history[-1].attempt
    if not last.summaries:
        return None
    return Attempt(last.route, False, "without reasoning summaries", replay=last.replay)


# Backoff before retry n (1-based): BACKOFF * 2**(n-1), plus up to the same again of jitter;
# an upstream's retry-after is honoured up to MAX_RETRY_AFTER (longer: the client decides).
BACKOFF = 0.5
MAX_RETRY_AFTER = 30.0


_RETRIED = frozenset({Failure.TRANSIENT, Failure.DROPPED})


def _retry(plan: Plan, history: tuple[Tried, ...]) -> Attempt | None:
    done = sum(1 for t in history if t.failure in _RETRIED)
    if done > plan.retries:
        return None
    last, after = history[-1].attempt, history[-1].retry_after
    if after is not None and after > MAX_RETRY_AFTER:
        return None
    backoff = BACKOFF * 2 ** (done - 1)
    delay = after if after is not None else backoff * (1 + history[-1].jitter)
    why = f"in {delay:.1f} s ({done} of {plan.retries})"  # logged: "retrying in 0.7 s (1 of 2)"
    return Attempt(last.route, last.summaries, why, delay=delay, replay=last.replay)


def _dropped(plan: Plan, history: tuple[Tried, ...]) -> Attempt | None:
    """Rule 9: a retry on a fresh socket; after a second drop, over HTTP."""
    last = history[-1].attempt
    drops = sum(1 for t in history if t.failure is Failure.DROPPED)
    if drops >= 2 and plan.switchable and last.route is Route.WEBSOCKET:
        why = "over http (websocket unstable)"
        return Attempt(Route.HTTP, last.summaries, why, replay=last.replay)
    return _retry(plan, history)


def _over_http(plan: Plan, history: tuple[Tried, ...]) -> Attempt | None:
    last = history[-1].attempt
    if not plan.switchable or last.route is Route.HTTP:
        return None
    why = "over http (too big for the WebSocket)"
    return Attempt(Route.HTTP, last.summaries, why, replay=last.replay)


def _refreshed(plan: Plan, history: tuple[Tried, ...]) -> Attempt | None:
    last = history[-1].attempt
    if not plan.login or any(t.attempt.fresh_login for t in history):
        return None
    why = "with a refreshed login"
    return Attempt(last.route, last.summaries, why, fresh_login=True, replay=last.replay)


def _in_full(plan: Plan, history: tuple[Tried, ...]) -> Attempt | None:
    last = history[-1].attempt
    if not last.continued:
        return None
    return Attempt(last.route, last.summaries, "in full (continuation miss)", replay=last.replay)


def _without_replay(plan: Plan, history: tuple[Tried, ...]) -> Attempt | None:
    last = history[-1].attempt
    if not last.replay:
        return None
    return Attempt(last.route, last.summaries, "without replayed reasoning", replay=False)


_RULES: dict[Failure, Callable[[Plan, tuple[Tried, ...]], Attempt | None]] = {
    Failure.NEEDS_WEBSOCKET: lambda plan, h: _switch(plan, h, Route.WEBSOCKET),
    Failure.WEBSOCKET_REFUSED: lambda plan, h: _switch(plan, h, Route.HTTP),
    Failure.SUMMARY_REFUSED: _no_summaries,
    Failure.UNAUTHORIZED: _refreshed,
    Failure.TRANSIENT: _retry,
    Failure.TOO_BIG: _over_http,
    Failure.DROPPED: _dropped,
    Failure.CONTINUATION_MISS: _in_full,
    Failure.REPLAY_REFUSED: _without_replay,
    Failure.FATAL: lambda plan, h: None,
}


def next_attempt(plan: Plan, history: tuple[Tried, ...]) -> Attempt | None:
    """The attempt after `history` (whose last entry failed), or None: answer with its error."""
    if not history or len(history) >= MAX_ATTEMPTS:
        return None
    failure = history[-1].failure
    if failure is None:
        return None
    return _RULES[failure](plan, history)


def dead_end_note(plan: Plan, failure: Failure) -> str:
    """What to add to the error of a failure that the options kept from being retried."""
    if failure is Failure.NEEDS_WEBSOCKET and not plan.switchable:
        return (
            " (this model is served only over the Responses WebSocket transport, "
            "and responses_transport=http forbids it)"
        )
    return ""


def dead_end(plan: Plan, history: tuple[Tried, ...], err: ProxyError) -> ProxyError:
    """The error the client gets when `history` has no next attempt: `err`, with what the
    options kept from being tried; but a request too big for the WebSocket (1009) of a model
    that HTTP refuses is the upstream's limit, not the client's mistake (a 502 that says so)."""
    failures = [t.failure for t in history]
    if Failure.TOO_BIG in failures and failures[-1] is Failure.NEEDS_WEBSOCKET:
        return UpstreamError(
            "the request is too big for the upstream's WebSocket (it closed with 1009, message "
            "too big), and this model is served only over the WebSocket; send a shorter "
            "conversation",
            code="upstream_message_too_big",  # UpstreamError's own status: 502
        )
    if failures:
        err.message += dead_end_note(plan, failures[-1] or Failure.FATAL)
    return err


# A 4xx that says the model is served only over the WebSocket transport. The Codex backend
# answers `routing_unsupported: GPT-5.5 routing only supports Responses-compatible requests`.
_NEEDS_WEBSOCKET = re.compile(r"routing_unsupported|websocket", re.IGNORECASE)
# A refused upgrade that says nothing about the caller (426, or the 400/404/405 of an upstream or
# proxy without WebSocket support) means: use HTTP. These statuses do not.
_NOT_A_TRANSPORT_REFUSAL = frozenset({401, 403, 407, 429})
# Waiting again for an upstream that already stalled for the whole idle timeout (silent, no
# headers, or dripping bytes without an event) helps no one, an answer too large to buffer is as
# large the next time, and a redirect not followed is the same redirect again; nor does asking
# again past a certificate that is not trusted, or into a loop (routing rule 3).
_NOT_TRANSIENT = frozenset(
    {"upstream_stalled", "answer_too_large", "upstream_redirect", "upstream_tls_error"}
    | {"loop_detected"}
)
_MESSAGE_TOO_BIG = 1009


def refused_for_websocket(err: ProxyError) -> bool:
    """Does this upstream HTTP error mean "use the WebSocket transport for this model"?"""
    if not 400 <= err.status < 500:
        return False
    found = _NEEDS_WEBSOCKET.search(err.message)
    return bool(found or (err.code is not None and _NEEDS_WEBSOCKET.search(err.code)))


def classify(route: Route, err: ProxyError, *, continued: bool = False) -> Failure:
    """How the policy sees an attempt's error (raised before any byte reached the client).
    `continued`: the attempt continued a conversation (rule 7)."""
    failure = _classify(route, err)
    if continued and failure is not Failure.UNAUTHORIZED:
        # A socket gone, past its age limit, or an upstream that lost the previous response:
        # whatever went wrong with a continuation, the full request goes at once.
        return Failure.CONTINUATION_MISS
    return failure


def _classify(route: Route, err: ProxyError) -> Failure:
    if not isinstance(err, UpstreamError):
        return Failure.FATAL  # the client's fault, or the login's: no attempt can fix it
    if err.status == 401:
        return Failure.UNAUTHORIZED
    if err.code == "previous_response_not_found" or err.param == "previous_response_id":
        return Failure.CONTINUATION_MISS
    if err.code == "invalid_encrypted_content":
        return Failure.REPLAY_REFUSED
    if isinstance(err, WebSocketClosed):
        return Failure.TOO_BIG if err.close_code == _MESSAGE_TOO_BIG else Failure.DROPPED
    if isinstance(err, ConnectionBroken):
        return Failure.TRANSIENT  # the HTTP route's dropped socket
    if route is Route.HTTP and refused_for_websocket(err):
        return Failure.NEEDS_WEBSOCKET
    if (
        route is Route.WEBSOCKET
        and isinstance(err, HandshakeRefused)
        and err.status < 500
        and err.status not in _NOT_A_TRANSPORT_REFUSAL
    ):
        return Failure.WEBSOCKET_REFUSED
    if err.status == 400 and err.param == "reasoning.summary":
        return Failure.SUMMARY_REFUSED
    if (
        err.status >= 500
        and err.code not in _NOT_TRANSIENT
        and not isinstance(err, UpstreamProtocolError)
    ):
        return Failure.TRANSIENT
    return Failure.FATAL


def retry_after(err: ProxyError) -> float | None:
    """The seconds an error's `retry-after` / `retry-after-ms` header asks for, if any."""
    headers = {k.lower(): v for k, v in err.headers.items()}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = wait_of(headers.get(name))
        if value is not None:
            return value * scale
    return None


def wait_of(value: str | None) -> float | None:
    """A retry-after header's number, when it is one of at least 0 (a date is not read)."""
    try:
        wait = float(value) if value is not None else None
    except ValueError:
        return None
    return wait if wait is not None and wait >= 0 else None


def body_for(attempt: Attempt, body: dict[str, Any]) -> dict[str, Any]:
    """The request body of `attempt`: a new dict when it differs; `body` is never changed."""
    reasoning = body.get("reasoning")
    if attempt.summaries or not isinstance(reasoning, dict) or "summary" not in reasoning:
        return body
    return {**body, "reasoning": {k: v for k, v in reasoning.items() if k != "summary"}}


def asks_summaries(body: dict[str, Any]) -> bool:
    reasoning = body.get("reasoning")
    return isinstance(reasoning, dict) and reasoning.get("summary") is not None
