"""A call's record: built once from the job, its outcome and times; read back from a flow's
metadata whatever it holds; logged without a credential, a prompt or an answer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chat2responses.call.job import CallTimes
from chat2responses.call.memory import unstable_note
from chat2responses.call.policy import Attempt, Failure, Plan, Reason, Route, Tried
from chat2responses.call.record import CallRecord, Seen, record_of, route_shown, usage_of
from chat2responses.call.replay import ReasoningCache
from chat2responses.call.turn import Turn
from tests.call.test_machine import job
from tests.records_helpers import record

PROMPT = "the secret plan for the moon base"
SEEN = Seen("flow-9", 1_700_000_000.0, 10.5, "host-7", quota_used={"5 h": 42.0})


def finished(route: Route = Route.WEBSOCKET) -> Any:
    body = {"model": "gpt-5.5", "instructions": "Be brief.", "prompt_cache_key": "my-key",
            "input": [{"type": "message", "role": "user", "content": PROMPT}]}  # fmt: skip
    turn = Turn("my-key", "http://up.example/v1", "acct-digest", None, ReasoningCache())
    called = job(route, body=body, turn=turn)
    called.request_size = 321
    out = called.outcome
    first, second = Attempt(route, False, "first", continued=True), Attempt(route, False, "retry")
    out.tried = [Tried(first, Failure.CONTINUATION_MISS, 400), Tried(second, None, 200)]
    out.status, out.continued = 200, False
    out.usage = {"prompt_tokens": 2000, "completion_tokens": 30,
                 "prompt_tokens_details": {"cached_tokens": 1500},
                 "completion_tokens_details": {"reasoning_tokens": 10}}  # fmt: skip
    out.sent, out.sent_items, out.full_items = json.dumps(body), 1, 1
    out.socket, out.socket_turn = 4, 2
    out.quota = "quota 5 h 42 % (resets 14:05)"
    called.times = CallTimes(10.0, 10.0001, 10.001, 10.101, 10.131, 10.135, 10.136)
    return called


def test_record_of_a_finished_call() -> None:
    got = record_of(finished(), SEEN)
    assert (got.id, got.at, got.instance, got.client_bytes) == ("flow-9", 1.7e9, "host-7", 321)
    assert (got.route, got.reason, got.status, got.kind) == ("websocket", "default", 200, "chat")
    assert (got.retries, got.continuation_miss, got.fallback, got.continued) == (
        1,
        True,
        False,
        False,
    )
    assert (got.input_tokens, got.cached_tokens, got.output_tokens, got.reasoning_tokens) == (
        2000, 1500, 30, 10,
    )  # fmt: skip
    assert got.cached_share == 0.75
    assert got.c2r_ms == pytest.approx(1.0)
    assert got.retry_ms == pytest.approx(100.0)
    assert got.upstream_ms == pytest.approx(30.0)
    assert got.first_token_ms == pytest.approx(135.0)
    assert got.total_ms == pytest.approx(500.0)
    assert (got.key, got.own_key, got.account) == ("my-key", True, "acct-digest")
    assert (got.socket, got.socket_turn) == (4, 2)
    assert got.quota_used == {"5 h": 42.0}
    assert got.digests.kinds == "u" and got.digests.instructions
    assert len(got.attempts) == 2


def test_an_http_call_names_no_socket_and_a_flow_error_wins() -> None:
    called = finished(Route.HTTP)
    seen = Seen("f", 0.0, 10.5, "h", status=200, flow_error="Client disconnected.")
    got = record_of(called, seen)
    assert got.socket is None and got.socket_turn == 0
    assert (got.error, got.error_code) == ("Client disconnected.", "client_disconnected")


def test_the_log_line_holds_no_prompt_and_no_error_message() -> None:
    called = finished()
    called.outcome.error, called.outcome.error_code = f"bad input: {PROMPT}", "bad input!"
    fields = record_of(called, SEEN).log_fields()
    text = json.dumps(fields)
    assert PROMPT not in text and "Be brief" not in text
    assert "error" not in fields and "digests" not in fields
    assert fields["error_code"] == "bad_input_"  # only [A-Za-z0-9_.-]
    assert fields["cached_share"] == 0.75


def test_metadata_round_trip() -> None:
    got = record_of(finished(), SEEN)
    assert CallRecord.from_dict(json.loads(json.dumps(got.as_dict()))) == got


@pytest.mark.parametrize(
    "data",
    [
        None,
        "x",
        {},
        {"id": "a", "model": "m", "route": "http"},  # no kind
        {"id": 1, "model": "m", "route": "http", "kind": "chat"},
    ],
)
def test_what_is_not_a_record(data: object) -> None:
    assert CallRecord.from_dict(data) is None


def test_a_record_with_wrong_field_types_keeps_its_defaults() -> None:
    data: dict[str, Any] = {
        **record().as_dict(),
        "at": "yesterday",
        "input_tokens": "many",
        "stream": 1,
        "turn": True,
        "miss": ["a", 3],
        "quota_used": {"weekly": "x", "5 h": 3},
        "error": None,
    }
    got = CallRecord.from_dict(data)
    assert got is not None
    assert (got.at, got.input_tokens, got.stream, got.turn) == (0.0, None, False, 0)
    assert got.miss == ("a",) and got.quota_used == {"5 h": 3.0}


@pytest.mark.parametrize(
    ("usage", "counts"),
    [
        ({"prompt_tokens": 3, "completion_tokens": 4}, (3, 4, 0, 0)),
        ({"input_tokens": 3, "output_tokens": 4, "input_tokens_details": {"cached_tokens": 2}}, (3, 4, 2, 0)),  # noqa: E501
        ({"prompt_tokens": 3}, None),
        ({"prompt_tokens": True, "completion_tokens": 4}, None),
        (None, None),
    ],
)  # fmt: skip
def test_usage_of(usage: object, counts: tuple[int, ...] | None) -> None:
    got = usage_of(usage)
    assert (None if got is None else (got.input, got.output, got.cached, got.reasoning)) == counts


W, H = Route.WEBSOCKET, Route.HTTP
T0 = 1_800_000_000.0


def _tried(route: Route, failure: Failure | None) -> Tried:
    return Tried(Attempt(route, True, "x"), failure)


@pytest.mark.parametrize(
    ("plan", "tried", "learned", "shown"),
    [
        (Plan(W, Reason.CATALOG, True, True), [_tried(W, None)], False, (W, Reason.CATALOG, "")),
        (Plan(W, Reason.CATALOG, True, True), [], False, (W, Reason.CATALOG, "")),
        (Plan(W, Reason.CATALOG, True, True),
         [_tried(W, Failure.WEBSOCKET_REFUSED), _tried(H, None)], True, (H, Reason.LEARNED, "")),
        (Plan(W, Reason.CATALOG, True, True), [_tried(W, Failure.TOO_BIG), _tried(H, None)],
         False, (H, Reason.FALLBACK, "")),
        (Plan(W, Reason.CATALOG, True, True),
         [_tried(W, Failure.DROPPED), _tried(W, Failure.DROPPED), _tried(H, None)],
         False, (H, Reason.UNSTABLE, unstable_note(T0 + 600))),
        (Plan(H, Reason.UNSTABLE, True, True, until=T0 + 60), [_tried(H, None)], False,
         (H, Reason.UNSTABLE, unstable_note(T0 + 60))),
    ],
)  # fmt: skip
def test_the_route_shown_and_why(
    plan: Plan, tried: list[Tried], learned: bool, shown: tuple[Route, Reason, str]
) -> None:
    assert route_shown(plan, tuple(tried), learned=learned, planned_at=T0) == shown
