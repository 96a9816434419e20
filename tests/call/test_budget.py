"""One retry budget for the whole chain: the spent requests (call/budget.py), as a table."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from chat2responses.call.budget import RetryBudgets, request_key


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


# (what happens in order: "used up", "answered", "+N" seconds pass), retries of the next call
RULES: list[tuple[str, list[str], int]] = [
    ("nothing spent", [], 2),
    ("just used up", ["used up"], 0),
    ("within the window", ["used up", "+89.9"], 0),
    ("the window passed", ["used up", "+90"], 2),
    ("each call that used it up renews it", ["used up", "+80", "used up", "+80"], 0),
    ("an answer ends it", ["used up", "answered"], 2),
    ("an answer before, used up after", ["answered", "used up"], 0),
]


@pytest.mark.parametrize(("steps", "retries"), [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_retries_of_a_request_whose_budget_was_spent(steps: list[str], retries: int) -> None:
    clock = Clock()
    budgets = RetryBudgets(clock=clock)
    for step in steps:
        if step == "used up":
            budgets.used_up("request")
        elif step == "answered":
            budgets.answered("request")
        else:
            clock.now += float(step)
    assert budgets.retries("request", 2) == retries
    assert budgets.retries("another request", 2) == 2


def test_spent_requests_are_bounded_least_recent_first() -> None:
    budgets = RetryBudgets(cap=2, clock=Clock())
    for request in ("a", "b", "c"):
        budgets.used_up(request)
    assert [budgets.spent(r) for r in ("a", "b", "c")] == [False, True, True]
    budgets.used_up("b")  # renewed: now the most recent
    budgets.used_up("d")
    assert [budgets.spent(r) for r in ("b", "c", "d")] == [True, False, True]


@pytest.mark.parametrize(
    ("other", "same"),
    [
        (("up", "alice", b'{"input":"hi"}'), True),
        (("up", "alice", b'{"input":"hi!"}'), False),
        (("up", "bob", b'{"input":"hi"}'), False),
        (("other", "alice", b'{"input":"hi"}'), False),
        (("upa", "lice", b'{"input":"hi"}'), False),  # parts cannot run into each other
    ],
)
def test_a_request_is_its_upstream_credential_and_body(
    other: tuple[str, str, bytes], same: bool
) -> None:
    assert (request_key("up", "alice", b'{"input":"hi"}') == request_key(*other)) is same
