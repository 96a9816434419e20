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
)
from chat2responses.protocol.errors import (
    ClientError,
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
