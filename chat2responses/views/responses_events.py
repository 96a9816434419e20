"""The Responses events view: a Responses SSE body, or the texts of a WebSocket's messages in
order, grouped per response and per output item (texts, calls, the terminal event, usage, event
counts), and the sniffer that says a body is one.

Events are dispatched by a table on their type; a type this code does not know is only counted.
Must not read past the bounds of `reading` and `writer`, nor raise on any input. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial

from chat2responses.protocol.events import EventType
from chat2responses.views.fields import (
    INVALID,
    Json,
    UsageSpec,
    compact,
    error_text,
    integer,
    loads,
    number_text,
    obj,
    pretty,
    seq,
    string,
    usage_line,
)
from chat2responses.views.reading import DONE_DATA, first_event, message_texts, sse_payloads
from chat2responses.views.writer import Writer, clip

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


_RESPONSES_USAGE: UsageSpec = (
    ("input", "input_tokens", "input_tokens_details", "cached_tokens", "cached"),
    ("output", "output_tokens", "output_tokens_details", "reasoning_tokens", "reasoning"),
    ("total", "total_tokens", "", "", ""),
)

# Part types inside an output item's `content` / `summary` → (channel, field holding the text).
_PART_CHANNELS = {
    "output_text": ("text", "text"),
    "refusal": ("refusal", "refusal"),
    "reasoning_text": ("reasoning", "text"),
    "summary_text": ("summary", "text"),
}
# Channels in display order, with their label (none for an item's main text).
_CHANNELS = (
    ("summary", "summary"),
    ("reasoning", "reasoning text"),
    ("text", ""),
    ("refusal", "refusal"),
    ("arguments", ""),
)


def _payload_channels(payload: Json) -> dict[str, list[str]]:
    """The texts an output item object carries (from `output_item.done` or `output`)."""
    found: dict[str, list[str]] = {}
    for part in seq(payload.get("content")) + seq(payload.get("summary")):
        fields = obj(part)
        spec = _PART_CHANNELS.get(string(fields.get("type")))
        if spec is not None:
            found.setdefault(spec[0], []).append(string(fields.get(spec[1])))
    for key in ("arguments", "input"):  # function_call, custom_tool_call
        if isinstance(payload.get(key), str):
            found.setdefault("arguments", []).append(payload[key])
    return found


@dataclass(slots=True)
class _Item:
    """One output item: its identity, the deltas per channel, and the final texts."""

    type: str = ""
    id: str = ""
    name: str = ""
    call_id: str = ""
    status: str = ""
    deltas: dict[str, list[str]] = field(default_factory=dict)
    finals: dict[str, list[str]] = field(default_factory=dict)
    parts: dict[str, int | None] = field(default_factory=dict)  # last part index per channel
    payload: Json = field(default_factory=dict)

    def delta(self, channel: str, text: str, part: int | None) -> None:
        pieces = self.deltas.setdefault(channel, [])
        if pieces and self.parts.get(channel) != part:
            pieces.append("\n\n")  # a new summary (or content) part
        self.parts[channel] = part
        pieces.append(text)

    def absorb(self, payload: Json) -> None:
        self.payload = payload or self.payload
        self.type = string(payload.get("type")) or self.type
        self.id = string(payload.get("id")) or self.id
        self.name = string(payload.get("name")) or self.name
        self.call_id = string(payload.get("call_id")) or self.call_id
        self.status = string(payload.get("status")) or self.status

    def channel(self, name: str) -> str:
        """Deltas when there were any, else the `.done` texts, else the item object's."""
        if name in self.deltas:
            return "".join(self.deltas[name])
        finals = self.finals.get(name) or _payload_channels(self.payload).get(name, [])
        return "\n\n".join(finals)

    def render(self, index: int, out: Writer) -> None:
        status = f"[{self.status}]" if self.status not in ("", "completed") else ""
        head = " ".join(part for part in (self.type or "?", self.id, status) if part)
        out.add(f"── item {index}: {head} ──")
        if self.name or self.call_id:
            out.add(f"{self.name or '?'} ({self.call_id or 'no call_id'})")
        shown = False
        for channel, label in _CHANNELS:
            text = self.channel(channel)
            if text:
                out.add(*((f"{label}:",) if label else ()))
                out.add(clip(pretty(text) if channel == "arguments" else text))
                shown = True
        if not shown and self.payload:
            out.add(compact(self.payload, 2000))


@dataclass(slots=True)
class _Response:
    """One response of the transcript: a WebSocket can carry several, one after another."""

    id: str = ""
    model: str = ""
    status: str = ""  # of the terminal event
    created: bool = False
    request: str = ""
    items: dict[int, _Item] = field(default_factory=dict)
    item_ids: dict[str, int] = field(default_factory=dict)
    terminal: list[str] = field(default_factory=list)
    usage: Json | None = None
    events: Counter[str] = field(default_factory=Counter)
    odd: list[str] = field(default_factory=list)

    def item(self, event: Json) -> _Item:
        """The item an event is about: by `output_index`, else by `item_id`, else -1."""
        index, item_id = integer(event.get("output_index")), string(event.get("item_id"))
        if index is None:
            index = self.item_ids.get(item_id, -1)
        elif item_id:
            self.item_ids[item_id] = index
        item = self.items.setdefault(index, _Item())
        item.id = item.id or item_id
        return item

    def render(self, out: Writer) -> None:
        status = self.status or "no terminal event"
        total = sum(self.events.values())
        out.add(
            f"response {self.id or '?'} · model {self.model or '?'} · {status} · {total} events"
        )
        if self.request:
            out.add(f"→ {self.request}")
        for index, item in sorted(self.items.items()):
            item.render(index, out)
        out.add("── end ──", *self.terminal)
        if not self.terminal:
            out.add("no terminal event: the stream ended before the response did")
        if self.usage is not None:
            out.add(usage_line(self.usage, _RESPONSES_USAGE))
        out.add(*_packed("events:", (f"{kind} \u00d7{n}" for kind, n in self.events.items())))
        if self.odd:
            out.add(f"{len(self.odd)} payloads not events, first: {clip(self.odd[0], 200)}")


def _packed(head: str, entries: Iterable[str], width: int = 100) -> list[str]:
    """`head` and the entries joined by " · ", wrapped between entries, never inside one."""
    lines: list[str] = []
    line, separator = head, " "
    for entry in entries:
        if len(line) + len(separator) + len(entry) > width:
            lines.append(line)
            line = "  " + entry
        else:
            line += separator + entry
        separator = " · "
    return [*lines, line]


Handler = Callable[[_Response, Json], None]


def _on_delta(channel: str, response: _Response, event: Json) -> None:
    part = integer(event.get("summary_index", event.get("content_index")))
    response.item(event).delta(channel, string(event.get("delta")), part)


def _on_text_done(channel: str, key: str, response: _Response, event: Json) -> None:
    text = event.get(key)
    if isinstance(text, str):
        response.item(event).finals.setdefault(channel, []).append(text)
    if isinstance(event.get("name"), str):  # function_call_arguments.done names the function
        response.item(event).name = event["name"]


def _on_item(response: _Response, event: Json) -> None:
    response.item(event).absorb(obj(event.get("item")))


def _on_lifecycle(response: _Response, event: Json) -> None:
    body = obj(event.get("response"))
    response.id = string(body.get("id")) or response.id
    response.model = string(body.get("model")) or response.model
    response.created = response.created or event.get("type") == EventType.CREATED


def _on_terminal(response: _Response, event: Json) -> None:
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
        response.items.setdefault(index, _Item()).absorb(obj(payload))


def _on_error(response: _Response, event: Json) -> None:
    # SSE puts the fields at the top level; a WebSocket error frame nests them in `error`.
    nested = event.get("error")
    fields = nested if isinstance(nested, dict) else {k: v for k, v in event.items() if k != "type"}
    status = number_text(event.get("status", event.get("status_code")))
    response.status = "error"
    response.terminal.append(
        f"error: {error_text(fields)}" + (f" (HTTP {status})" if status else "")
    )


def _on_create(response: _Response, event: Json) -> None:
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
        self.responses = [_Response()]

    def feed(self, payload: str) -> None:
        kind, fields = _event_kind(payload)
        current = self.responses[-1]
        if current.events and (
            kind == _CREATE or (kind == EventType.CREATED and (current.created or current.terminal))
        ):
            current = _Response()
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
