"""The Responses events view: a Responses SSE body, or the texts of a WebSocket's messages in
order, grouped per response and per output item (texts, calls, the terminal event, usage, event
counts; each response written out by response_shown.py), and the sniffer that says a body is
one.

Events are dispatched by a table on their type; a type this code does not know is only counted.
Must not read past the bounds of `reading` and `writer`, nor raise on any input. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import partial

from chat2responses.protocol.events import EventType
from chat2responses.views.fields import (
    INVALID,
    Json,
    compact,
    error_text,
    integer,
    loads,
    number_text,
    obj,
    seq,
    string,
)
from chat2responses.views.reading import DONE_DATA, first_event, message_texts, sse_payloads
from chat2responses.views.response_shown import ShownItem, ShownResponse
from chat2responses.views.writer import Writer

_CREATE = "response.create"  # the client's frame on the WebSocket transport
_NOT_JSON = "(not JSON)"
_NO_TYPE = "(no type)"
# A payload cut short by the sniff window is still recognised by its first keys.
_EVENT_HEAD = re.compile(r'^\s*\{\s*"type"\s*:\s*"(?:response\.|error")')


def is_responses_events(data: bytes) -> bool:
    """Whether `data` is an SSE body of Responses events (`type` "response.…" or "error")."""
    first = first_event(data)
    if first is None:
        return False
    name, payload = first
    if name is not None and (name.startswith("response.") or name == EventType.ERROR):
        return True
    if _EVENT_HEAD.match(payload[:4096]):
        return True
    kind = string(obj(loads(payload)).get("type"))
    return kind.startswith("response.") or kind == EventType.ERROR


Handler = Callable[[ShownResponse, Json], None]


def _on_delta(channel: str, response: ShownResponse, event: Json) -> None:
    part = integer(event.get("summary_index", event.get("content_index")))
    response.item(event).delta(channel, string(event.get("delta")), part)


def _on_text_done(channel: str, key: str, response: ShownResponse, event: Json) -> None:
    text = event.get(key)
    if isinstance(text, str):
        response.item(event).finals.setdefault(channel, []).append(text)
    if isinstance(event.get("name"), str):  # function_call_arguments.done names the function
        response.item(event).name = event["name"]


def _on_item(response: ShownResponse, event: Json) -> None:
    response.item(event).absorb(obj(event.get("item")))


def _on_lifecycle(response: ShownResponse, event: Json) -> None:
    body = obj(event.get("response"))
    response.id = string(body.get("id")) or response.id
    response.model = string(body.get("model")) or response.model
    response.created = response.created or event.get("type") == EventType.CREATED


def _on_terminal(response: ShownResponse, event: Json) -> None:
    _on_lifecycle(response, event)
    body = obj(event.get("response"))
    response.status = string(body.get("status")) or string(event.get("type")).rpartition(".")[2]
    line = response.status
    reason = string(obj(body.get("incomplete_details")).get("reason"))
    if reason:
        line += f": {reason}"
    if body.get("error"):
        line += f": {error_text(body['error'])}"
    response.terminal.append(line)
    if isinstance(body.get("usage"), dict):
        response.usage = body["usage"]
    # The Codex backend completes with an empty `output`; other servers send no item events.
    for index, payload in enumerate(seq(body.get("output"))):
        response.items.setdefault(index, ShownItem()).absorb(obj(payload))


def _on_error(response: ShownResponse, event: Json) -> None:
    # SSE puts the fields at the top level; a WebSocket error frame nests them in `error`.
    nested = event.get("error")
    fields = nested if isinstance(nested, dict) else {k: v for k, v in event.items() if k != "type"}
    status = number_text(event.get("status", event.get("status_code")))
    response.status = "error"
    response.terminal.append(
        f"error: {error_text(fields)}" + (f" (HTTP {status})" if status else "")
    )


def _on_create(response: ShownResponse, event: Json) -> None:
    inputs = event.get("input")
    parts = [
        "response.create",
        f"model {string(event.get('model')) or '?'}",
        f"{len(inputs)} input items"
        if isinstance(inputs, list)
        else f"input {compact(inputs, 80)}",
    ]
    if string(event.get("previous_response_id")):
        parts.append(f"previous {event['previous_response_id']}")
    response.request = " · ".join(parts)


_DELTAS = {
    EventType.OUTPUT_TEXT_DELTA: "text",
    EventType.REFUSAL_DELTA: "refusal",
    EventType.FUNCTION_CALL_ARGUMENTS_DELTA: "arguments",
    EventType.CUSTOM_TOOL_CALL_INPUT_DELTA: "arguments",
    EventType.REASONING_SUMMARY_TEXT_DELTA: "summary",
    EventType.REASONING_TEXT_DELTA: "reasoning",
}
_DONES = {
    EventType.OUTPUT_TEXT_DONE: ("text", "text"),
    EventType.REFUSAL_DONE: ("refusal", "refusal"),
    EventType.FUNCTION_CALL_ARGUMENTS_DONE: ("arguments", "arguments"),
    EventType.CUSTOM_TOOL_CALL_INPUT_DONE: ("arguments", "input"),
    EventType.REASONING_SUMMARY_TEXT_DONE: ("summary", "text"),
    EventType.REASONING_TEXT_DONE: ("reasoning", "text"),
}
_LIFECYCLE = (EventType.CREATED, EventType.QUEUED, EventType.IN_PROGRESS)
_TERMINALS = (EventType.COMPLETED, EventType.INCOMPLETE, EventType.FAILED, EventType.DONE)
# Every other type (content parts, annotations, types newer than this code) is only counted.
_HANDLERS: dict[str, Handler] = {
    **{kind: partial(_on_delta, channel) for kind, channel in _DELTAS.items()},
    **{kind: partial(_on_text_done, *spec) for kind, spec in _DONES.items()},
    **dict.fromkeys(_LIFECYCLE, _on_lifecycle),
    **dict.fromkeys(_TERMINALS, _on_terminal),
    EventType.OUTPUT_ITEM_ADDED: _on_item,
    EventType.OUTPUT_ITEM_DONE: _on_item,
    EventType.ERROR: _on_error,
    _CREATE: _on_create,
}


class _Transcript:
    """Events in order; a `response.create`, or a second `response.created`, starts a new
    response (the WebSocket transport carries one response after another)."""

    def __init__(self) -> None:
        self.responses = [ShownResponse()]

    def feed(self, payload: str) -> None:
        kind, fields = _event_kind(payload)
        current = self.responses[-1]
        if current.events and (
            kind == _CREATE or (kind == EventType.CREATED and (current.created or current.terminal))
        ):
            current = ShownResponse()
            self.responses.append(current)
        current.events[kind] += 1
        handler = _HANDLERS.get(kind)
        if handler is not None:
            handler(current, fields)
        elif kind in (_NOT_JSON, _NO_TYPE):
            current.odd.append(payload)


def _event_kind(payload: str) -> tuple[str, Json]:
    """The type an event is counted under, and its fields (empty unless a JSON object)."""
    if payload.strip() == DONE_DATA:
        return DONE_DATA, {}
    event = loads(payload)
    if event is INVALID:
        return _NOT_JSON, {}
    fields = obj(event)
    return string(fields.get("type")) or _NO_TYPE, fields


def render_responses_events(data: bytes | Sequence[str | bytes]) -> str:
    """A Responses SSE body, or the texts of a WebSocket's messages in order, as a transcript
    per response: each output item's texts and calls, the terminal event, usage, event counts."""
    if isinstance(data, bytes | bytearray | memoryview):
        payloads, notes = sse_payloads(bytes(data))
    else:
        payloads, notes = message_texts(data)
    transcript = _Transcript()
    for payload in payloads:
        transcript.feed(payload)
    out = Writer()
    for number, response in enumerate(transcript.responses):
        out.add(*(("",) if number else ()))
        response.render(out)
    out.add(*notes)
    return out.text()
