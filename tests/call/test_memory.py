"""What upstreams taught (memory.py): plans, learning per upstream and family, bounds, and what a
call's attempts teach — tables of literal cases."""

from __future__ import annotations

import pytest

from chat2responses.call.memory import Lesson, Memory, lesson_of, unstable_note
from chat2responses.call.policy import Attempt, Failure, Plan, Reason, Route, Tried
from chat2responses.call.shared import Table, shared_name
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
        memory.learn(UP, match, Lesson(route=learned), now=0.0)
    got = memory.plan(transport, UP, match, summaries=True, login=False, retries=0, now=0.0)
    assert (got.route, got.reason, got.switchable) == expected


def test_learning_is_per_upstream_and_family_and_bounded() -> None:
    memory = Memory(cap=2)
    news = memory.learn(UP, CATALOG.match("gpt-5.5-2026-04-23"), Lesson(route=H), now=0.0)
    assert news == [
        "gpt-5.5-2026-04-23: learned that it needs http; later requests go there directly"
    ]
    assert memory.learn(UP, CATALOG.match("gpt-5.5"), Lesson(route=H), now=0.0) == []  # nothing new
    assert (
        memory.plan(
            AUTO, UP, CATALOG.match("GPT-5.5"), summaries=True, login=False, retries=0, now=0.0
        ).route
        is H
    )
    assert (
        memory.plan(
            AUTO,
            "http://other",
            CATALOG.match("gpt-5.5"),
            summaries=True,
            login=False,
            retries=0,
            now=0.0,
        ).route
        is W
    )
    memory.learn(UP, CATALOG.match("Mystery-1"), Lesson(route=W), now=0.0)
    assert (
        memory.plan(
            AUTO, UP, CATALOG.match("mystery-1"), summaries=True, login=False, retries=0, now=0.0
        ).route
        is W
    )
    assert (
        memory.plan(
            AUTO, UP, CATALOG.match("mystery-2"), summaries=True, login=False, retries=0, now=0.0
        ).route
        is H
    )
    memory.learn(UP, CATALOG.match("mystery-3"), Lesson(route=W), now=0.0)
    assert len(memory.routes) == 2  # the least recent went first
    assert (
        memory.plan(
            AUTO, UP, CATALOG.match("gpt-5.5"), summaries=True, login=False, retries=0, now=0.0
        ).route
        is W
    )


def test_refused_summaries_are_remembered_per_model_and_upstream() -> None:
    memory = Memory()
    match = CATALOG.match("gpt-5.5")
    news = memory.learn(UP, match, Lesson(summaries_refused=True), now=0.0)
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


# Rule 4: two drops within the window make a model go over HTTP for the next window.
GPT55 = CATALOG.match("gpt-5.5")
T0 = 1_800_000_000.0


def test_two_drops_within_the_window_send_the_model_over_http_for_a_while() -> None:
    memory = Memory()
    assert memory.learn(UP, GPT55, Lesson(dropped=1), now=T0) == []
    assert (
        memory.plan(AUTO, UP, GPT55, summaries=True, login=False, retries=0, now=T0 + 1).route is W
    )
    news = memory.learn(UP, GPT55, Lesson(dropped=1), now=T0 + 599)
    assert news and "twice within 10 minutes" in news[0] and "http until" in news[0]
    plan = memory.plan(AUTO, UP, GPT55, summaries=True, login=False, retries=0, now=T0 + 600)
    assert (plan.route, plan.reason, plan.until) == (H, Reason.UNSTABLE, T0 + 599 + 600)
    assert memory.unstable(T0 + 600) == [(UP, "gpt-5.5", T0 + 1199)]
    # Then the WebSocket is tried again.
    assert (
        memory.plan(AUTO, UP, GPT55, summaries=True, login=False, retries=0, now=T0 + 1199).route
        is W
    )
    assert memory.unstable(T0 + 1199) == []


@pytest.mark.parametrize(
    ("lessons", "unstable"),
    [
        ([(0.0, 2)], True),  # two drops in one call
        ([(0.0, 1), (601.0, 1)], False),  # too far apart
        ([(0.0, 1), (300.0, 1)], True),
        ([(0.0, 1)], False),
    ],
)
def test_drops_count_within_the_window(lessons: list[tuple[float, int]], unstable: bool) -> None:
    memory = Memory()
    for at, count in lessons:
        memory.learn(UP, GPT55, Lesson(dropped=count), now=T0 + at)
    last = T0 + lessons[-1][0]
    assert (
        memory.plan(AUTO, UP, GPT55, summaries=True, login=False, retries=0, now=last).route is H
    ) is unstable


def test_an_unstable_websocket_does_not_override_a_forced_transport_or_another_model() -> None:
    memory = Memory()
    memory.learn(UP, GPT55, Lesson(dropped=2), now=T0)
    assert memory.plan(WS, UP, GPT55, summaries=True, login=False, retries=0, now=T0).route is W
    assert (
        memory.plan(
            AUTO, UP, CATALOG.match("gpt-5.6-terra"), summaries=True, login=False, retries=0, now=T0
        ).route
        is W
    )
    assert (
        memory.plan(
            AUTO, "http://other", GPT55, summaries=True, login=False, retries=0, now=T0
        ).route
        is W
    )


def test_a_model_that_needs_the_websocket_stays_there_when_it_is_unstable() -> None:
    """HTTP refused (it answered over the WebSocket only): falling back to HTTP would cost a
    refused request and a round trip on every call for the whole window, and lose continuation."""
    memory = Memory()
    memory.learn(UP, GPT55, Lesson(dropped=2), now=T0)
    refused = (
        Tried(Attempt(H, True, "over http (websocket unstable)"), Failure.NEEDS_WEBSOCKET, 400),
        Tried(Attempt(W, True, "over websocket"), None, 200),
    )
    lesson = lesson_of(plan(H), refused)
    assert lesson == Lesson(route=W)
    memory.learn(UP, GPT55, lesson, now=T0 + 1)
    for at in (T0 + 2, T0 + 599):
        plan_now = memory.plan(AUTO, UP, GPT55, summaries=True, login=False, retries=0, now=at)
        assert (plan_now.route, plan_now.reason) == (W, Reason.CATALOG)
    codex = CATALOG.match("gpt-5-codex")  # HTTP by default, learned to need the WebSocket
    memory.learn(UP, codex, Lesson(route=W), now=T0)
    memory.learn(UP, codex, Lesson(dropped=2), now=T0 + 1)
    plan_now = memory.plan(AUTO, UP, codex, summaries=True, login=False, retries=0, now=T0 + 2)
    assert (plan_now.route, plan_now.reason) == (W, Reason.LEARNED)


def test_an_http_answer_after_drops_teaches_no_route() -> None:
    history = [
        Tried(Attempt(W, True, "first"), Failure.DROPPED, 502),
        Tried(Attempt(W, True, "again"), Failure.DROPPED, 502),
        Tried(Attempt(H, True, "over http (websocket unstable)"), None, 200),
    ]
    assert lesson_of(plan(W), tuple(history)) == Lesson(route=None, dropped=2)


@pytest.mark.parametrize("transport", [AUTO, HTTP, WS])
@pytest.mark.parametrize(("summaries", "login", "retries"), [(True, False, 0), (False, True, 3)])
def test_a_plan_carries_what_the_call_asked_for(
    transport: TransportMode, summaries: bool, login: bool, retries: int
) -> None:
    memory = Memory()
    memory.learn(UP, GPT55, Lesson(dropped=2), now=T0)  # the unstable branch for AUTO
    got = memory.plan(
        transport, UP, GPT55, summaries=summaries, login=login, retries=retries, now=T0
    )
    assert (got.summaries, got.login, got.retries) == (summaries, login, retries)
    assert got.switchable is (transport is AUTO)


def test_drops_exactly_a_window_apart_are_not_two_in_the_window() -> None:
    memory = Memory()
    memory.learn(UP, GPT55, Lesson(dropped=1), now=T0)
    assert memory.learn(UP, GPT55, Lesson(dropped=1), now=T0 + 600) == []
    assert memory.learn(UP, GPT55, Lesson(dropped=1), now=T0 + 1199)  # 599 s after the last


def test_more_drops_while_unstable_neither_extend_it_nor_say_it_again() -> None:
    memory = Memory()
    assert memory.learn(UP, GPT55, Lesson(dropped=2), now=T0)
    assert memory.learn(UP, GPT55, Lesson(dropped=2), now=T0 + 100) == []
    assert memory.http_until[(UP, "gpt-5.5")] == T0 + 600


def test_a_refused_summary_is_said_once_and_remembered_with_its_time() -> None:
    memory = Memory()
    news = memory.learn(UP, GPT55, Lesson(summaries_refused=True, dropped=2), now=T0)
    assert news[-1] == (
        "gpt-5.5: the upstream refuses reasoning summaries; later requests leave them out"
    )
    assert "twice within 10 minutes" in news[0]
    assert memory.no_summaries == {(UP, "gpt-5.5"): T0}
    assert memory.learn(UP, GPT55, Lesson(summaries_refused=True), now=T0 + 1) == []
    assert not memory.summaries_allowed(UP, GPT55)


def test_a_lesson_without_drops_leaves_the_drops_alone() -> None:
    memory = Memory()
    memory.learn(UP, GPT55, Lesson(), now=T0)
    assert memory.learn(UP, GPT55, Lesson(dropped=1), now=T0 + 1) == []
    assert memory.last_drop == {(UP, "gpt-5.5"): T0 + 1}


def test_an_unstable_model_is_said_with_the_time_it_ends() -> None:
    news = Memory().learn(UP, GPT55, Lesson(dropped=2), now=T0)
    assert news == [
        "gpt-5.5: its WebSocket closed before the response ended twice within 10 minutes; "
        + unstable_note(T0 + 600)
    ]


def test_a_model_the_catalog_does_not_know_is_kept_by_its_lowercase_name() -> None:
    memory = Memory()
    memory.learn(UP, CATALOG.match("Mystery-1"), Lesson(route=W), now=T0)
    assert list(memory.routes) == [(UP, "mystery-1")]


def test_what_is_taught_anew_counts_as_recent() -> None:
    memory = Memory(cap=2)
    for name, route in (("m-a", W), ("m-b", W), ("m-a", H), ("m-c", W)):
        memory.learn(UP, CATALOG.match(name), Lesson(route=route), now=T0)
    assert list(memory.routes) == [(UP, "m-a"), (UP, "m-c")]  # m-b was the least recent


def test_what_one_memory_learns_another_absorbs_through_the_backing() -> None:
    told: list[object] = []

    names: list[tuple[object, str]] = []

    class Backing:
        def put(self, table: object, name: str, value: object) -> None:
            names.append((table, name))
            told.append(value)

        def drop(self, table: object, name: str) -> None:
            raise AssertionError("nothing learned is dropped")

    here, there = Memory(backing=Backing()), Memory()
    match = CATALOG.match("mystery-model")
    here.learn("http://up", match, Lesson(Route.WEBSOCKET, summaries_refused=True), now=T0)
    model = match.upstream_name
    assert told == [
        {"upstream": "http://up", "model": model, "what": "websocket", "at": T0},
        {"upstream": "http://up", "model": model, "what": "no_summaries", "at": T0},
    ]
    assert names == [
        (Table.LEARNED, shared_name("http://up", model, "route")),
        (Table.LEARNED, shared_name("http://up", model, "no_summaries")),
    ]
    assert all(there.absorb(value) for value in told)
    assert there.routes == here.routes and there.no_summaries == here.no_summaries
    assert not any(there.absorb(value) for value in told)  # known already: nothing new
    plans = [
        m.plan(
            TransportMode.AUTO, "http://up", match, summaries=True, login=False, retries=0, now=T0
        )
        for m in (here, there)
    ]
    assert plans[0] == plans[1] and plans[0].reason is Reason.LEARNED


@pytest.mark.parametrize(
    "value",
    [
        None,
        "x",
        {"upstream": "u", "model": "m", "what": "carrier-pigeon"},
        {"upstream": 1, "model": "m", "what": "http"},
        {"model": "m", "what": "http"},
        {"upstream": "u", "model": "m", "what": ["http"]},
    ],
)
def test_an_entry_that_is_not_a_lesson_is_refused(value: object) -> None:
    memory = Memory()
    assert not memory.absorb(value)
    assert not memory.routes and not memory.no_summaries


@pytest.mark.parametrize("at", [None, "yesterday", T0])
def test_a_refused_summary_is_kept_with_its_time_or_as_learned_long_ago(at: object) -> None:
    memory = Memory()
    entry = {"upstream": "u", "model": "m", "what": "no_summaries", "at": at}
    assert memory.absorb(entry)
    assert memory.no_summaries == {("u", "m"): T0 if at == T0 else 0.0}
