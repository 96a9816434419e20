"""Quota readings: the Codex backend's usage windows as values, read from wherever it reports them.
The book that keeps the latest reading per account is quota_book.py; the 429 that
`usage_limit_reached` becomes is quota_limit.py.

Readings come from three places (codex-rs/codex-api/src/rate_limits.rs and api_bridge.rs):
response headers (`x-codex-primary-used-percent`, `-window-minutes`, `-reset-at` or
`-reset-after-seconds`, the same with `secondary`, `x-codex-credits-*`, `x-codex-plan-type`,
`x-codex-active-limit` naming the header family that counts), the WebSocket `codex.rate_limits`
event (`rate_limits.{primary,secondary}.{used_percent, window_minutes, reset_at}`, `credits`,
`plan_type`, `metered_limit_name`), and the `headers` object of a WebSocket error frame.

Must not keep readings, warn or build errors (the modules above do).
Rules:
1. A window is named by its length ("5 h", "weekly", "90 min", "3 d"), never by its slot: the
   primary slot has been the weekly window while the 5-hour one was switched off.
2. Times are absolute (aware, UTC) once parsed: a relative reset is added to the injected `now`.
3. A payload of any shape gives a reading or None, never an exception.
Pure: no I/O, no clock.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

SLOTS = ("primary", "secondary")
DEFAULT_LIMIT = "codex"
_NAMED_WINDOWS = {10080: "weekly"}
_EVENT_TYPE = "codex.rate_limits"
_TRUE, _FALSE = frozenset({"true", "1"}), frozenset({"false", "0"})
# The most a reading may say, past which it is not believed (an upstream that lies must not
# overflow a date, nor fill a status line): a window or a reset a year away, 1000 % used.
MAX_SECONDS = 366 * 86400.0
MAX_MINUTES = MAX_SECONDS / 60
MAX_PERCENT = 1000.0


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
    limits = dict_of(event.get("rate_limits"))
    windows = tuple(
        w
        for slot in SLOTS
        if (w := _event_window(dict_of(limits.get(slot)), slot, now)) is not None
    )
    raw = dict_of(event.get("credits"))
    has, unlimited = raw.get("has_credits"), raw.get("unlimited")
    credits = None
    if isinstance(has, bool) and isinstance(unlimited, bool):
        balance = raw.get("balance")
        credits = Credits(has, unlimited, str(balance) if balance not in (None, "") else None)
    limit = _limit_id(text_of(event.get("metered_limit_name")) or text_of(event.get("limit_name")))
    return QuotaSnapshot(
        now, windows, text_of(event.get("plan_type")), limit or DEFAULT_LIMIT, credits
    )


def snapshot_from_error_frame(frame: Mapping[str, Any], now: datetime) -> QuotaSnapshot | None:
    """The reading in the `headers` of a WebSocket error frame (plan from its `error`)."""
    snapshot = snapshot_from_headers(dict_of(frame.get("headers")), now)
    plan = text_of(dict_of(frame.get("error")).get("plan_type"))
    if snapshot is not None and snapshot.plan is None and plan:
        return replace(snapshot, plan=plan)
    return snapshot


def _header_window(h: dict[str, str], stem: str, slot: str, now: datetime) -> QuotaWindow | None:
    used = _percent(_float(h.get(f"{stem}-used-percent")))
    if used is None:
        return None
    minutes = _minutes(_float(h.get(f"{stem}-window-minutes")))
    resets = epoch(_float(h.get(f"{stem}-reset-at"))) or later(
        now, h.get(f"{stem}-reset-after-seconds")
    )
    if used == 0 and not minutes and resets is None:  # codex-rs: an all-zero window is no window
        return None
    return QuotaWindow(slot, used, minutes, resets)


def _event_window(raw: dict[str, Any], slot: str, now: datetime) -> QuotaWindow | None:
    used = _percent(number(raw.get("used_percent")))
    if used is None:
        return None
    minutes = _minutes(number(raw.get("window_minutes")))
    resets = epoch(number(raw.get("reset_at"))) or later(
        now, raw.get("reset_after_seconds", raw.get("resets_in_seconds"))
    )
    return QuotaWindow(slot, used, minutes, resets)


def _has_family(h: dict[str, str], limit: str) -> bool:
    prefix = "x-" + limit.replace("_", "-")
    return any(f"{prefix}-{slot}-used-percent" in h for slot in SLOTS)


# --- small readers (quota_limit.py reads error bodies with them too) ---------------------------


def parse_payload(payload: Mapping[str, Any] | bytes) -> Mapping[str, Any]:
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


def later(now: datetime, seconds: object) -> datetime | None:
    """`now` plus `seconds` (a number, or its text); None past MAX_SECONDS or below 0."""
    value = number(seconds) if not isinstance(seconds, str) else _float(seconds)
    if value is None or not 0 <= value <= MAX_SECONDS:
        return None
    return now + timedelta(seconds=value)


def _percent(value: float | None) -> float | None:
    return value if value is not None and 0 <= value <= MAX_PERCENT else None


def _minutes(value: float | None) -> int | None:
    if value is None or not 0 < value <= MAX_MINUTES or value != int(value):
        return None
    return int(value)


def epoch(value: float | None) -> datetime | None:
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


def number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _bool(raw: str | None) -> bool | None:
    value = (raw or "").lower()
    return True if value in _TRUE else False if value in _FALSE else None


def dict_of(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def text_of(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
