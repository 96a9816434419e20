"""How long a reused upstream WebSocket has to show it is alive (upstream/liveness.py)."""

from __future__ import annotations

import pytest

from chat2responses.upstream.liveness import LIVENESS_MAX, LIVENESS_MIN, liveness_wait


@pytest.mark.parametrize(
    ("round_trip", "wait"),
    [
        (None, LIVENESS_MIN),  # never measured
        (0.0, LIVENESS_MIN),  # websockets' latency before its first pong
        (0.0002, LIVENESS_MIN),  # loopback
        (0.125, 0.5),  # four round trips, exactly the floor
        (0.2, 0.8),  # a distant upstream
        (0.5, LIVENESS_MAX),  # a slow link: capped
        (30.0, LIVENESS_MAX),
    ],
)
def test_the_wait_is_four_round_trips_within_bounds(round_trip: float | None, wait: float) -> None:
    assert liveness_wait(round_trip) == pytest.approx(wait)
