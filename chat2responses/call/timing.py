"""Where a call's time went: its `CallTimes` as durations, and the `Server-Timing` header.

Owns the split every display shares (the summary line, the Conversation view, the per-call log,
the metrics and the `Server-Timing` header of the answer): the addon's own time before the first
upstream request went out (`c2r`), the time failed attempts and their backoff took (`retry`),
the upstream's time from the last attempt's request to its first event or its error
(`upstream`), the time to the first token (reasoning counts) and to the client's first byte, and
the total. Must not read a clock: the times and the end are given (monotonic seconds).

Rule 1: a duration is None when either of its ends never happened (a call refused before any
        upstream request has no `upstream`).
Rule 2: the header names only what is known when it goes out. A streamed answer's head goes out
        with its first bytes, when `c2r` and `upstream` are known and the total is not: it
        carries no `total` (mitmproxy relays no HTTP/1.1 trailers, where it could have gone
        after the stream). A whole answer (JSON, or an error before any byte) carries `total`.
Rule 3: durations in the header are milliseconds with one decimal (W3C Server Timing `dur`).
"""

from __future__ import annotations

from dataclasses import dataclass

from chat2responses.call.job import CallTimes

HEADER = "server-timing"


@dataclass(frozen=True, slots=True)
class Split:
    """A call's durations in milliseconds (rule 1: None where an end is missing)."""

    c2r: float | None = None
    retry: float | None = None
    upstream: float | None = None
    first_token: float | None = None
    first_byte: float | None = None
    total: float | None = None


def _ms(start: float | None, end: float | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start) * 1000)


def split(times: CallTimes, end: float | None = None) -> Split:
    """The durations of `times`; `end`: when the answer ended (None: not yet)."""
    start, first_sent, sent = times.received, times.first_sent, times.sent
    retry = _ms(first_sent, sent) if first_sent is not None and sent != first_sent else None
    return Split(
        c2r=_ms(start, first_sent),
        retry=retry,
        upstream=_ms(sent, times.first_event),
        first_token=_ms(start, times.first_output),
        first_byte=_ms(start, times.first_byte),
        total=_ms(start, end),
    )


def server_timing(times: CallTimes, end: float | None = None) -> str:
    """The `Server-Timing` value for an answer whose head goes out now (rules 2, 3): `end` is
    given for a whole answer, None for a stream's head."""
    durations = split(times, end)
    parts = [
        f"{name};dur={value:.1f}"
        for name, value in (
            ("c2r", durations.c2r),
            ("retry", durations.retry),
            ("upstream", durations.upstream),
            ("total", durations.total),
        )
        if value is not None
    ]
    return ", ".join(parts)


def parse_server_timing(value: str) -> dict[str, float]:
    """The `dur` of each metric in a `Server-Timing` value (what a client reads back); metrics
    without one are left out."""
    found: dict[str, float] = {}
    for metric in value.split(","):
        name, *params = (part.strip() for part in metric.split(";"))
        for param in params:
            key, _, raw = param.partition("=")
            if key.strip().lower() == "dur" and name:
                try:
                    found[name] = float(raw.strip().strip('"'))
                except ValueError:
                    continue
    return found
