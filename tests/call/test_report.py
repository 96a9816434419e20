"""The words of a call: summary line, details, marks, token text."""

from __future__ import annotations

import pytest

from chat2responses.call.memory import unstable_note
from chat2responses.call.policy import Attempt, Failure, Plan, Reason, Route, Tried
from chat2responses.call.report import LEARNED_MARK, MARKS, CallReport, route_shown, tokens_text

USAGE = {
    "prompt_tokens": 52,
    "completion_tokens": 41,
    "total_tokens": 93,
    "prompt_tokens_details": {"cached_tokens": 8},
    "completion_tokens_details": {"reasoning_tokens": 12},
}


def test_a_finished_call_reads_as_one_line() -> None:
    report = CallReport(
        requested="gpt-5.5(high)",
        sent="gpt-5.5",
        route=Route.WEBSOCKET,
        reason=Reason.CATALOG,
        stream=True,
        status=200,
        first_chunk_ms=12.4,
        duration_ms=340.2,
        usage=USAGE,
        dropped=("seed",),
    )
    assert report.summary() == (
        "gpt-5.5(high) → gpt-5.5 · websocket (catalog prefers it) · 200 · first chunk 12 ms · "
        "340 ms · tokens 52 in (8 cached) / 41 out (12 reasoning)"
    )
    assert report.details().endswith("dropped (no Responses counterpart): seed")
    assert report.mark == MARKS[Route.WEBSOCKET]


def test_a_failed_learned_call_says_so() -> None:
    report = CallReport("m", "m", Route.HTTP, Reason.LEARNED, False, error="client left")
    assert (
        report.summary()
        == "m → m · http (learned from the upstream) · no answer · error: client left"
    )
    assert report.mark == LEARNED_MARK


RESPONSES_USAGE = {
    "input_tokens": 52,
    "input_tokens_details": {"cached_tokens": 8},
    "output_tokens": 41,
    "output_tokens_details": {"reasoning_tokens": 12},
    "total_tokens": 93,
}


@pytest.mark.parametrize(
    ("usage", "text"),
    [
        (None, ""),
        ({"prompt_tokens": 1}, ""),
        ({"prompt_tokens": 3, "completion_tokens": 4}, "tokens 3 in / 4 out"),
        ({"prompt_tokens": 3, "completion_tokens": 4, "prompt_tokens_details": "x"}, "tokens 3 in / 4 out"),  # noqa: E501
        (USAGE, "tokens 52 in (8 cached) / 41 out (12 reasoning)"),
        # A Responses usage object: a call on the Responses path.
        ({"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}, "tokens 3 in / 4 out"),
        ({"input_tokens": 3}, ""),
        (RESPONSES_USAGE, "tokens 52 in (8 cached) / 41 out (12 reasoning)"),
    ],
)  # fmt: skip
def test_tokens_text(usage: dict[str, object] | None, text: str) -> None:
    assert tokens_text(usage) == text


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


def test_an_unstable_models_summary_says_until_when() -> None:
    report = CallReport(
        requested="gpt-6-astra", sent="gpt-6-astra", route=H, reason=Reason.UNSTABLE,
        stream=True, status=200, reason_note="http until 14:05",
    )  # fmt: skip
    assert "http (websocket unstable for this model: http until 14:05)" in report.summary()
