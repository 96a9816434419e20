"""Quota readings shared by the quota tests: a fixed now, and the usage-limit frame of the Codex
backend with the reading its headers give."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chat2responses.upstream.quota import QuotaSnapshot, QuotaWindow

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday
T = int(NOW.timestamp())


def at(**delta: float) -> datetime:
    return NOW + timedelta(**delta)


def reading(*used: tuple[str, float, int, datetime | None], now: datetime = NOW) -> QuotaSnapshot:
    return QuotaSnapshot(now, tuple(QuotaWindow(s, u, m, r) for s, u, m, r in used))


USAGE_FRAME = {
    "type": "error",
    "status": 429,
    "error": {
        "type": "usage_limit_reached",
        "message": "The usage limit has been reached",
        "plan_type": "plus",
        "resets_at": T + 2 * 86400 + 3 * 3600,
        "resets_in_seconds": 2 * 86400 + 3 * 3600,
    },
    "headers": {
        "x-codex-primary-used-percent": 35,
        "x-codex-primary-window-minutes": 300,
        "x-codex-primary-reset-after-seconds": 3000,
        "x-codex-secondary-used-percent": 100,
        "x-codex-secondary-window-minutes": 10080,
        "x-codex-secondary-reset-at": T + 2 * 86400 + 3 * 3600,
    },
}
FRAME_SNAPSHOT = QuotaSnapshot(
    NOW,
    (
        QuotaWindow("primary", 35.0, 300, at(seconds=3000)),
        QuotaWindow("secondary", 100.0, 10080, at(days=2, hours=3)),
    ),
    "plus",
)
