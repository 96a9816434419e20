"""Responses stream events: every event-type string spelled once, and the classes they fall in.

Both transports (HTTP SSE `data:` payloads and WebSocket text frames) carry the same JSON event
objects; `parse_event` turns one payload into an `Event` (a dict with a string `type`) or raises
`UpstreamProtocolError`. The translator dispatches on `EventType`; anything not in the enum is an
unknown event and is ignored (OpenAI adds event types often), but a terminal condition is never
ignored: see `TERMINAL`. The shape of a failure (an `error` event over SSE or WebSocket, a
`response.failed`, a `response.done` whose status says failed) is read here only, by
`error_of_event`.

Pure: no I/O.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from chat2responses.protocol.errors import (
    UpstreamError,
    UpstreamProtocolError,
    is_known_code,
    upstream_error_from_event,
)
from chat2responses.protocol.sse import SSEDecoder, SSEMessage

Event = dict[str, Any]


class EventType(StrEnum):
    CREATED = "response.created"
    QUEUED = "response.queued"
    IN_PROGRESS = "response.in_progress"
    COMPLETED = "response.completed"
    INCOMPLETE = "response.incomplete"
    FAILED = "response.failed"
    # Some relays name the completion `response.done` (CLIProxyAPI normalises it); treat it alike.
    DONE = "response.done"
    ERROR = "error"

    OUTPUT_ITEM_ADDED = "response.output_item.added"
    OUTPUT_ITEM_DONE = "response.output_item.done"
    CONTENT_PART_ADDED = "response.content_part.added"
    CONTENT_PART_DONE = "response.content_part.done"

    OUTPUT_TEXT_DELTA = "response.output_text.delta"
    OUTPUT_TEXT_DONE = "response.output_text.done"
    OUTPUT_TEXT_ANNOTATION_ADDED = "response.output_text.annotation.added"
    REFUSAL_DELTA = "response.refusal.delta"
    REFUSAL_DONE = "response.refusal.done"

    FUNCTION_CALL_ARGUMENTS_DELTA = "response.function_call_arguments.delta"
    FUNCTION_CALL_ARGUMENTS_DONE = "response.function_call_arguments.done"
    CUSTOM_TOOL_CALL_INPUT_DELTA = "response.custom_tool_call_input.delta"
    CUSTOM_TOOL_CALL_INPUT_DONE = "response.custom_tool_call_input.done"

    REASONING_SUMMARY_PART_ADDED = "response.reasoning_summary_part.added"
    REASONING_SUMMARY_PART_DONE = "response.reasoning_summary_part.done"
    REASONING_SUMMARY_TEXT_DELTA = "response.reasoning_summary_text.delta"
    REASONING_SUMMARY_TEXT_DONE = "response.reasoning_summary_text.done"
    REASONING_TEXT_DELTA = "response.reasoning_text.delta"
    REASONING_TEXT_DONE = "response.reasoning_text.done"


# Events that end a response. The stream after one of these carries nothing we need.
TERMINAL = frozenset(
    {
        EventType.COMPLETED,
        EventType.INCOMPLETE,
        EventType.FAILED,
        EventType.DONE,
        EventType.ERROR,
    }
)

# Events that end a response that was answered (well or not): every terminal event but `error`.
RESPONSE_END = TERMINAL - {EventType.ERROR}

# Events that come before any output: a failure after them is still a failure before output.
PREAMBLE = frozenset({EventType.CREATED, EventType.IN_PROGRESS, EventType.QUEUED})


class ItemType(StrEnum):
    MESSAGE = "message"
    FUNCTION_CALL = "function_call"
    CUSTOM_TOOL_CALL = "custom_tool_call"
    REASONING = "reasoning"


def parse_event(payload: bytes | str) -> Event:
    """Parse one event payload (an SSE `data:` value or a WebSocket text frame)."""
    try:
        event = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise UpstreamProtocolError(f"upstream sent an event that is not JSON: {exc}") from None
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise UpstreamProtocolError("upstream sent an event without a string 'type'")
    return event


def event_type(event: Event) -> EventType | None:
    """The event's known type, or None for a type this project does not know (ignored)."""
    try:
        return EventType(event["type"])
    except ValueError:
        return None


_FAILED_STATUSES = frozenset({"failed", "cancelled"})


def error_of_event(event: Event) -> UpstreamError | None:
    """The UpstreamError a failure event stands for (status, type, code, param, retry headers),
    or None when `event` is not a failure.

    An `error` event puts message/code/param at the top level over HTTP SSE; a WebSocket error
    frame nests them in `error` next to an HTTP `status` (openai-protocols.md §4.6; codex also
    accepts `status_code`) and may carry `headers`. A `response.failed` (or a `response.done`
    whose status is failed or cancelled) carries them in `response.error`.
    """
    kind = event.get("type")
    if kind == EventType.ERROR:
        nested = event.get("error")
        fields = nested if isinstance(nested, dict) else event
        status = event.get("status", event.get("status_code"))
        headers = event.get("headers")
        err = upstream_error_from_event(
            fields,
            status if isinstance(status, int) and status >= 400 else None,
            "upstream reported an error",
            headers if isinstance(headers, dict) else None,
        )
        err.payload = event
        return err
    if kind not in (EventType.FAILED, EventType.DONE):
        return None
    response = event.get("response")
    response = response if isinstance(response, dict) else {}
    status = response.get("status")
    if kind == EventType.DONE and status not in _FAILED_STATUSES:
        return None
    error = response.get("error")
    fields = error if isinstance(error, dict) else {}
    return upstream_error_from_event(fields, None, f"upstream response {status or 'failed'}")


def is_advisory_error(event: Event) -> bool:
    """A WebSocket `error` frame the Codex CLI does not act on: no HTTP `status` (codex maps only
    wrapped errors with one) and no code this project knows. After output began it is logged and
    the answer goes on; before, it is an error like any other."""
    if event.get("type") != EventType.ERROR or "status" in event or "status_code" in event:
        return False
    nested = event.get("error")
    fields = nested if isinstance(nested, dict) else event
    return not is_known_code(fields.get("code")) and not is_known_code(fields.get("type"))


# One upstream event (an SSE event or a WebSocket frame) at most.
MAX_EVENT_BYTES = 16 * 1024 * 1024


class UpstreamSSE:
    """Raw bytes of an upstream SSE body → events (`feed`/`finish`), any split."""

    __slots__ = ("_decoder",)

    def __init__(self) -> None:
        self._decoder = SSEDecoder(max_event_bytes=MAX_EVENT_BYTES)

    def feed(self, data: bytes) -> list[Event]:
        return [parse_event(raw) for raw in self.feed_raw(data)]

    def finish(self) -> list[Event]:
        return [parse_event(raw) for raw in self.finish_raw()]

    def feed_raw(self, data: bytes) -> list[str]:
        """The events' JSON texts, not parsed yet (`parse_event` each when it is its turn)."""
        return _texts(self._decoder.feed(data))

    def finish_raw(self) -> list[str]:
        return _texts(self._decoder.finish())


def _texts(messages: list[SSEMessage]) -> list[str]:
    return [m.data for m in messages if m.data and m.data != "[DONE]"]


def events_of_response(response: dict[str, Any]) -> list[Event]:
    """The events a stream would have carried for a final JSON `Response` object.

    Some upstreams ignore `stream: true` and answer the final Response as JSON; it becomes the
    events a stream would have ended with, so one translator handles both.
    """
    status = response.get("status")
    terminal = {
        "incomplete": EventType.INCOMPLETE,
        "failed": EventType.FAILED,
    }.get(str(status), EventType.COMPLETED)
    output = response.get("output")
    items = output if isinstance(output, list) else []
    events: list[Event] = [{"type": EventType.CREATED.value, "response": response}]
    events += [
        {"type": EventType.OUTPUT_ITEM_DONE.value, "output_index": i, "item": item}
        for i, item in enumerate(items)
    ]
    events.append({"type": terminal.value, "response": response})
    return events
