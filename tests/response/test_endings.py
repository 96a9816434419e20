"""How a response ended: each terminal event as a finish reason, None (completed) or an error."""

from __future__ import annotations

from typing import Any

import pytest

from chat2responses.protocol.errors import UpstreamError
from chat2responses.protocol.wire import FinishReason
from chat2responses.response.endings import ENDS, ending, response_of

FAILED_RESPONSE = {"status": "failed", "error": {"code": "server_error", "message": "boom"}}


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"type": "response.completed", "response": {"status": "completed"}}, None),
        ({"type": "response.completed"}, None),
        (
            {
                "type": "response.incomplete",
                "response": {"incomplete_details": {"reason": "max_output_tokens"}},
            },
            FinishReason.LENGTH,
        ),
        (
            {
                "type": "response.incomplete",
                "response": {"incomplete_details": {"reason": "content_filter"}},
            },
            FinishReason.CONTENT_FILTER,
        ),
        (  # rule 1: an unknown reason, or none, was still cut short
            {"type": "response.incomplete", "response": {"incomplete_details": {"reason": "x"}}},
            FinishReason.LENGTH,
        ),
        ({"type": "response.incomplete", "response": {}}, FinishReason.LENGTH),
        # rule 2: response.done is whichever its status says
        ({"type": "response.done", "response": {"status": "completed"}}, None),
        ({"type": "response.done", "response": {"status": "in_progress"}}, None),
        (
            {
                "type": "response.done",
                "response": {
                    "status": "incomplete",
                    "incomplete_details": {"reason": "content_filter"},
                },
            },
            FinishReason.CONTENT_FILTER,
        ),
    ],
)
def test_a_terminal_event_gives_its_finish_reason(
    event: dict[str, Any], expected: FinishReason | None
) -> None:
    assert ending(event) == expected


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"type": "response.failed", "response": FAILED_RESPONSE}, "boom"),
        ({"type": "response.done", "response": FAILED_RESPONSE}, "boom"),
        (
            {"type": "response.done", "response": {**FAILED_RESPONSE, "status": "cancelled"}},
            "boom",
        ),
        ({"type": "error", "code": "server_error", "message": "late"}, "late"),
    ],
)
def test_a_failed_response_or_an_error_event_is_an_error(
    event: dict[str, Any], message: str
) -> None:
    failed = ending(event)
    assert isinstance(failed, UpstreamError)
    assert message in failed.message


def test_every_terminal_event_ends_a_response() -> None:
    assert {
        "response.completed",
        "response.incomplete",
        "response.failed",
        "response.done",
        "error",
    } == ENDS
    assert response_of({"type": "response.completed", "response": "nonsense"}) == {}
