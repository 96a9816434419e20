"""The 429 of `usage_limit_reached`: which window, when it resets, Retry-After; other errors are
not usage limits."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chat2responses.protocol.errors import UpstreamError
from chat2responses.upstream.quota import QuotaSnapshot
from chat2responses.upstream.quota_limit import usage_limit_error
from tests.quota_helpers import FRAME_SNAPSHOT, NOW, USAGE_FRAME, T, at, reading


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
        (  # a reset no one can mean (an upstream that lies): no Retry-After, no overflow
            {"error": {"type": "usage_limit_reached", "resets_in_seconds": 1e300}},
            None,
            None,
            "The ChatGPT usage limit is reached: a usage window is used up. "
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
