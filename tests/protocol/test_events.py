"""events: parsing an event payload, and `error_of_event`, the one reader of a failure's shape
(an `error` event over SSE or WebSocket, `response.failed`, a failed `response.done`)."""

from __future__ import annotations

from typing import Any

import pytest

from chat2responses.protocol.errors import UpstreamError, UpstreamProtocolError, type_for_status
from chat2responses.protocol.events import (
    Event,
    EventType,
    error_of_event,
    event_type,
    parse_event,
)
from tests.response.test_translate import ev, text, translator

# --- parse_event -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b'{"type": "response.created"}', {"type": "response.created"}),
        ('{"type": "x", "a": 1}', {"type": "x", "a": 1}),
    ],
)
def test_parse_event(payload: bytes | str, expected: Event) -> None:
    assert parse_event(payload) == expected


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"nope", "not JSON"),
        (b"[]", "without a string 'type'"),
        (b'{"type": 5}', "without a string 'type'"),
        (b"{}", "without a string 'type'"),
    ],
)
def test_parse_event_refuses(payload: bytes, message: str) -> None:
    with pytest.raises(UpstreamProtocolError, match=message):
        parse_event(payload)


def test_event_type() -> None:
    assert event_type({"type": "response.completed"}) is EventType.COMPLETED
    assert event_type({"type": "response.brand_new"}) is None


# --- error_of_event ----------------------------------------------------------------------------

NOT_FAILURES: list[dict[str, Any]] = [
    {"type": "response.completed", "response": {"status": "completed"}},
    {"type": "response.done", "response": {"status": "completed"}},
    {"type": "response.done", "response": {"status": "incomplete"}},
    {"type": "response.output_text.delta", "delta": "x"},
    {"type": "response.created"},
]


@pytest.mark.parametrize("event", NOT_FAILURES)
def test_not_a_failure(event: Event) -> None:
    assert error_of_event(event) is None


def test_the_connection_limit_is_read_from_either_shape() -> None:
    code = "websocket_connection_limit_reached"
    nested = error_of_event({"type": "error", "status": 400, "error": {"code": code}})
    flat = error_of_event({"type": "error", "code": code, "message": "limit"})
    assert nested is not None and flat is not None
    assert (nested.code, nested.status, flat.code, flat.message) == (code, 400, code, "limit")


def test_cancelled_response_done_is_a_failure() -> None:
    err = error_of_event({"type": "response.done", "response": {"status": "cancelled"}})
    assert err is not None and (err.status, err.message) == (500, "upstream response cancelled")


def failed(code: str | None, message: str = "boom") -> Event:
    error = {"code": code, "message": message} if code else None
    return ev("response.failed", response={"status": "failed", "error": error})


def raised(event: Event) -> UpstreamError:
    """The error `error_of_event` reads, checked to be what the translator raises too (and that
    the translator then says nothing more)."""
    err = error_of_event(event)
    assert err is not None
    t = translator()
    with pytest.raises(UpstreamError) as info:
        t.feed(event)
    assert info.value.to_dict() == err.to_dict() and info.value.status == err.status
    assert info.value.headers == err.headers
    assert t.done and t.feed(text(0, "late")) == [] and t.finish() == []
    return err


STATUS_BY_CODE = [
    ("server_error", 500),
    ("rate_limit_exceeded", 429),
    ("invalid_prompt", 400),
    ("invalid_image_url", 400),
    ("context_length_exceeded", 400),
    ("insufficient_quota", 429),
    ("server_is_overloaded", 503),
    ("slow_down", 503),
    ("something_new", 500),
]


@pytest.mark.parametrize(("code", "status"), STATUS_BY_CODE)
@pytest.mark.parametrize("kind", ["response.failed", "error"])
def test_error_status_by_code(kind: str, code: str, status: int) -> None:
    event = failed(code) if kind == "response.failed" else ev("error", code=code, message="boom")
    err = raised(event)
    assert (err.status, err.code, err.type, err.message) == (
        status,
        code,
        type_for_status(status),
        "boom",
    )


def test_error_messages_when_the_upstream_gave_none() -> None:
    assert raised(failed(None)).message == "upstream response failed"
    err = raised(ev("error", code="rate_limit_exceeded"))
    assert (err.status, err.message) == (429, "upstream reported an error: rate_limit_exceeded")


def test_response_done_with_status_failed_is_a_failure() -> None:
    error = {"code": "rate_limit_exceeded", "message": "m"}
    err = raised(ev("response.done", response={"status": "failed", "error": error}))
    assert (err.status, err.message) == (429, "m")


def test_http_error_event_keeps_its_param() -> None:
    err = raised(ev("error", code="context_length_exceeded", message="long", param="input"))
    assert (err.status, err.type, err.param) == (400, "invalid_request_error", "input")


def test_websocket_error_frame_uses_its_status_and_nested_error() -> None:
    error = {
        "type": "invalid_request_error",
        "code": "previous_response_not_found",
        "message": "Previous response with id 'resp_1' not found.",
        "param": "previous_response_id",
    }
    err = raised(ev("error", status=400, error=error))
    assert (err.status, err.type, err.code, err.param) == (
        400,
        "invalid_request_error",
        "previous_response_not_found",
        "previous_response_id",
    )
    assert err.message == error["message"]


def test_websocket_error_frame_status_code_alias_and_type_only_errors() -> None:
    err = raised(ev("error", status_code=404, error={"message": "nope"}))
    assert (err.status, err.type, err.code, err.message) == (404, "not_found_error", None, "nope")
    quota = {"type": "usage_limit_reached", "message": "The usage limit has been reached"}
    err = raised(ev("error", error=quota))
    assert (err.status, err.type) == (429, "usage_limit_reached")


def test_websocket_error_frame_keeps_only_the_retry_headers() -> None:
    error = {"type": "rate_limit_error", "code": "rate_limit_exceeded", "message": "slow"}
    headers = {"retry-after": "7", "x-codex-primary-used-percent": "100.0"}
    err = raised(ev("error", status=429, error=error, headers=headers))
    assert (err.status, err.headers) == (429, {"retry-after": "7"})
