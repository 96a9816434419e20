"""Quota you can see: the Codex backend's usage windows, a bounded book of the latest reading per
account, and the 429 that `usage_limit_reached` becomes.

Readings come from three places (codex-rs/codex-api/src/rate_limits.rs and api_bridge.rs):
response headers (`x-codex-primary-used-percent`, `-window-minutes`, `-reset-at` or
`-reset-after-seconds`, the same with `secondary`, `x-codex-credits-*`, `x-codex-plan-type`,
`x-codex-active-limit` naming the header family that counts), the WebSocket `codex.rate_limits`
event (`rate_limits.{primary,secondary}.{used_percent, window_minutes, reset_at}`, `credits`,
`plan_type`, `metered_limit_name`), and the `headers` object of a WebSocket error frame.

Rules:
1. A window is named by its length ("5 h", "weekly", "90 min", "3 d"), never by its slot: the
   primary slot has been the weekly window while the 5-hour one was switched off.
2. Times are absolute (aware, UTC) once parsed: a relative reset is added to the injected `now`.
3. A warning is given once per crossing of the threshold, and again only after the window fell
   back below it (after its reset).
4. Bounded: one reading per account and limit family, the least recently updated dropped past
   the cap. Accounts appear only as the digests the caller keys them by.
Pure: no I/O, no clock.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from chat2responses.protocol.errors import UpstreamError

SLOTS = ("primary", "secondary")
DEFAULT_LIMIT = "codex"
_NAMED_WINDOWS = {10080: "weekly"}
_EVENT_TYPE = "codex.rate_limits"
_USAGE_LIMIT = "usage_limit_reached"
_TRUE, _FALSE = frozenset({"true", "1"}), frozenset({"false", "0"})


@dataclass(frozen=True, slots=True)
class QuotaWindow:
    slot: str
    used_percent: float
    minutes: int | None = None
    resets_at: datetime | None = None

    @property
    def name(self) -> str:
        return window_name(self.minutes) or self.slot


@dataclass(frozen=True, slots=True)
class Credits:
    has_credits: bool
    unlimited: bool
    balance: str | None = None


@dataclass(frozen=True, slots=True)
class QuotaSnapshot:
    observed_at: datetime
    windows: tuple[QuotaWindow, ...] = ()
    plan: str | None = None
    limit: str = DEFAULT_LIMIT
    credits: Credits | None = None


def window_name(minutes: int | None) -> str | None:
    """ "5 h", "weekly", "3 d", "90 min": a window by its length (None when unknown)."""
    if minutes is None or minutes <= 0:
        return None
    if minutes in _NAMED_WINDOWS:
        return _NAMED_WINDOWS[minutes]
    for unit, size in (("d", 1440), ("h", 60)):
        if minutes % size == 0:
            return f"{minutes // size} {unit}"
    return f"{minutes} min"


# --- parsing ----------------------------------------------------------------------------------


def snapshot_from_headers(headers: Mapping[str, Any], now: datetime) -> QuotaSnapshot | None:
    """The reading in a response's headers (any case), or None when they carry none."""
    h = {str(k).lower(): str(v).strip() for k, v in headers.items()}
    active = _limit_id(h.get("x-codex-active-limit"))
    limit = active if active and _has_family(h, active) else DEFAULT_LIMIT
    prefix = "x-" + limit.replace("_", "-")
    windows = tuple(
        w for slot in SLOTS if (w := _header_window(h, f"{prefix}-{slot}", slot, now)) is not None
    )
    credits = None
    has, unlimited = (
        _bool(h.get("x-codex-credits-has-credits")),
        _bool(h.get("x-codex-credits-unlimited")),
    )
    if has is not None and unlimited is not None:
        credits = Credits(has, unlimited, h.get("x-codex-credits-balance") or None)
    plan = h.get("x-codex-plan-type") or None
    if not windows and credits is None and plan is None:
        return None
    return QuotaSnapshot(now, windows, plan, limit, credits)


def snapshot_from_event(event: Mapping[str, Any], now: datetime) -> QuotaSnapshot | None:
    """The reading in a `codex.rate_limits` event, or None for any other event."""
    if event.get("type") != _EVENT_TYPE:
        return None
    limits = _dict(event.get("rate_limits"))
    windows = tuple(
        w for slot in SLOTS if (w := _event_window(_dict(limits.get(slot)), slot, now)) is not None
    )
    raw = _dict(event.get("credits"))
    has, unlimited = raw.get("has_credits"), raw.get("unlimited")
    credits = None
    if isinstance(has, bool) and isinstance(unlimited, bool):
        balance = raw.get("balance")
        credits = Credits(has, unlimited, str(balance) if balance not in (None, "") else None)
    limit = _limit_id(_text(event.get("metered_limit_name")) or _text(event.get("limit_name")))
    return QuotaSnapshot(
        now, windows, _text(event.get("plan_type")), limit or DEFAULT_LIMIT, credits
    )


def snapshot_from_error_frame(frame: Mapping[str, Any], now: datetime) -> QuotaSnapshot | None:
    """The reading in the `headers` of a WebSocket error frame (plan from its `error`)."""
    snapshot = snapshot_from_headers(_dict(frame.get("headers")), now)
    plan = _text(_dict(frame.get("error")).get("plan_type"))
    if snapshot is not None and snapshot.plan is None and plan:
        return replace(snapshot, plan=plan)
    return snapshot


def _header_window(h: dict[str, str], stem: str, slot: str, now: datetime) -> QuotaWindow | None:
    used = _float(h.get(f"{stem}-used-percent"))
    if used is None:
        return None
    minutes = _int(h.get(f"{stem}-window-minutes"))
    resets = _epoch(_float(h.get(f"{stem}-reset-at"))) or _later(
        now, h.get(f"{stem}-reset-after-seconds")
    )
    if used == 0 and not minutes and resets is None:  # codex-rs: an all-zero window is no window
        return None
    return QuotaWindow(slot, used, minutes, resets)


def _event_window(raw: dict[str, Any], slot: str, now: datetime) -> QuotaWindow | None:
    used = _number(raw.get("used_percent"))
    if used is None:
        return None
    minutes = _number(raw.get("window_minutes"))
    resets = _epoch(_number(raw.get("reset_at"))) or _later(
        now, raw.get("reset_after_seconds", raw.get("resets_in_seconds"))
    )
    return QuotaWindow(slot, used, int(minutes) if minutes is not None else None, resets)


def _has_family(h: dict[str, str], limit: str) -> bool:
    prefix = "x-" + limit.replace("_", "-")
    return any(f"{prefix}-{slot}-used-percent" in h for slot in SLOTS)


# --- the book ---------------------------------------------------------------------------------


class QuotaBook:
    """The latest reading per account (digest) and limit family, bounded; warns at `threshold`."""

    def __init__(self, capacity: int = 64, threshold: float = 90.0, tz: tzinfo = UTC) -> None:
        self.capacity = capacity
        self.threshold = threshold
        self.tz = tz
        self._readings: OrderedDict[tuple[str, str], QuotaSnapshot] = OrderedDict()
        self._over: dict[tuple[str, str], frozenset[str]] = {}  # windows already warned about

    def update(self, account: str, snapshot: QuotaSnapshot) -> list[str]:
        """Keep the reading; return a warning for each window that just crossed the threshold."""
        key = (account, snapshot.limit)
        snapshot = _merge(self._readings.get(key), snapshot)
        self._readings[key] = snapshot
        self._readings.move_to_end(key)
        while len(self._readings) > self.capacity:
            old, _ = self._readings.popitem(last=False)
            self._over.pop(old, None)
        over = {w.name for w in snapshot.windows if w.used_percent >= self.threshold}
        warned = self._over.get(key, frozenset())
        self._over[key] = frozenset(over)
        now, who = snapshot.observed_at, f"account {account}{_family(snapshot)}"
        return [
            f"quota warning: {who} has used {_pct(w.used_percent)} of its {w.name} window"
            f"{_resets(w, now, self.tz)}"
            for w in _ordered(snapshot.windows)
            if w.name in over - warned
        ]

    def get(self, account: str, limit: str = DEFAULT_LIMIT) -> QuotaSnapshot | None:
        return self._readings.get((account, limit))

    def text(self, account: str, now: datetime) -> str:
        """`quota 5 h 42 % (resets 14:05), weekly 91 % (resets Mon 09:00)` for one account; ""
        when no upstream reported one for it (the OpenAI API never does: quota is the Codex
        backend's notion, and a line should not name what nobody reports)."""
        lines = [
            f"quota{_family(s)} {_summary(s, now, self.tz)}"
            for (a, _), s in self._readings.items()
            if a == account
        ]
        return "; ".join(lines)

    def status(self, now: datetime) -> str:
        """Every account's reading, one line each, accounts by digest only."""
        if not self._readings:
            return "quota: no readings yet"
        lines = [
            f"  {a}{_family(s)}: {_summary(s, now, self.tz)}"
            for (a, _), s in self._readings.items()
        ]
        return "quota by account:\n" + "\n".join(lines)


def _merge(old: QuotaSnapshot | None, new: QuotaSnapshot) -> QuotaSnapshot:
    """A reading that lacks a window keeps the previous one until that one's reset passes."""
    if old is None:
        return new
    names = {w.name for w in new.windows}
    kept = tuple(
        w
        for w in old.windows
        if w.name not in names and (w.resets_at is None or w.resets_at > new.observed_at)
    )
    return replace(
        new,
        windows=new.windows + kept,
        plan=new.plan or old.plan,
        credits=new.credits or old.credits,
    )


def _summary(snapshot: QuotaSnapshot, now: datetime, tz: tzinfo) -> str:
    parts = [
        f"{w.name} {_pct(w.used_percent)}{_resets(w, now, tz)}" for w in _ordered(snapshot.windows)
    ]
    if snapshot.credits is not None:
        parts.append(_credits(snapshot.credits))
    text = ", ".join(parts) or "no windows"
    return f"{text} [{snapshot.plan}]" if snapshot.plan else text


def _credits(c: Credits) -> str:
    if c.unlimited:
        return "credits unlimited"
    if not c.has_credits:
        return "credits none"
    return f"credits {c.balance}" if c.balance else "credits available"


def _ordered(windows: tuple[QuotaWindow, ...]) -> list[QuotaWindow]:
    return sorted(windows, key=lambda w: (w.minutes is None, w.minutes or 0, w.slot))


def _family(snapshot: QuotaSnapshot) -> str:
    return "" if snapshot.limit == DEFAULT_LIMIT else f" ({snapshot.limit})"


def _resets(window: QuotaWindow, now: datetime, tz: tzinfo) -> str:
    if window.resets_at is None:
        return ""
    verb = "resets" if window.resets_at > now else "reset"
    return f" ({verb} {when(window.resets_at, now, tz)})"


def when(moment: datetime, now: datetime, tz: tzinfo = UTC) -> str:
    """`14:05` today, `Mon 09:00` within the week, `12 Mar 09:00` further away (in `tz`)."""
    local, today = moment.astimezone(tz), now.astimezone(tz)
    if local.date() == today.date():
        return local.strftime("%H:%M")
    if abs((local.date() - today.date()).days) < 7:
        return local.strftime("%a %H:%M")
    return local.strftime("%d %b %H:%M").lstrip("0")


def _pct(value: float) -> str:
    return f"{value:.0f} %" if value == int(value) else f"{value:.1f} %"


# --- usage_limit_reached ----------------------------------------------------------------------


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
    data = _parse(payload)
    err = _dict(data.get("error"))
    if _USAGE_LIMIT not in (err.get("type"), err.get("code")):
        return None
    resets = _epoch(_number(err.get("resets_at"))) or _later(now, err.get("resets_in_seconds"))
    window = _exhausted(snapshot, resets)
    if resets is None and window is not None:
        resets = window.resets_at
    plan = _text(err.get("plan_type")) or (snapshot.plan if snapshot else None)
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


# --- small readers ----------------------------------------------------------------------------


def _parse(payload: Mapping[str, Any] | bytes) -> Mapping[str, Any]:
    if not isinstance(payload, bytes):
        return payload
    try:
        data = json.loads(payload) if payload else None
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _limit_id(raw: str | None) -> str | None:
    value = (raw or "").strip().lower().replace("-", "_")
    return value or None


def _later(now: datetime, seconds: object) -> datetime | None:
    value = _number(seconds) if not isinstance(seconds, str) else _float(seconds)
    return now + timedelta(seconds=value) if value is not None and value >= 0 else None


def _epoch(value: float | None) -> datetime | None:
    if value is None or value <= 0:
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _float(raw: str | None) -> float | None:
    try:
        value = float(raw) if raw else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def _int(raw: str | None) -> int | None:
    value = _float(raw)
    return int(value) if value is not None and value == int(value) else None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _bool(raw: str | None) -> bool | None:
    value = (raw or "").lower()
    return True if value in _TRUE else False if value in _FALSE else None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
