"""How a call that gives up tells its client not to retry (call/giving_up.py), as tables."""

from __future__ import annotations

import pytest

from chat2responses.call.giving_up import Client, giving_up, retries_spent
from chat2responses.call.policy import Attempt, Failure, Plan, Reason, Route, Tried
from chat2responses.protocol.errors import ProxyError, UpstreamError

H = Route.HTTP


def err(status: int = 503, code: str | None = None, **headers: str) -> ProxyError:
    return UpstreamError("upstream failed", status=status, code=code, headers=headers)


# (error, spent, client, responses stream) → (headers, a response.failed stream)
Row = tuple[str, ProxyError, bool, Client, bool, dict[str, str], bool]
RULES: list[Row] = [
    ("a failure with retries left to the client", err(), False, Client.OTHER, False, {}, False),
    ("the budget spent", err(), True, Client.OTHER, False, {"x-should-retry": "false"}, False),
    ("the budget spent, an upstream's own word replaced", err(**{"X-Should-Retry": "true"}),
     True, Client.OTHER, False, {"x-should-retry": "false"}, False),
    ("a short Retry-After passed on", err(429, **{"retry-after": "60"}), False, Client.OTHER,
     False, {"retry-after": "60"}, False),
    ("a Retry-After no client can read held back", err(429, **{"retry-after": "banana"}), False,
     Client.OTHER, False, {}, False),
    ("a negative Retry-After held back", err(429, **{"Retry-After": "-5"}), False, Client.OTHER,
     False, {}, False),
    ("a Retry-After date held back", err(503, **{"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}),
     False, Client.OTHER, False, {}, False),
    ("a bad retry-after-ms beside a good Retry-After", err(429, **{"retry-after-ms": "x",
     "retry-after": "2"}), False, Client.OTHER, False, {"retry-after": "2"}, False),
    ("a long Retry-After held back", err(429, **{"retry-after": "3083"}), False, Client.OTHER,
     False, {"x-should-retry": "false"}, False),
    ("a long retry-after-ms held back", err(429, **{"retry-after-ms": "61000"}), False,
     Client.OTHER, False, {"x-should-retry": "false"}, False),
    ("a far usage limit", err(429, "usage_limit_reached", **{"retry-after": "7400"}), False,
     Client.CODEX, True, {"x-should-retry": "false"}, False),
    ("a near usage limit", err(429, "usage_limit_reached", **{"retry-after": "30"}), False,
     Client.OTHER, False, {"retry-after": "30"}, False),
    ("a usage limit with no known reset", err(429, "usage_limit_reached"), False,
     Client.OTHER, False, {"x-should-retry": "false"}, False),
    ("an upstream's own x-should-retry kept", err(**{"x-should-retry": "true"}), False,
     Client.OTHER, False, {"x-should-retry": "true"}, False),
    ("the Codex CLI's spent stream", err(), True, Client.CODEX, True,
     {"x-should-retry": "false"}, True),
    ("the Codex CLI, not spent", err(), False, Client.CODEX, True, {}, False),
    ("the Codex CLI on a chat or JSON answer", err(), True, Client.CODEX, False,
     {"x-should-retry": "false"}, False),
    ("another client's spent stream", err(), True, Client.OTHER, True,
     {"x-should-retry": "false"}, False),
]  # fmt: skip


@pytest.mark.parametrize("row", RULES, ids=[r[0] for r in RULES])
def test_giving_up(row: Row) -> None:
    _, error, spent, client, stream, headers, overloaded = row
    form = giving_up(error, spent=spent, client=client, responses_stream=stream)
    assert form.headers == headers
    assert form.overloaded_stream is overloaded


def _tried(*failures: Failure | None) -> tuple[Tried, ...]:
    return tuple(Tried(Attempt(H, False, "x"), f) for f in failures)


T, F = Failure.TRANSIENT, Failure.FATAL


@pytest.mark.parametrize(
    ("retries", "history", "spent"),
    [
        (2, _tried(T, T, T), True),
        (2, _tried(T, T), False),  # a retry left (declined for a long retry-after, say)
        (0, _tried(T), True),  # none allowed: an outage
        (2, _tried(T, T, F), False),  # the last failure is not transient
        (2, _tried(Failure.CONTINUATION_MISS, T, T, T), True),
        (2, _tried(Failure.DROPPED, T, Failure.DROPPED), True),  # a drop counts as a retry
        (2, _tried(T, Failure.DROPPED), False),
        (2, (), False),
    ],
)
def test_retries_are_spent_when_transient_failures_used_them_all(
    retries: int, history: tuple[Tried, ...], spent: bool
) -> None:
    plan = Plan(H, Reason.DEFAULT, True, False, retries=retries)
    assert retries_spent(plan, history) is spent
