"""Quota readings from headers, events and error frames; the book's warnings and texts; the 429
of `usage_limit_reached`. Literal tables throughout."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from chat2responses.protocol.errors import UpstreamError
from chat2responses.upstream.quota import (
    Credits,
    QuotaBook,
    QuotaSnapshot,
    QuotaWindow,
    snapshot_from_error_frame,
    snapshot_from_event,
    snapshot_from_headers,
    usage_limit_error,
    when,
    window_name,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday
T = int(NOW.timestamp())


def at(**delta: float) -> datetime:
    return NOW + timedelta(**delta)


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
        ({"type": "response.created", "rate_limits": RATE_LIMITS_EVENT["rate_limits"]}, None),
    ],
)
def test_the_rate_limits_event_gives_a_snapshot(
    event: dict[str, Any], expected: QuotaSnapshot | None
) -> None:
    assert snapshot_from_event(event, NOW) == expected


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


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (at(hours=2, minutes=5), "14:05"),
        (at(hours=-3), "09:00"),
        (at(days=6, hours=-3), "Sun 09:00"),
        (at(days=1), "Tue 12:00"),
        (at(days=10), "12 Mar 12:00"),
    ],
)
def test_times_are_short(moment: datetime, text: str) -> None:
    assert when(moment, NOW) == text


def test_times_follow_the_books_time_zone() -> None:
    tz = timezone(timedelta(hours=2))
    assert when(at(hours=2, minutes=5), NOW, tz) == "16:05"
    assert when(at(hours=11), NOW, tz) == "Tue 01:00"


def reading(*used: tuple[str, float, int, datetime | None], now: datetime = NOW) -> QuotaSnapshot:
    return QuotaSnapshot(now, tuple(QuotaWindow(s, u, m, r) for s, u, m, r in used))


def test_the_book_summarises_an_account() -> None:
    book = QuotaBook()
    snapshot = reading(
        ("secondary", 91, 10080, at(days=5, hours=21)),
        ("primary", 42, 300, at(hours=2, minutes=5)),
    )
    book.update("ab12cd34ef56", snapshot)
    assert book.text("ab12cd34ef56", NOW) == (
        "quota 5 h 42 % (resets 14:05), weekly 91 % (resets Sun 09:00)"
    )
    assert book.text("unknown", NOW) == ""  # nothing reported: the summary says nothing
    assert book.get("ab12cd34ef56") == snapshot


def test_the_summary_shows_plan_credits_family_and_past_resets() -> None:
    book = QuotaBook()
    book.update(
        "acc",
        QuotaSnapshot(
            NOW,
            (QuotaWindow("primary", 12.5, 90, at(minutes=30)),),
            "plus",
            credits=Credits(True, False, "3.20"),
        ),
    )
    book.update("acc", QuotaSnapshot(NOW, (QuotaWindow("primary", 99, 300),), limit="codex_other"))
    assert book.text("acc", at(hours=1)) == (
        "quota 90 min 12.5 % (reset 12:30), credits 3.20 [plus]; quota (codex_other) 5 h 99 %"
    )


@pytest.mark.parametrize(
    ("sequence", "warned_at"),
    [
        ([50, 91, 95, 80, 92], [1, 4]),  # once per crossing, again after falling below
        ([90, 90, 100], [0]),
        ([10, 20, 89.9], []),
    ],
)
def test_a_warning_comes_once_per_crossing(sequence: list[float], warned_at: list[int]) -> None:
    book = QuotaBook()
    warnings = [book.update("acc", reading(("primary", u, 300, None))) for u in sequence]
    assert [i for i, w in enumerate(warnings) if w] == warned_at
    for i in warned_at:
        assert warnings[i] == [
            f"quota warning: account acc has used {sequence[i]:g} % of its 5 h window"
        ]


def test_windows_warn_independently_and_say_when_they_reset() -> None:
    book = QuotaBook(threshold=80)
    first = book.update(
        "acc", reading(("primary", 85, 300, at(hours=1)), ("secondary", 10, 10080, None))
    )
    assert first == ["quota warning: account acc has used 85 % of its 5 h window (resets 13:00)"]
    second = book.update(
        "acc", reading(("primary", 86, 300, at(hours=1)), ("secondary", 81, 10080, None))
    )
    assert second == ["quota warning: account acc has used 81 % of its weekly window"]


def test_a_reading_without_a_window_keeps_the_last_one_until_it_resets() -> None:
    book = QuotaBook()
    book.update(
        "acc", reading(("primary", 40, 300, at(hours=1)), ("secondary", 60, 10080, at(days=3)))
    )
    book.update("acc", reading(("primary", 45, 300, at(hours=1))))
    assert book.text("acc", NOW) == "quota 5 h 45 % (resets 13:00), weekly 60 % (resets Thu 12:00)"
    later = at(days=4)
    book.update("acc", reading(("primary", 1, 300, None), now=later))
    assert book.text("acc", later) == "quota 5 h 1 %"


def test_the_book_is_bounded_and_lists_accounts_by_digest() -> None:
    book = QuotaBook(capacity=2)
    assert book.status(NOW) == "quota: no readings yet"
    for account, used in (("aaa", 1), ("bbb", 2), ("ccc", 3)):
        book.update(account, reading(("primary", used, 300, None)))
    assert book.get("aaa") is None
    assert book.status(NOW) == "quota by account:\n  bbb: 5 h 2 %\n  ccc: 5 h 3 %"
    book.update("bbb", reading(("primary", 4, 300, None)))  # now the most recent
    book.update("ddd", reading(("primary", 5, 300, None)))
    assert book.get("ccc") is None and book.get("bbb") is not None


@pytest.mark.parametrize(
    ("payload", "snapshot", "retry_after", "message"),
    [
        (  # the WS frame: the window resetting when the error says is the one that ran out
            USAGE_FRAME,
            FRAME_SNAPSHOT,
            str(2 * 86400 + 3 * 3600),
            "The ChatGPT usage limit is reached (plan plus): the weekly window is used up; "
            "it resets Wed 15:00 UTC (in 2 d 3 h). Retry then, or sign in with another account "
            "(`codex login`).",
        ),
        (  # the HTTP body, with only a relative reset and no reading
            json.dumps(
                {
                    "error": {
                        "type": "usage_limit_reached",
                        "message": "The usage limit has been reached",
                        "resets_in_seconds": 4500,
                    }
                }
            ).encode(),
            None,
            "4500",
            "The ChatGPT usage limit is reached: a usage window is used up; it resets 13:15 UTC "
            "(in 1 h 15 min). Retry then, or sign in with another account (`codex login`).",
        ),
        (  # no reset in the error: the fullest window's own reset
            {"error": {"type": "usage_limit_reached"}},
            reading(("primary", 100, 300, at(minutes=20)), ("secondary", 70, 10080, at(days=2))),
            "1200",
            "The ChatGPT usage limit is reached: the 5 h window is used up; it resets 12:20 UTC "
            "(in 20 min). Retry then, or sign in with another account (`codex login`).",
        ),
        (  # nothing known about the reset: no Retry-After
            {"error": {"code": "usage_limit_reached", "plan_type": "free"}},
            None,
            None,
            "The ChatGPT usage limit is reached (plan free): a usage window is used up. "
            "Retry then, or sign in with another account (`codex login`).",
        ),
        (  # a reset already past still asks for a second's wait
            {"error": {"type": "usage_limit_reached", "resets_at": T - 30}},
            None,
            "1",
            "The ChatGPT usage limit is reached: a usage window is used up; "
            "it was due at 11:59 UTC. Retry then, or sign in with another account (`codex login`).",
        ),
    ],
)
def test_usage_limit_reached_becomes_a_429_with_retry_after(
    payload: dict[str, Any] | bytes,
    snapshot: QuotaSnapshot | None,
    retry_after: str | None,
    message: str,
) -> None:
    err = usage_limit_error(payload, snapshot, NOW)
    assert isinstance(err, UpstreamError)
    assert (err.status, err.type, err.code) == (429, "usage_limit_reached", "usage_limit_reached")
    assert err.headers == ({"retry-after": retry_after} if retry_after else {})
    assert err.message == message


@pytest.mark.parametrize(
    "payload",
    [
        {"error": {"type": "rate_limit_exceeded", "resets_in_seconds": 5}},
        {"type": "error", "status": 429, "error": {"code": "server_is_overloaded"}},
        b"not json",
        b"",
        {"detail": "usage_limit_reached"},
    ],
)
def test_other_errors_are_not_usage_limits(payload: dict[str, Any] | bytes) -> None:
    assert usage_limit_error(payload, None, NOW) is None
