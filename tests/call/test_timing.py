"""Where a call's time went: durations from CallTimes, and the Server-Timing header."""

from __future__ import annotations

import pytest

from chat2responses.call.job import CallTimes
from chat2responses.call.timing import Split, parse_server_timing, server_timing, split

T0 = 100.0


def times(**kw: float | None) -> CallTimes:
    return CallTimes(**{"received": T0, **kw})


@pytest.mark.parametrize(
    ("given", "end", "expected"),
    [
        # refused before any upstream request: only the total
        ({}, T0 + 0.004, Split(total=4.0)),
        # one attempt
        (
            {"first_sent": T0 + 0.001, "sent": T0 + 0.001, "first_event": T0 + 0.031,
             "first_output": T0 + 0.035, "first_byte": T0 + 0.036},
            T0 + 0.5,
            Split(c2r=1.0, upstream=30.0, first_token=35.0, first_byte=36.0, total=500.0),
        ),
        # a retry: the failed attempt and its backoff are `retry`, not the addon's own time
        (
            {"first_sent": T0 + 0.002, "sent": T0 + 0.302, "first_event": T0 + 0.312},
            None,
            Split(c2r=2.0, retry=300.0, upstream=10.0),
        ),
        # a stream whose head went out before any upstream event (a keep-alive): no upstream yet
        ({"first_sent": T0 + 0.001, "sent": T0 + 0.001}, None, Split(c2r=1.0)),
    ],
)  # fmt: skip
def test_split(given: dict[str, float], end: float | None, expected: Split) -> None:
    got = split(times(**given), end)
    for name in ("c2r", "retry", "upstream", "first_token", "first_byte", "total"):
        value, want = getattr(got, name), getattr(expected, name)
        assert (value is None) == (want is None), name
        if want is not None:
            assert value == pytest.approx(want), name


def test_a_streams_head_has_no_total_a_whole_answer_has_one() -> None:
    t = times(first_sent=T0 + 0.0012, sent=T0 + 0.0012, first_event=T0 + 0.0302)
    assert server_timing(t) == "c2r;dur=1.2, upstream;dur=29.0"
    assert server_timing(t, T0 + 0.25) == "c2r;dur=1.2, upstream;dur=29.0, total;dur=250.0"
    assert server_timing(times(), T0 + 0.003) == "total;dur=3.0"
    assert server_timing(CallTimes()) == ""


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("c2r;dur=1.2, upstream;dur=29.0", {"c2r": 1.2, "upstream": 29.0}),
        ('total;desc="all";dur=250', {"total": 250.0}),
        ("miss, c2r;dur=x, db;dur=3", {"db": 3.0}),
        ("", {}),
    ],
)
def test_parse_server_timing(value: str, parsed: dict[str, float]) -> None:
    assert parse_server_timing(value) == parsed
