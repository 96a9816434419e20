"""Quota readings from headers, events and error frames, and windows named by their length.
Literal tables throughout."""

from __future__ import annotations

from typing import Any

import pytest

from chat2responses.upstream.quota import (
    Credits,
    QuotaSnapshot,
    QuotaWindow,
    snapshot_from_error_frame,
    snapshot_from_event,
    snapshot_from_headers,
    window_name,
)
from tests.quota_helpers import FRAME_SNAPSHOT, NOW, USAGE_FRAME, T, at


@pytest.mark.parametrize(
    ("minutes", "name"),
    [
        (300, "5 h"),
        (10080, "weekly"),
        (90, "90 min"),
        (4320, "3 d"),
        (60, "1 h"),
        (1440, "1 d"),
        (45, "45 min"),
        (0, None),
        (None, None),
    ],
)
def test_a_window_is_named_by_its_length(minutes: int | None, name: str | None) -> None:
    assert window_name(minutes) == name


FULL_HEADERS = {
    "X-Codex-Plan-Type": "plus",
    "x-codex-active-limit": "codex",
    "x-codex-primary-used-percent": "42",
    "x-codex-primary-window-minutes": "300",
    "x-codex-primary-reset-after-seconds": "7500",
    "X-CODEX-SECONDARY-USED-PERCENT": "91.5",
    "x-codex-secondary-window-minutes": "10080",
    "x-codex-secondary-reset-after-seconds": "421200",
    "x-codex-credits-has-credits": "True",
    "x-codex-credits-unlimited": "false",
    "x-codex-credits-balance": "12.50",
    "content-type": "text/event-stream",
}


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (
            FULL_HEADERS,
            QuotaSnapshot(
                NOW,
                (
                    QuotaWindow("primary", 42.0, 300, at(seconds=7500)),
                    QuotaWindow("secondary", 91.5, 10080, at(seconds=421200)),
                ),
                "plus",
                "codex",
                Credits(True, False, "12.50"),
            ),
        ),
        (  # the Codex CLI's absolute reset; the 5-hour window switched off, primary is weekly
            {
                "x-codex-primary-used-percent": "12.5",
                "x-codex-primary-window-minutes": "10080",
                "x-codex-primary-reset-at": str(T + 3600),
            },
            QuotaSnapshot(NOW, (QuotaWindow("primary", 12.5, 10080, at(hours=1)),)),
        ),
        (  # the active limit names another header family
            {
                "x-codex-active-limit": "codex_other",
                "x-codex-primary-used-percent": "1",
                "x-codex-other-primary-used-percent": "99",
                "x-codex-other-primary-window-minutes": "90",
            },
            QuotaSnapshot(NOW, (QuotaWindow("primary", 99.0, 90),), limit="codex_other"),
        ),
        (  # an active limit with no headers of its own falls back to the codex family
            {"x-codex-active-limit": "codex_gone", "x-codex-primary-used-percent": "7"},
            QuotaSnapshot(NOW, (QuotaWindow("primary", 7.0),)),
        ),
        (  # an all-zero window is no window; garbage is ignored
            {
                "x-codex-primary-used-percent": "0",
                "x-codex-secondary-used-percent": "lots",
                "x-codex-credits-has-credits": "1",
                "x-codex-credits-unlimited": "1",
            },
            QuotaSnapshot(NOW, credits=Credits(True, True)),
        ),
        ({"content-type": "application/json", "x-request-id": "r1"}, None),
        ({"x-codex-primary-used-percent": "nan"}, None),
        (  # an upstream that lies: past a year, or 1000 %, a value is not believed
            {
                "x-codex-primary-used-percent": "5",
                "x-codex-primary-window-minutes": "1e308",
                "x-codex-primary-reset-after-seconds": "1e300",
                "x-codex-secondary-used-percent": "1e308",
            },
            QuotaSnapshot(NOW, (QuotaWindow("primary", 5.0),)),
        ),
        (  # a year is still believed; a negative reset is not
            {
                "x-codex-primary-used-percent": "5",
                "x-codex-primary-reset-after-seconds": str(366 * 86400),
                "x-codex-secondary-used-percent": "-1",
            },
            QuotaSnapshot(NOW, (QuotaWindow("primary", 5.0, None, at(days=366)),)),
        ),
    ],
)
def test_headers_give_a_snapshot(headers: dict[str, str], expected: QuotaSnapshot | None) -> None:
    assert snapshot_from_headers(headers, NOW) == expected


# The event as the Codex CLI parses it (codex-rs/codex-api/src/rate_limits.rs).
RATE_LIMITS_EVENT = {
    "type": "codex.rate_limits",
    "plan_type": "pro",
    "rate_limits": {
        "primary": {"used_percent": 40.0, "window_minutes": 300, "reset_at": T + 600},
        "secondary": {"used_percent": 5, "window_minutes": 10080, "reset_at": T + 86400},
    },
    "credits": {"has_credits": False, "unlimited": False, "balance": None},
}


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (
            RATE_LIMITS_EVENT,
            QuotaSnapshot(
                NOW,
                (
                    QuotaWindow("primary", 40.0, 300, at(minutes=10)),
                    QuotaWindow("secondary", 5.0, 10080, at(days=1)),
                ),
                "pro",
                "codex",
                Credits(False, False),
            ),
        ),
        (
            {
                "type": "codex.rate_limits",
                "metered_limit_name": "codex-other",
                "rate_limits": {
                    "primary": {
                        "used_percent": 99,
                        "window_minutes": 300,
                        "reset_after_seconds": 60,
                    },
                    "secondary": None,
                },
            },
            QuotaSnapshot(
                NOW, (QuotaWindow("primary", 99.0, 300, at(minutes=1)),), limit="codex_other"
            ),
        ),
        ({"type": "codex.rate_limits"}, QuotaSnapshot(NOW)),
        (  # an upstream that lies: a reset or a window past a year is not believed
            {
                "type": "codex.rate_limits",
                "rate_limits": {
                    "primary": {
                        "used_percent": 5,
                        "window_minutes": 1e300,
                        "reset_after_seconds": 1e300,
                    }
                },
            },
            QuotaSnapshot(NOW, (QuotaWindow("primary", 5.0),)),
        ),
        ({"type": "response.created", "rate_limits": RATE_LIMITS_EVENT["rate_limits"]}, None),
    ],
)
def test_the_rate_limits_event_gives_a_snapshot(
    event: dict[str, Any], expected: QuotaSnapshot | None
) -> None:
    assert snapshot_from_event(event, NOW) == expected


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (USAGE_FRAME, FRAME_SNAPSHOT),
        ({"type": "error", "status": 500, "error": {"message": "x"}}, None),
        ({"type": "error", "headers": "nonsense"}, None),
    ],
)
def test_an_error_frame_gives_a_snapshot_from_its_headers(
    frame: dict[str, Any], expected: QuotaSnapshot | None
) -> None:
    assert snapshot_from_error_frame(frame, NOW) == expected
