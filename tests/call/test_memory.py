"""What upstreams taught (memory.py): plans, learning per upstream and family, bounds, and what a
call's attempts teach — tables of literal cases."""

from __future__ import annotations

import pytest

from chat2responses.call.memory import Lesson, Memory, lesson_of
from chat2responses.call.policy import Failure, Plan, Reason, Route, Tried
from chat2responses.settings import TransportMode
from chat2responses.upstream.catalog import Catalog
from tests.call.test_policy import plan, tried

CATALOG = Catalog.default()
H, W = Route.HTTP, Route.WEBSOCKET
AUTO, HTTP, WS = TransportMode.AUTO, TransportMode.HTTP, TransportMode.WEBSOCKET
UP = "http://up/v1/responses"


@pytest.mark.parametrize(
    ("transport", "model", "learned", "expected"),
    [
        (AUTO, "gpt-5.5", None, (W, Reason.CATALOG, True)),
        (AUTO, "gpt-5-codex", None, (H, Reason.DEFAULT, True)),
        (HTTP, "gpt-5.5", None, (H, Reason.FORCED, False)),
        (WS, "gpt-5-codex", None, (W, Reason.FORCED, False)),
        (AUTO, "gpt-5.5", W, (W, Reason.CATALOG, True)),
        (AUTO, "gpt-5.5", H, (H, Reason.LEARNED, True)),
        (AUTO, "gpt-5-codex", W, (W, Reason.LEARNED, True)),
        (HTTP, "gpt-5-codex", W, (H, Reason.FORCED, False)),
    ],
)
def test_plans(
    transport: TransportMode,
    model: str,
    learned: Route | None,
    expected: tuple[Route, Reason, bool],
) -> None:
    memory = Memory()
    match = CATALOG.match(model)
    if learned is not None:
        memory.learn(UP, match, Lesson(route=learned))
    got = memory.plan(transport, UP, match, summaries=True)
    assert (got.route, got.reason, got.switchable) == expected


def test_learning_is_per_upstream_and_family_and_bounded() -> None:
    memory = Memory(cap=2)
    news = memory.learn(UP, CATALOG.match("gpt-5.5-2026-04-23"), Lesson(route=H))
    assert news == [
        "gpt-5.5-2026-04-23: learned that it needs http; later requests go there directly"
    ]
    assert memory.learn(UP, CATALOG.match("gpt-5.5"), Lesson(route=H)) == []  # nothing new
    assert memory.plan(AUTO, UP, CATALOG.match("GPT-5.5"), summaries=True).route is H
    assert memory.plan(AUTO, "http://other", CATALOG.match("gpt-5.5"), summaries=True).route is W
    memory.learn(UP, CATALOG.match("Mystery-1"), Lesson(route=W))
    assert memory.plan(AUTO, UP, CATALOG.match("mystery-1"), summaries=True).route is W
    assert memory.plan(AUTO, UP, CATALOG.match("mystery-2"), summaries=True).route is H
    memory.learn(UP, CATALOG.match("mystery-3"), Lesson(route=W))
    assert len(memory.routes) == 2  # the least recent went first
    assert memory.plan(AUTO, UP, CATALOG.match("gpt-5.5"), summaries=True).route is W


def test_refused_summaries_are_remembered_per_model_and_upstream() -> None:
    memory = Memory()
    match = CATALOG.match("gpt-5.5")
    news = memory.learn(UP, match, Lesson(summaries_refused=True))
    assert "refuses reasoning summaries" in news[0]
    assert not memory.summaries_allowed(UP, match)
    assert memory.summaries_allowed(UP, CATALOG.match("gpt-5-codex"))
    assert memory.summaries_allowed("http://other", match)


@pytest.mark.parametrize(
    ("the_plan", "history", "expected"),
    [
        (plan(H), [tried(H, None)], Lesson()),
        (plan(H), [tried(H, Failure.NEEDS_WEBSOCKET), tried(W, None)], Lesson(route=W)),
        (plan(W), [tried(W, Failure.WEBSOCKET_REFUSED), tried(H, None)], Lesson(route=H)),
        (plan(H), [tried(H, Failure.SUMMARY_REFUSED), tried(H, None, False)], Lesson(None, True)),
        (plan(H), [tried(H, Failure.NEEDS_WEBSOCKET), tried(W, Failure.FATAL)], Lesson()),
    ],
)
def test_lessons(the_plan: Plan, history: list[Tried], expected: Lesson) -> None:
    assert lesson_of(the_plan, tuple(history)) == expected
