"""The Responses sinks: events passed on as Responses SSE, or folded into the final Response."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chat2responses.protocol.errors import UpstreamError
from chat2responses.protocol.sse import SSEDecoder
from chat2responses.response.responses_sinks import ResponsesJsonSink, ResponsesStreamSink

RESPONSE = {"id": "resp_1", "object": "response", "model": "gpt-5.5", "output": []}
CREATED = {"type": "response.created", "sequence_number": 0, "response": RESPONSE}
ITEM = {
    "type": "message",
    "id": "msg_1",
    "role": "assistant",
    "status": "completed",
    "content": [{"type": "output_text", "text": "Hi", "annotations": []}],
}
DELTA = {"type": "response.output_text.delta", "sequence_number": 1, "delta": "Hi"}
DONE = {"type": "response.output_item.done", "sequence_number": 2, "output_index": 0, "item": ITEM}
USAGE = {"input_tokens": 3, "output_tokens": 1, "total_tokens": 4}
COMPLETED = {
    "type": "response.completed",
    "sequence_number": 3,
    "response": {**RESPONSE, "status": "completed", "usage": USAGE},
}
OVERLOADED = {"type": "error", "code": "server_is_overloaded", "message": "busy"}


def events_of(body: bytes) -> list[tuple[str | None, dict[str, Any]]]:
    decoder = SSEDecoder()
    return [(m.event, json.loads(m.data)) for m in decoder.feed(body) + decoder.finish()]


def test_a_stream_is_passed_on_event_by_event() -> None:
    sink = ResponsesStreamSink()
    out = b"".join(sink.feed(e) for e in (CREATED, DELTA, DONE, COMPLETED)) + sink.finish()
    assert events_of(out) == [(e["type"], e) for e in (CREATED, DELTA, DONE, COMPLETED)]
    assert sink.done and sink.usage == USAGE and sink.client.value() == out


IN_PROGRESS = {"type": "response.in_progress", "sequence_number": 1, "response": RESPONSE}
FAILED_EARLY = {
    "type": "response.failed",
    "sequence_number": 2,
    "response": {**RESPONSE, "status": "failed", "error": {"code": "rate_limit_exceeded"}},
}


@pytest.mark.parametrize("error", [OVERLOADED, FAILED_EARLY])
def test_an_error_after_only_the_preamble_raises_and_nothing_was_sent(
    error: dict[str, Any],
) -> None:
    """`response.created` and `response.in_progress` are not output: an error after them keeps
    its HTTP status and may be retried, as on the chat path."""
    sink = ResponsesStreamSink()
    assert sink.feed(CREATED) == b"" and sink.feed(IN_PROGRESS) == b""
    assert not sink.started
    with pytest.raises(UpstreamError) as caught:
        sink.feed(error)
    assert caught.value.status in (429, 503)
    assert sink.client.value() == b""


def test_the_preamble_goes_out_with_the_first_event_after_it() -> None:
    sink = ResponsesStreamSink()
    sink.feed(CREATED)
    sink.feed(IN_PROGRESS)
    out = sink.feed(DELTA)
    assert sink.started
    assert events_of(out) == [(e["type"], e) for e in (CREATED, IN_PROGRESS, DELTA)]
    assert sink.client.value() == out


def test_an_early_error_raises_and_a_late_one_is_passed_on() -> None:
    with pytest.raises(UpstreamError) as caught:
        ResponsesStreamSink().feed(OVERLOADED)
    assert caught.value.status == 503
    sink = ResponsesStreamSink()
    sink.feed(CREATED)
    sink.feed(DELTA)
    assert sink.error is None
    assert events_of(sink.feed(OVERLOADED)) == [("error", OVERLOADED)]
    assert sink.done
    # Passed on as it came, and still the call's error (the console line says so).
    assert sink.error is not None and sink.error.message == "busy"


def test_a_late_response_failed_is_the_calls_error_and_keeps_its_usage() -> None:
    failed = {
        "type": "response.failed",
        "sequence_number": 2,
        "response": {
            **RESPONSE,
            "status": "failed",
            "error": {"code": "server_error", "message": "it broke"},
            "usage": USAGE,
        },
    }
    sink = ResponsesStreamSink()
    out = b"".join(sink.feed(e) for e in (CREATED, DELTA, failed)) + sink.finish()
    assert events_of(out)[-1] == ("response.failed", failed)
    assert sink.error is not None and sink.error.message == "it broke"
    assert sink.usage == USAGE


def test_a_cut_stream_ends_with_one_error_event() -> None:
    sink = ResponsesStreamSink()
    sink.feed(CREATED)
    sink.feed(DELTA)
    with pytest.raises(UpstreamError) as caught:
        sink.finish()
    ((kind, event),) = events_of(sink.fail(caught.value))
    assert kind == "error" and event["type"] == "error"
    assert event["sequence_number"] == 2 and "before response.completed" in event["message"]
    assert sink.fail(caught.value) == b""


def test_the_final_response_gets_its_items_when_completed_carries_none() -> None:
    sink = ResponsesJsonSink()
    for event in (CREATED, DELTA, DONE, COMPLETED):
        assert sink.feed(event) == b""
    response = json.loads(sink.finish())
    assert response["status"] == "completed" and response["output"] == [ITEM]
    assert sink.usage == USAGE


def test_a_json_answer_raises_errors_and_needs_a_terminal_event() -> None:
    with pytest.raises(UpstreamError):
        ResponsesJsonSink().feed(OVERLOADED)
    sink = ResponsesJsonSink()
    sink.feed(CREATED)
    with pytest.raises(UpstreamError):
        sink.finish()
    with pytest.raises(UpstreamError) as caught:
        ResponsesJsonSink(limit=10).check_size(11)
    assert caught.value.status == 502


def test_a_late_websocket_error_frame_reaches_the_client_in_openais_shape() -> None:
    frame = {
        "type": "error",
        "status": 503,
        "error": {"type": "server_error", "code": "server_is_overloaded", "message": "busy"},
        "headers": {"x-codex-primary-used-percent": "10"},
        "sequence_number": 5,
    }
    sink = ResponsesStreamSink()
    sink.feed(CREATED)
    sink.feed(DELTA)
    shaped = {
        "type": "error",
        "code": "server_is_overloaded",
        "message": "busy",
        "param": None,
        "sequence_number": 5,
    }
    assert events_of(sink.feed(frame)) == [("error", shaped)]
    assert sink.error is not None and sink.error.message == "busy"


def test_a_buffered_response_counts_as_started_at_its_first_output() -> None:
    sink = ResponsesJsonSink()
    sink.feed(CREATED)
    assert not sink.started  # the preamble is not output: an error now keeps its status
    sink.feed(DELTA)
    assert sink.started  # an advisory error frame from now on is only logged (call/machine.py)


# --- vendor events: Codex clients read them, the others never see them (rule 4) ------------------

RATE_LIMITS = {"type": "codex.rate_limits", "rate_limits": {"primary": {"used_percent": 4.0}}}
METADATA = {"type": "response.metadata", "metadata": {"type": "safety_buffering"}}


def test_a_codex_client_gets_the_vendor_events_in_place() -> None:
    sink = ResponsesStreamSink(vendor_events=True)
    events = (RATE_LIMITS, CREATED, IN_PROGRESS, METADATA, DELTA, DONE, COMPLETED)
    out = b"".join(sink.feed(e) for e in events) + sink.finish()
    assert events_of(out) == [(e["type"], e) for e in events]


def test_other_clients_never_see_them() -> None:
    sink = ResponsesStreamSink()
    events = (RATE_LIMITS, CREATED, METADATA, DELTA, METADATA, DONE, COMPLETED)
    out = b"".join(sink.feed(e) for e in events) + sink.finish()
    assert [kind for kind, _ in events_of(out)] == [
        "response.created",
        "response.output_text.delta",
        "response.output_item.done",
        "response.completed",
    ]


@pytest.mark.parametrize("vendor_events", [True, False])
def test_vendor_events_before_output_are_not_output(vendor_events: bool) -> None:
    """Held with the preamble: an error after them keeps its status and may be retried."""
    sink = ResponsesStreamSink(vendor_events=vendor_events)
    for event in (RATE_LIMITS, CREATED, METADATA):
        assert sink.feed(event) == b""
    assert not sink.started
    with pytest.raises(UpstreamError):
        sink.feed(OVERLOADED)


def test_the_json_sink_ignores_vendor_events() -> None:
    sink = ResponsesJsonSink()
    for event in (RATE_LIMITS, CREATED, METADATA, DONE, COMPLETED):
        sink.feed(event)
    assert json.loads(sink.finish())["output"] == [ITEM]
