"""What one rewritten call did, in words: the summary line (the console line and the first line of
the flow comment) and the comment's further lines.

Pure: it reads a `CallRecord` (call/record.py) and returns text. Nothing here may hold a
credential; it only sees model names, routes, timings, statuses and token counts.

Rule 1 (order): mitmweb's comment column shows about twenty characters unless widened, so the
        line starts with what matters, in this order: the route (its first word), the status,
        the time to the first token, the cached share and, when the cache missed, why; then
        continued or full; then the caller (`caller bob`, when responses_client_keys names
        one), the model, the reason for the route, the times, the tokens, the
        socket, the upstream's notes (tier, safety buffering), the quota and the error.
Rule 2 (plain text): no emoji and no marks: a browser without an emoji font (Debian's Chromium)
        shows them as empty boxes.
"""

from __future__ import annotations

import math
from typing import Any

from chat2responses.call.policy import Reason
from chat2responses.call.record import CallRecord, usage_of
from chat2responses.protocol.wire import printable

_REASONS = {
    Reason.FORCED: "forced by responses_transport",
    Reason.CATALOG: "catalog prefers it",
    Reason.DEFAULT: "default",
    Reason.LEARNED: "learned from the upstream",
    Reason.FALLBACK: "for this request only",
    Reason.UNSTABLE: "websocket unstable for this model",
}


def summary(record: CallRecord) -> str:
    """One line (rule 1)."""
    parts = [record.route, str(record.status) if record.status is not None else "no answer"]
    if record.first_token_ms is not None:
        parts.append(f"first token {ms_text(record.first_token_ms)}")
    share = record.cached_share
    if share is not None:
        missed = f" (missed: {'; '.join(record.miss)})" if record.miss else ""
        parts.append(f"cached {share_text(share)}{missed}")
    parts.append(continuation_text(record))
    if record.person:
        parts.append(f"caller {record.person}")
    reason = _REASONS.get(record.reason, "")  # type: ignore[call-overload]
    if reason and record.reason_note:
        reason += f": {record.reason_note}"  # "websocket unstable …: http until 14:05"
    parts.append(f"{record.requested} → {record.model}" + (f" ({reason})" if reason else ""))
    if record.total_ms is not None:
        parts.append(f"{ms_text(record.total_ms)}{_split_text(record)}")
    tokens = tokens_of(record)
    if tokens:
        parts.append(tokens)
    if record.socket is not None:
        parts.append(f"socket {record.socket}, turn {record.socket_turn} on it")
    if record.notes:
        parts.append(record.notes)
    if record.quota:
        parts.append(record.quota)
    if record.error:
        parts.append(f"error: {record.error}")
    return printable(" · ".join(parts))  # it is logged: upstream text in it must not break that


def details(record: CallRecord, line: str | None = None) -> str:
    """The flow comment: the summary (`line`, when the caller has it already), then each attempt
    (when there was more than one) and the parameters dropped."""
    lines = [summary(record) if line is None else line]
    if record.attempts:
        lines.append("attempts: " + "; ".join(record.attempts))
    if record.dropped:
        lines.append("dropped (no Responses counterpart): " + ", ".join(record.dropped))
    if record.removed:
        lines.append("removed (the upstream refuses them): " + ", ".join(record.removed))
    return "\n".join(lines)


def continuation_text(record: CallRecord) -> str:
    """`continued 2 of 7 items, 0.4 of 12.0 KB` (what was sent, of what the client sent),
    `full`, or `full, 2 reasoning items replayed`."""
    if record.continued:
        sent = f"{record.request_bytes / 1024:.1f}"
        of = f" of {record.client_bytes / 1024:.1f}" if record.client_bytes else ""
        return f"continued {record.sent_items} of {record.full_items} items, {sent}{of} KB"
    if record.replayed:
        plural = "s" if record.replayed != 1 else ""
        return f"full, {record.replayed} reasoning item{plural} replayed"
    return "full"


def share_text(share: float) -> str:
    """`91 %`: rounded down, so that a share short of all reads below 100 %."""
    return f"{math.floor(share * 100 + 1e-9)} %"


def ms_text(ms: float) -> str:
    """`12.4 ms`: one decimal always, so that lines keep one shape."""
    return f"{ms:.1f} ms"


def tokens_of(record: CallRecord) -> str:
    """`tokens 12 in (4 cached) / 30 out (10 reasoning)`, or "" without counts."""
    if record.input_tokens is None or record.output_tokens is None:
        return ""
    return _tokens(
        record.input_tokens,
        record.cached_tokens or 0,
        record.output_tokens,
        record.reasoning_tokens or 0,
    )


def tokens_text(usage: dict[str, Any] | None) -> str:
    """The same from a chat usage object, or from a Responses one (the Responses path)."""
    counts = usage_of(usage)
    if counts is None:
        return ""
    return _tokens(counts.input, counts.cached, counts.output, counts.reasoning)


def _tokens(prompt: int, cached: int, completion: int, reasoning: int) -> str:
    text = f"tokens {prompt} in" + (f" ({cached} cached)" if cached else "")
    text += f" / {completion} out"
    return text + (f" ({reasoning} reasoning)" if reasoning else "")


def _split_text(record: CallRecord) -> str:
    """` (c2r 1.2 ms, upstream 35 ms)`: the addon's own time and the upstream's (timing.py)."""
    parts = [
        f"{name} {ms_text(value)}"
        for name, value in (
            ("c2r", record.c2r_ms),
            ("retries", record.retry_ms),
            ("upstream", record.upstream_ms),
        )
        if value is not None
    ]
    return f" ({', '.join(parts)})" if parts else ""
