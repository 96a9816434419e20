"""The quota book: its warnings once per crossing, its texts, its bound; times said short."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from chat2responses.upstream.quota import Credits, QuotaSnapshot, QuotaWindow
from chat2responses.upstream.quota_book import QuotaBook, when
from tests.quota_helpers import NOW, at, reading


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
