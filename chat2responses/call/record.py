"""What one rewritten call was, as one record: the facts every display of a call reads.

`CallRecord` is built once, when the call's flow ends (`record_of`), from the planned job, what
its machine recorded (`CallOutcome`), when things happened (`CallTimes`) and what the glue saw of
the flow (`Seen`). The summary line and the flow comment (report.py), the Conversation view
(views/conversation.py), the per-call log line (`log_fields`), the metrics and the report all
read it; none derives these facts again.

Must not hold a credential, a prompt or an answer: only names of models and routes, counts,
times, digests (the account's is the quota book's; the request's is call/digests.py's), the
quota in words and error codes. The conversation key is the client's own `prompt_cache_key` or
a digest (call/conversation.py rule 1). Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeGuard

from chat2responses.call.digests import Digests, digests_of
from chat2responses.call.job import CallJob
from chat2responses.call.memory import UNSTABLE_WINDOW, unstable_note
from chat2responses.call.policy import Failure, Plan, Reason, Route, Tried
from chat2responses.call.timing import split

# (in, out, cached, reasoning) as a chat usage object names them, and as a Responses one does.
_USAGE_SHAPES = (
    ("prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details"),
    ("input_tokens", "output_tokens", "input_tokens_details", "output_tokens_details"),
)
_CODE = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(frozen=True, slots=True)
class Usage:
    input: int
    output: int
    cached: int = 0
    reasoning: int = 0

    @property
    def cached_share(self) -> float | None:
        """Cached input tokens as a fraction of the input (None: no input)."""
        return self.cached / self.input if self.input > 0 else None


def usage_of(usage: object) -> Usage | None:
    """The token counts of a chat usage object, or of a Responses one (a call on the Responses
    path); None when it carries no input and output counts."""
    if not isinstance(usage, dict):
        return None
    shape = next((keys for keys in _USAGE_SHAPES if keys[0] in usage), _USAGE_SHAPES[0])
    prompt, completion = usage.get(shape[0]), usage.get(shape[1])
    if not _count(prompt) or not _count(completion):
        return None
    cached = _detail(usage, shape[2], "cached_tokens")
    return Usage(prompt, completion, cached, _detail(usage, shape[3], "reasoning_tokens"))


def _count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _detail(usage: Mapping[str, Any], group: str, key: str) -> int:
    details = usage.get(group)
    value = details.get(key) if isinstance(details, dict) else None
    return value if _count(value) else 0


@dataclass(frozen=True, slots=True)
class Seen:
    """What the glue saw of the flow (the record's other source)."""

    flow_id: str
    at: float  # wall clock (epoch seconds) when the client's request arrived
    end: float  # monotonic, when the flow ended
    instance: str  # which proxy process served it
    status: int | None = None  # the flow's response status, if the outcome has none
    flow_error: str | None = None  # mitmproxy's word on a flow that failed (client left)
    quota_used: Mapping[str, float] = field(default_factory=dict)  # window → % used


@dataclass(frozen=True, slots=True)
class CallRecord:
    id: str
    at: float = 0.0
    kind: str = "chat"  # chat | responses
    requested: str = ""
    model: str = ""  # as sent upstream
    route: str = ""
    reason: str = ""  # Reason, as the plan or the outcome says (`route_shown`)
    reason_note: str = ""  # said after the reason: "http until 14:05"
    stream: bool = False
    status: int | None = None
    error: str | None = None  # the message (the comment shows it; the log does not)
    error_code: str | None = None
    dropped: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()  # fields the upstream refuses, removed before sending
    notes: str = ""  # the served tier, safety buffering (upstream/notes.py)
    attempts: tuple[str, ...] = ()  # each attempt in words, when there was more than one
    retries: int = 0
    fallback: bool = False  # answered on another route than the plan's
    continued: bool = False
    continuation_miss: bool = False
    sent_items: int = 0
    full_items: int = 0
    replayed: int = 0
    request_bytes: int = 0  # what the answered attempt sent upstream
    client_bytes: int = 0
    input_tokens: int | None = None
    cached_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    first_token_ms: float | None = None
    first_byte_ms: float | None = None
    total_ms: float | None = None
    c2r_ms: float | None = None
    retry_ms: float | None = None
    upstream_ms: float | None = None
    quota: str = ""
    quota_used: dict[str, float] = field(default_factory=dict)
    key: str = ""
    own_key: bool = False  # the key is the client's own prompt_cache_key
    upstream: str = ""  # the upstream's URL, without userinfo or query
    account: str = ""  # the credential's digest
    socket: int | None = None
    socket_turn: int = 0
    instance: str = ""
    person: str = ""  # the caller's name from responses_client_keys (never a key)
    # Filled by the conversation record (call/ledger.py).
    turn: int = 0  # the call's place in its conversation (1: the first)
    miss: tuple[str, ...] = ()  # why the cache fell short of the previous turn's, when it did
    digests: Digests = field(default_factory=Digests)

    @property
    def cached_share(self) -> float | None:
        if self.input_tokens is None or self.cached_tokens is None or self.input_tokens <= 0:
            return None
        return self.cached_tokens / self.input_tokens

    @property
    def ended_at(self) -> float:
        """Wall-clock end (epoch seconds)."""
        return self.at + (self.total_ms or 0.0) / 1000

    def as_dict(self) -> dict[str, Any]:
        """JSON-able: for the flow's metadata (a saved flow keeps it)."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "digests"}
        data["dropped"], data["attempts"] = list(self.dropped), list(self.attempts)
        data["miss"], data["quota_used"] = list(self.miss), dict(self.quota_used)
        data["digests"] = self.digests.as_dict()
        return data

    @classmethod
    def from_dict(cls, data: object) -> CallRecord | None:
        """A record read back from a flow's metadata (or a file anyone could have written):
        each field of the right type or left at its default; None when it is not a record."""
        if not isinstance(data, dict):
            return None
        if not all(isinstance(data.get(k), str) for k in ("id", "model", "route", "kind")):
            return None
        values: dict[str, Any] = {}
        for f in fields(cls):
            value = _coerced(str(f.type), data.get(f.name))
            if value is not _MISSING:
                values[f.name] = value
        used = data.get("quota_used")
        values["quota_used"] = (
            {str(k): float(v) for k, v in used.items() if _number(v)}
            if isinstance(used, dict) else {}
        )  # fmt: skip
        values["digests"] = Digests.from_dict(data.get("digests"))
        return cls(**values)

    def log_fields(self) -> dict[str, Any]:
        """The per-call log line's fields: the summary's, never a credential, a prompt or an
        answer (no error message: an upstream's may quote the request; its code only)."""
        data = {f.name: getattr(self, f.name) for f in _LOGGED}
        data["cached_share"] = self.cached_share
        return data


_LOGGED = tuple(f for f in fields(CallRecord) if f.name not in {"digests", "error", "attempts"})
_MISSING = object()


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _coerced(kind: str, value: object) -> object:
    """`value` if it fits the field's declared type `kind`, else _MISSING (the default)."""
    if value is None:
        return None if "None" in kind else _MISSING
    base = kind.split(" |", maxsplit=1)[0]
    checks = {
        "str": lambda v: isinstance(v, str),
        "bool": lambda v: isinstance(v, bool),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "float": _number,
    }
    if base in checks:
        return value if checks[base](value) else _MISSING
    if base == "tuple[str, ...]" and isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str))
    return _MISSING


def route_shown(
    plan: Plan, tried: tuple[Tried, ...], *, learned: bool, planned_at: float
) -> tuple[Route, Reason, str]:
    """The route a call took, why, and a note on it: the plan's, or what the attempts changed
    (a fallback learned or for this request only; HTTP after two dropped WebSockets, which made
    the model unstable for a while, memory.py rule 4)."""
    route = tried[-1].attempt.route if tried else plan.route
    if route is plan.route:
        until = plan.until
        return route, plan.reason, unstable_note(until) if until is not None else ""
    if any(t.failure is Failure.DROPPED for t in tried):
        return route, Reason.UNSTABLE, unstable_note(planned_at + UNSTABLE_WINDOW)
    return route, Reason.LEARNED if learned else Reason.FALLBACK, ""


def record_of(job: CallJob, seen: Seen) -> CallRecord:
    """The record of a call that ended (its outcome final, its flow over)."""
    outcome, plan, translation = job.outcome, job.plan, job.translation
    route, reason, note = route_shown(
        plan, tuple(outcome.tried), learned=outcome.learned, planned_at=job.planned_at
    )
    usage = usage_of(outcome.usage)
    durations = split(job.times, seen.end)
    error, code = outcome.error, outcome.error_code
    if seen.flow_error is not None:
        error, code = seen.flow_error, code or "client_disconnected"
    status = outcome.status if outcome.status is not None else seen.status
    tried = outcome.tried
    turn = job.turn
    match = translation.match
    return CallRecord(
        id=seen.flow_id,
        at=seen.at,
        kind=job.kind.value,
        requested=match.requested,
        model=match.upstream_name,
        route=route.value,
        reason=reason.value,
        reason_note=note,
        stream=translation.stream,
        status=status,
        error=error,
        error_code=_CODE.sub("_", code)[:64] if code else None,
        dropped=tuple(translation.dropped),
        removed=tuple(translation.removed),
        notes=job.quota.notes.text() if job.quota is not None and job.quota.notes else "",
        attempts=tuple(_attempt_text(t) for t in tried) if len(tried) > 1 else (),
        retries=max(0, len(tried) - 1),
        fallback=route is not plan.route,
        continued=outcome.continued and status == 200,
        continuation_miss=any(t.failure is Failure.CONTINUATION_MISS for t in tried),
        sent_items=outcome.sent_items,
        full_items=outcome.full_items,
        replayed=outcome.replayed,
        request_bytes=len(outcome.sent.encode()),
        client_bytes=job.request_size,
        input_tokens=usage.input if usage else None,
        cached_tokens=usage.cached if usage else None,
        output_tokens=usage.output if usage else None,
        reasoning_tokens=usage.reasoning if usage else None,
        first_token_ms=durations.first_token,
        first_byte_ms=durations.first_byte,
        total_ms=durations.total,
        c2r_ms=durations.c2r,
        retry_ms=durations.retry,
        upstream_ms=durations.upstream,
        quota=outcome.quota,
        quota_used=dict(seen.quota_used),
        key=turn.key if turn is not None else "",
        own_key=turn is not None and translation.body.get("prompt_cache_key") == turn.key,
        upstream=job.upstream.key,
        account=turn.credential if turn is not None else "",
        socket=outcome.socket if route is Route.WEBSOCKET else None,
        socket_turn=outcome.socket_turn if route is Route.WEBSOCKET else 0,
        instance=seen.instance,
        person=job.person,
        digests=digests_of(job.body),
    )


def _attempt_text(tried: Tried) -> str:
    attempt = tried.attempt
    result = "answered" if tried.failure is None else f"{tried.failure.value} ({tried.status})"
    return f"{attempt.why} over {attempt.route.value}: {result}"
