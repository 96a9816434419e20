"""turn.py: what each attempt sends for a conversation, and what a finished answer teaches."""

from __future__ import annotations

import time
from typing import Any

import pytest

from chat2responses.call.conversation import ConversationStore
from chat2responses.call.policy import Attempt, Route
from chat2responses.call.replay import ReasoningCache
from chat2responses.call.turn import Turn, instructions_as_input

UP = "http://up/backend-api/codex"
USER = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
CALL = {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}
REASONING = {
    "type": "reasoning",
    "id": "rs_1",
    "summary": [],
    "encrypted_content": "sealed",
}
FULL = {"model": "m", "instructions": "", "input": [USER]}
FIRST = Attempt(Route.WEBSOCKET, True, "first")


def turn(store: ConversationStore | None = None, cache: ReasoningCache | None = None) -> Turn:
    kept = cache if cache is not None else ReasoningCache()
    return Turn(key="k", upstream=UP, credential="c", store=store, cache=kept)


def completed(t: Turn, output: list[Any]) -> None:
    for index, item in enumerate(output):
        t.observe({"type": "response.output_item.done", "output_index": index, "item": item})
    t.observe({"type": "response.completed", "response": {"id": "resp_1", "output": []}})


@pytest.mark.parametrize(
    ("body", "keep_field", "expected"),
    [
        (
            {"instructions": "Be brief.", "input": [USER]},
            True,
            {
                "instructions": "",
                "input": [
                    {
                        "type": "message",
                        "role": "developer",
                        "content": [{"type": "input_text", "text": "Be brief."}],
                    },
                    USER,
                ],
            },
        ),
        (
            {"instructions": "Be brief.", "input": [USER]},
            False,
            {
                "input": [
                    {
                        "type": "message",
                        "role": "developer",
                        "content": [{"type": "input_text", "text": "Be brief."}],
                    },
                    USER,
                ]
            },
        ),
        ({"instructions": "", "input": [USER]}, True, {"instructions": "", "input": [USER]}),
        ({"input": [USER]}, True, {"input": [USER]}),
    ],
)
def test_instructions_as_input(
    body: dict[str, Any], keep_field: bool, expected: dict[str, Any]
) -> None:
    before = repr(body)
    assert instructions_as_input(body, role="developer", keep_field=keep_field) == expected
    assert repr(body) == before  # the translation's body is never changed


def test_a_full_request_carries_the_kept_reasoning_and_says_how_much() -> None:
    cache = ReasoningCache()
    cache.keep("c", [REASONING, CALL])
    t = turn(cache=cache)
    full = {**FULL, "input": [USER, CALL]}
    body, socket = t.body(FIRST, full)
    assert socket is None and t.replayed == 1
    assert [item["type"] for item in body["input"]] == ["message", "reasoning", "function_call"]
    assert full["input"] == [USER, CALL]
    body, _ = t.body(Attempt(Route.HTTP, True, "again", replay=False), full)
    assert body is full and t.replayed == 0


def test_a_refused_replay_is_forgotten() -> None:
    cache = ReasoningCache()
    cache.keep("c", [REASONING, CALL])
    t = turn(cache=cache)
    t.body(FIRST, {**FULL, "input": [USER, CALL]})
    t.replay_refused()
    assert cache.replay("c", [USER, CALL])[1] == 0


def test_only_a_completed_answer_is_kept_and_remembered() -> None:
    store, cache = ConversationStore(), ReasoningCache()
    t = turn(store, cache)
    t.body(FIRST, FULL)
    assert t.finished(FIRST) == [] and not t.remember(object(), 0.0)
    completed(t, [REASONING, CALL])
    assert t.finished(FIRST) == []
    assert len(cache) == 1
    assert t.remember(object(), 0.0) and len(store) == 1


def test_an_empty_continued_answer_turns_continuation_off_for_that_upstream() -> None:
    store = ConversationStore()
    t = turn(store)
    t.body(FIRST, FULL)
    completed(t, [])
    continued = Attempt(Route.WEBSOCKET, True, "first", continued=True)
    news = t.finished(continued)
    assert "came back empty" in news[0] and not store.enabled(UP)
    assert not t.remember(object(), 0.0)
    assert not turn(store).plan(FULL, lambda socket: True)


def test_a_miss_forgets_the_conversation() -> None:
    store = ConversationStore()
    t = turn(store)
    t.body(FIRST, FULL)
    completed(t, [{"type": "message", "role": "assistant", "content": []}])
    t.remember(object(), 0.0)
    assert len(store) == 1
    t.missed()
    assert len(store) == 0 and t.continuation is None


COMPACTION = {"type": "compaction", "id": "cmp_1", "encrypted_content": "sealed"}
TRIGGER = {"type": "compaction_trigger"}


def test_a_compaction_is_never_remembered_so_the_next_turn_goes_in_full() -> None:
    """Rule 5: the turn after a compaction starts from the compacted input, never from a
    previous_response_id whose server state holds the old history."""
    store = ConversationStore()
    first = turn(store)
    first.body(FIRST, FULL)
    answer = {"type": "message", "role": "assistant", "content": [{"type": "output_text"}]}
    completed(first, [answer])
    assert first.remember(object(), time.monotonic())
    compacting = {**FULL, "input": [USER, answer, TRIGGER]}
    compaction = turn(store)
    assert compaction.plan(compacting, lambda socket: True)  # it may continue, as the CLI does
    compaction.body(Attempt(Route.WEBSOCKET, True, "first", continued=True), compacting)
    completed(compaction, [COMPACTION])
    continued = Attempt(Route.WEBSOCKET, True, "first", continued=True)
    assert compaction.finished(continued) == []  # one compaction item: not an empty answer
    assert store.enabled(UP)
    assert not compaction.remember(object(), time.monotonic())  # … but it is not remembered
    after = turn(store)
    assert not after.plan({**FULL, "input": [USER, COMPACTION, USER]}, lambda socket: True)
    assert not after.plan(
        {**compacting, "input": [*compacting["input"], COMPACTION, USER]}, lambda s: True
    )
