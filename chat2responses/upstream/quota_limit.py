"""The 429 that the Codex backend's `usage_limit_reached` becomes: which window ran out, when it
resets, and the `Retry-After` and fields the Codex CLI reads.

Must not keep readings (quota_book.py does) or decide whether the client retries
(call/giving_up.py does).
Rules:
1. Only an error whose `type` or `code` is `usage_limit_reached` is one; anything else is None.
2. The reset comes from the error (`resets_at`, `resets_in_seconds`), else from the window of the
   latest reading that ran out; the window named is the one resetting then, else the fullest.
Pure: no I/O, no clock (`now` is passed in).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from chat2responses.protocol.errors import UpstreamError
from chat2responses.upstream.quota import (
    QuotaSnapshot,
    QuotaWindow,
    dict_of,
    epoch,
    later,
    number,
    parse_payload,
    text_of,
)
from chat2responses.upstream.quota_book import when

_USAGE_LIMIT = "usage_limit_reached"


def usage_limit_error(
    payload: Mapping[str, Any] | bytes,
    snapshot: QuotaSnapshot | None,
    now: datetime,
    tz: tzinfo = UTC,
) -> UpstreamError | None:
    """The 429 for a `usage_limit_reached` answer: an HTTP error body (`{"error": {...}}`) or a
    WebSocket error frame (`{"type": "error", "status": 429, "error": {...}, "headers": {...}}`).
    None when the payload is another error. Says which window ran out and when it resets, and
    carries `Retry-After` (seconds) when the reset is known (call/giving_up.py passes it on only
    when it is short), and `resets_at` and `plan_type` in the error object, as the backend does."""
    data = parse_payload(payload)
    err = dict_of(data.get("error"))
    if _USAGE_LIMIT not in (err.get("type"), err.get("code")):
        return None
    resets = epoch(number(err.get("resets_at"))) or later(now, err.get("resets_in_seconds"))
    window = _exhausted(snapshot, resets)
    if resets is None and window is not None:
        resets = window.resets_at
    plan = text_of(err.get("plan_type")) or (snapshot.plan if snapshot else None)
    what = f"the {window.name} window is used up" if window else "a usage window is used up"
    message = f"The ChatGPT usage limit is reached{f' (plan {plan})' if plan else ''}: {what}"
    headers: dict[str, str] = {}
    if resets is not None:
        wait = max(1, math.ceil((resets - now).total_seconds()))
        headers["retry-after"] = str(wait)
        at = f"{when(resets, now, tz)} {_zone(resets, tz)}"
        message += (
            f"; it resets {at}(in {_duration(wait)})"
            if resets > now
            else f"; it was due at {at.strip()}"
        )
    message += ". Retry then, or sign in with another account (`codex login`)."
    limit = UpstreamError(
        message, status=429, type=_USAGE_LIMIT, code=_USAGE_LIMIT, headers=headers
    )
    # The Codex CLI reads these (as the backend sends them) to say when to try again.
    extra = {"plan_type": plan, "resets_at": int(resets.timestamp()) if resets else None}
    limit.extra = {key: value for key, value in extra.items() if value is not None}
    return limit


def _exhausted(snapshot: QuotaSnapshot | None, resets: datetime | None) -> QuotaWindow | None:
    """The window that ran out: the one resetting when the error says, else the fullest."""
    if snapshot is None or not snapshot.windows:
        return None
    if resets is not None:
        near = [
            w
            for w in snapshot.windows
            if w.resets_at and abs(w.resets_at - resets) <= timedelta(minutes=5)
        ]
        if near:
            return max(near, key=lambda w: w.used_percent)
    return max(snapshot.windows, key=lambda w: (w.used_percent, w.minutes or 0))


def _duration(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min" if minutes else f"{seconds} s"


def _zone(moment: datetime, tz: tzinfo) -> str:
    name = moment.astimezone(tz).tzname()
    return f"{name} " if name else ""
