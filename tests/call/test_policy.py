"""The call policy: attempts and classification — tables of literal cases."""

from __future__ import annotations

import pytest

from chat2responses.call.policy import (
    MAX_ATTEMPTS,
    Attempt,
    Failure,
    Plan,
    Reason,
    Route,
    Tried,
    asks_summaries,
    body_for,
    classify,
    dead_end_note,
    first_attempt,
    next_attempt,
    refused_for_websocket,
    retry_after,
)
from chat2responses.protocol.errors import (
    ClientError,
    ConnectionBroken,
    HandshakeRefused,
    ProxyError,
    UpstreamError,
    UpstreamProtocolError,
    WebSocketClosed,
)

H, W = Route.HTTP, Route.WEBSOCKET


def plan(
    route: Route = H, *, switchable: bool = True, summaries: bool = True, retries: int = 0
) -> Plan:
    return Plan(route, Reason.DEFAULT, switchable=switchable, summaries=summaries, retries=retries)


LOGIN = Plan(W, Reason.CATALOG, switchable=True, summaries=True, login=True)
REFRESHED = "with a refreshed login"


def tried(route: Route, failure: Failure | None, summaries: bool = True) -> Tried:
    return Tried(Attempt(route, summaries, "x"), failure, 400)


def dropped(route: Route) -> Tried:
    return Tried(Attempt(route, True, "x"), Failure.DROPPED, 502)


@pytest.mark.parametrize(
    ("the_plan", "history", "expected"),
    [
        # Rule 2: one switch each way, only under auto.
        (plan(H), [tried(H, Failure.NEEDS_WEBSOCKET)], Attempt(W, True, "over websocket")),
        (plan(W), [tried(W, Failure.WEBSOCKET_REFUSED)], Attempt(H, True, "over http")),
        (plan(H, switchable=False), [tried(H, Failure.NEEDS_WEBSOCKET)], None),
        (plan(W, switchable=False), [tried(W, Failure.WEBSOCKET_REFUSED)], None),
        (plan(H), [tried(H, Failure.NEEDS_WEBSOCKET), tried(W, Failure.WEBSOCKET_REFUSED)], None),
        # A WebSocket failure that says "use WebSocket" makes no sense to retry.
        (plan(W), [tried(W, Failure.NEEDS_WEBSOCKET)], None),
        # Rule 3: summaries once, on the same route.
        (plan(H), [tried(H, Failure.SUMMARY_REFUSED)], Attempt(H, False, "without reasoning summaries")),  # noqa: E501
        (plan(W), [tried(W, Failure.SUMMARY_REFUSED, summaries=False)], None),
        (
            plan(H),
            [tried(H, Failure.NEEDS_WEBSOCKET), tried(W, Failure.SUMMARY_REFUSED)],
            Attempt(W, False, "without reasoning summaries"),
        ),
        (plan(H), [tried(H, Failure.FATAL)], None),
        # A 401 refreshes the addon's own login once; a client's own key is not ours to refresh.
        (LOGIN, [tried(W, Failure.UNAUTHORIZED)], Attempt(W, True, REFRESHED, fresh_login=True)),
        (LOGIN, [tried(W, Failure.UNAUTHORIZED), Tried(Attempt(W, True, "r", True), Failure.UNAUTHORIZED)], None),  # noqa: E501
        (plan(H), [tried(H, Failure.UNAUTHORIZED)], None),
        (plan(H), [tried(H, None)], None),
        (plan(H), [], None),
        # Rule 9: a dropped WebSocket is a transient failure; a second drop goes over HTTP.
        (plan(W, retries=2), [dropped(W)], Attempt(W, True, "in 0.5 s (1 of 2)", delay=0.5)),
        (plan(W, retries=2), [dropped(W), dropped(W)], Attempt(H, True, "over http (websocket unstable)")),  # noqa: E501
        (plan(W, retries=2, switchable=False), [dropped(W), dropped(W)], Attempt(W, True, "in 1.0 s (2 of 2)", delay=1.0)),  # noqa: E501
        (plan(W, retries=1), [dropped(W), tried(W, Failure.TRANSIENT)], None),
        (plan(W, retries=0), [dropped(W)], None),
    ],
)  # fmt: skip
def test_next_attempt(the_plan: Plan, history: list[Tried], expected: Attempt | None) -> None:
    assert next_attempt(the_plan, tuple(history)) == expected


def test_attempts_are_bounded_whatever_the_upstream_does() -> None:
    history = [tried(H, Failure.SUMMARY_REFUSED)] * MAX_ATTEMPTS
    assert next_attempt(plan(H), tuple(history)) is None


def test_the_first_attempt_follows_the_plan() -> None:
    assert first_attempt(plan(W, summaries=False)) == Attempt(W, False, "first")


def refused(status: int) -> HandshakeRefused:
    return HandshakeRefused("no", status=status)


@pytest.mark.parametrize(
    ("route", "err", "expected"),
    [
        (H, UpstreamError("routing_unsupported: only WS", status=400), Failure.NEEDS_WEBSOCKET),
        (H, UpstreamError("x", status=400, code="routing_unsupported"), Failure.NEEDS_WEBSOCKET),
        (W, UpstreamError("routing_unsupported", status=400), Failure.FATAL),
        (W, refused(426), Failure.WEBSOCKET_REFUSED),
        (W, refused(404), Failure.WEBSOCKET_REFUSED),
        (W, refused(405), Failure.WEBSOCKET_REFUSED),
        (W, refused(429), Failure.FATAL),
        (W, refused(502), Failure.TRANSIENT),
        (H, refused(426), Failure.FATAL),
        (H, UpstreamError("verify", status=400, param="reasoning.summary"), Failure.SUMMARY_REFUSED),  # noqa: E501
        (W, UpstreamError("verify", status=400, param="reasoning.summary"), Failure.SUMMARY_REFUSED),  # noqa: E501
        (H, UpstreamError("boom", status=500), Failure.TRANSIENT),
        (H, UpstreamError("overloaded", status=503, code="server_is_overloaded"), Failure.TRANSIENT),  # noqa: E501
        (W, UpstreamError("stalled", status=504, code="upstream_stalled"), Failure.FATAL),
        (H, UpstreamError("no headers", status=504, code="upstream_stalled"), Failure.FATAL),
        (H, UpstreamError("connect timed out", status=504, code="upstream_timeout"), Failure.TRANSIENT),  # noqa: E501
        (H, UpstreamError("elsewhere", status=502, code="upstream_redirect"), Failure.FATAL),
        (W, UpstreamError("elsewhere", status=502, code="upstream_redirect"), Failure.FATAL),
        (H, UpstreamError("too large", status=502, code="answer_too_large"), Failure.FATAL),
        (H, UpstreamProtocolError("garbage"), Failure.FATAL),
        (H, ConnectionBroken("broke off the answer: ClientPayloadError"), Failure.TRANSIENT),
        (W, WebSocketClosed("dropped", 1006), Failure.DROPPED),
        (W, WebSocketClosed("going away", 1001), Failure.DROPPED),
        (W, WebSocketClosed("too big", 1009), Failure.TOO_BIG),
        (H, UpstreamError("slow down", status=429), Failure.FATAL),
        (H, ProxyError("bug"), Failure.FATAL),
        (H, UpstreamError("expired", status=401), Failure.UNAUTHORIZED),
        (W, refused(401), Failure.UNAUTHORIZED),
        (H, ClientError("no login; run codex login", status=401), Failure.FATAL),
    ],
)  # fmt: skip
def test_classify(route: Route, err: ProxyError, expected: Failure) -> None:
    assert classify(route, err) is expected


@pytest.mark.parametrize(
    ("status", "code", "message", "expected"),
    [
        (400, "routing_unsupported", "GPT-5.5 routing only supports Responses-compatible", True),
        (400, None, "routing_unsupported: GPT-5.5 routing only supports …", True),
        (426, None, "use the WebSocket transport", True),
        (400, "unsupported_parameter", "Unsupported parameter: temperature", False),
        (500, "routing_unsupported", "server error", False),
        (429, "rate_limit_exceeded", "slow down", False),
        (400, "routing_unsupported", "no reason given", True),  # the code alone says so
        (400, None, "no reason given", False),
        (499, None, "websocket only", True),
        (399, None, "websocket only", False),
    ],
)
def test_what_counts_as_needing_websocket(
    status: int, code: str | None, message: str, expected: bool
) -> None:
    assert refused_for_websocket(UpstreamError(message, status=status, code=code)) is expected


def test_a_retry_without_summaries_builds_a_new_body_and_keeps_the_old() -> None:
    body = {"model": "m", "reasoning": {"effort": "low", "summary": "auto"}}
    without = body_for(Attempt(H, False, "x"), body)
    assert without == {"model": "m", "reasoning": {"effort": "low"}}
    assert body == {"model": "m", "reasoning": {"effort": "low", "summary": "auto"}}
    assert body_for(Attempt(H, True, "x"), body) is body
    assert asks_summaries(body) and not asks_summaries(without)


def test_a_forced_http_route_explains_a_websocket_only_refusal() -> None:
    assert "responses_transport=http" in dead_end_note(
        plan(H, switchable=False), Failure.NEEDS_WEBSOCKET
    )
    assert dead_end_note(plan(H), Failure.FATAL) == ""


@pytest.mark.parametrize(
    ("failures", "status", "code"),
    [
        # 1009 on the WebSocket, then HTTP refuses the model: the upstream's limit (502).
        ([(W, Failure.TOO_BIG), (H, Failure.NEEDS_WEBSOCKET)], 502, "upstream_message_too_big"),
        # HTTP refuses the model with no 1009 before: the upstream's own 400 as it came.
        ([(H, Failure.NEEDS_WEBSOCKET)], 400, "routing_unsupported"),
        ([(W, Failure.TOO_BIG), (H, Failure.FATAL)], 400, "routing_unsupported"),
    ],
)
def test_dead_end_blames_the_upstreams_limit_not_the_client(
    failures: list[tuple[Route, Failure]], status: int, code: str
) -> None:
    from chat2responses.call.policy import Tried, dead_end

    history = tuple(Tried(Attempt(route, False, "x"), failure) for route, failure in failures)
    refusal = UpstreamError("routing_unsupported", status=400, code="routing_unsupported")
    err = dead_end(plan(W), history, refusal)
    assert (err.status, err.code) == (status, code)


# ---- every rule keeps what it does not change (the mutants of scripts/mutants) ------------------


def _last(route: Route, failure: Failure, *, summaries: bool, replay: bool) -> Tried:
    return Tried(Attempt(route, summaries, "x", replay=replay), failure, 500)


@pytest.mark.parametrize("replay", [True, False])
@pytest.mark.parametrize("summaries", [True, False])
@pytest.mark.parametrize(
    ("the_plan", "earlier", "failure", "route"),
    [
        (plan(H), [], Failure.NEEDS_WEBSOCKET, W),
        (plan(W), [], Failure.WEBSOCKET_REFUSED, H),
        (plan(H, retries=1), [], Failure.TRANSIENT, H),
        (plan(W, retries=2), [dropped(W)], Failure.DROPPED, H),
        (plan(W), [], Failure.TOO_BIG, H),
        (LOGIN, [], Failure.UNAUTHORIZED, W),
        (plan(W), [], Failure.CONTINUATION_MISS, W),
    ],
)
def test_each_next_attempt_keeps_the_summaries_and_the_replay_it_had(  # noqa: PLR0917
    the_plan: Plan,
    earlier: list[Tried],
    failure: Failure,
    route: Route,
    summaries: bool,
    replay: bool,
) -> None:
    last_route = W if failure in (Failure.WEBSOCKET_REFUSED, Failure.TOO_BIG) else the_plan.route
    if failure is Failure.CONTINUATION_MISS:
        last = Tried(Attempt(W, summaries, "x", continued=True, replay=replay), failure, 400)
    else:
        last = _last(last_route, failure, summaries=summaries, replay=replay)
    following = next_attempt(the_plan, (*earlier, last))
    assert following is not None
    assert (following.route, following.summaries, following.replay) == (route, summaries, replay)


@pytest.mark.parametrize("summaries", [True, False])
def test_without_summaries_and_without_replay_change_only_their_own(summaries: bool) -> None:
    refused = next_attempt(
        plan(H), (_last(H, Failure.SUMMARY_REFUSED, summaries=True, replay=False),)
    )
    assert refused == Attempt(H, False, "without reasoning summaries", replay=False)
    unreplayed = next_attempt(
        plan(W), (_last(W, Failure.REPLAY_REFUSED, summaries=summaries, replay=True),)
    )
    assert unreplayed == Attempt(W, summaries, "without replayed reasoning", replay=False)


def test_1009_goes_over_http_only_from_the_websocket_and_only_under_auto() -> None:
    assert next_attempt(plan(W, switchable=False), (tried(W, Failure.TOO_BIG),)) is None
    assert next_attempt(plan(H), (tried(H, Failure.TOO_BIG),)) is None
    assert next_attempt(plan(W), (tried(W, Failure.TOO_BIG),)) is not None


@pytest.mark.parametrize(("after", "retried"), [(30.0, True), (30.5, False), (0.0, True)])
def test_an_upstreams_retry_after_is_waited_up_to_30_seconds(after: float, retried: bool) -> None:
    history = (Tried(Attempt(H, True, "x"), Failure.TRANSIENT, 503, retry_after=after),)
    following = next_attempt(plan(H, retries=2), history)
    assert (following is not None) is retried
    if following is not None:
        assert following.delay == after


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after-ms": "1500"}, 1.5),
        ({"Retry-After-Ms": "250", "retry-after": "9"}, 0.25),  # the finer one first
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "0"}, 0.0),
        ({"retry-after-ms": "0.5"}, 0.0005),
        ({"retry-after": "-1"}, None),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_reads_both_headers(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after(UpstreamError("busy", status=503, headers=headers)) == seconds


def test_the_dead_end_notes_say_exactly_why() -> None:
    note = dead_end_note(plan(H, switchable=False), Failure.NEEDS_WEBSOCKET)
    assert note == (
        " (this model is served only over the Responses WebSocket transport, "
        "and responses_transport=http forbids it)"
    )
    assert dead_end_note(plan(H), Failure.NEEDS_WEBSOCKET) == ""  # auto: switched instead
    assert dead_end_note(plan(H, switchable=False), Failure.FATAL) == ""


def test_a_dead_end_adds_the_note_of_its_last_failure() -> None:
    from chat2responses.call.policy import dead_end

    refusal = UpstreamError("routing_unsupported", status=400)
    history = (tried(H, Failure.NEEDS_WEBSOCKET),)
    err = dead_end(plan(H, switchable=False), history, refusal)
    assert err.message == "routing_unsupported" + dead_end_note(
        plan(H, switchable=False), Failure.NEEDS_WEBSOCKET
    )
    assert dead_end(plan(H), (), UpstreamError("x", status=400)).message == "x"


def test_a_request_too_big_for_a_websocket_only_model_says_so() -> None:
    from chat2responses.call.policy import dead_end

    history = (
        tried(W, Failure.TOO_BIG),
        tried(W, Failure.TRANSIENT),
        tried(H, Failure.NEEDS_WEBSOCKET),
    )
    err = dead_end(plan(W), history, UpstreamError("routing_unsupported", status=400))
    assert (err.status, err.code, err.message) == (
        502,
        "upstream_message_too_big",
        "the request is too big for the upstream's WebSocket (it closed with 1009, message "
        "too big), and this model is served only over the WebSocket; send a shorter "
        "conversation",
    )


MISS = Failure.CONTINUATION_MISS


@pytest.mark.parametrize(
    ("err", "continued", "expected"),
    [
        (UpstreamError("x", status=400, code="previous_response_not_found"), False, MISS),
        (UpstreamError("x", status=400, param="previous_response_id"), False, MISS),
        (UpstreamError("x", status=400, code="other", param="input"), False, Failure.FATAL),
        (UpstreamError("x", status=401), True, Failure.UNAUTHORIZED),  # a login, not a miss
        (UpstreamError("x", status=500), True, MISS),
        (UpstreamError("x", status=500), False, Failure.TRANSIENT),
        (HandshakeRefused("x", status=500), False, Failure.TRANSIENT),  # 5xx: not a refusal
        (HandshakeRefused("x", status=499), False, Failure.WEBSOCKET_REFUSED),
    ],
)  # fmt: skip
def test_classify_knows_a_continuation_miss_and_a_refused_upgrade(
    err: ProxyError, continued: bool, expected: Failure
) -> None:
    assert classify(W, err, continued=continued) is expected
