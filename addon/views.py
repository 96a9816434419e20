"""Readable views of this project's traffic, for the contentviews the mitmproxy glue registers:
a chat SSE stream reassembled into a transcript, a Responses event stream (an HTTP SSE body or
the texts of a WebSocket's messages) grouped by output item, and a chat request summarised.

Owns how these bodies are shown, nothing else: it never changes a flow, and it must not import
mitmproxy (addon/proxy.py wraps these functions in Contentview classes). Its input is whatever
crossed the wire, so nothing in it is trusted:
1. Every JSON field is read through an accessor that yields an empty value for a wrong shape; a
   payload that is not JSON, or not an object, is counted and shown, never fatal.
2. No function here raises on any input: invalid UTF-8, truncated SSE, an event over the SSE
   decoder's limit (decoding stops there; what came before is shown).
3. Output is bounded: each text block is clipped to MAX_BLOCK_CHARS, the whole view to
   MAX_OUTPUT_CHARS, and only the first MAX_INPUT_BYTES of a body are read.

Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from .errors import UpstreamProtocolError
from .events import EventType
from .sse import SSEDecoder

MAX_OUTPUT_CHARS = 1 << 20
MAX_BLOCK_CHARS = 1 << 18
MAX_INPUT_BYTES = 16 << 20  # about a second of parsing: mitmproxy renders views inline
MAX_EVENT_BYTES = 8 << 20

_SNIFF_BYTES = 1 << 16  # how much of a body the is_* sniffers read
_FEED_BYTES = 1 << 16  # SSE is fed in slices, so an oversized event loses only what follows it
_DONE = "[DONE]"
_CREATE = "response.create"  # the client's frame on the WebSocket transport
_NOT_JSON = "(not JSON)"
_NO_TYPE = "(no type)"

Json = dict[str, Any]
_INVALID = object()

# -- tolerant accessors (rule 1) ---------------------------------------------------------------


def _obj(value: object) -> Json:
    return value if isinstance(value, dict) else {}


def _seq(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _num(value: object) -> str | None:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return str(value) if number else None


def _loads(text: str | bytes) -> object:
    """The JSON value of `text`, or `_INVALID` (bad JSON, bad UTF-8, nesting too deep)."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return _INVALID


def _compact(value: object, limit: int = 500) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (ValueError, RecursionError):
        text = f"<{type(value).__name__} nested too deeply to show>"
    return text if len(text) <= limit else text[:limit] + "…"


def _pretty(text: str) -> str:
    """Arguments as indented JSON when they parse, else exactly as sent."""
    value = _loads(text)
    if value is _INVALID:
        return text
    try:
        return json.dumps(value, indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):
        return text


def _clip(text: str, limit: int = MAX_BLOCK_CHARS) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n… {len(text) - limit} more characters not shown"


def _error_text(error: object) -> str:
    """`message (type, code)` of an OpenAI-style error object; anything else compactly."""
    if isinstance(error, str):
        return error
    fields = _obj(error)
    message = _str(fields.get("message"))
    if not message:
        return _compact(error)
    detail = (_str(fields.get(key)) or _num(fields.get(key)) for key in ("type", "code", "param"))
    shown = ", ".join(part for part in detail if part)
    return f"{message} ({shown})" if shown else message


# (label, count key, details key, detail key, detail label) per usage field, in display order.
_UsageSpec = tuple[tuple[str, str, str, str, str], ...]
_CHAT_USAGE: _UsageSpec = (
    ("prompt", "prompt_tokens", "prompt_tokens_details", "cached_tokens", "cached"),
    (
        "completion",
        "completion_tokens",
        "completion_tokens_details",
        "reasoning_tokens",
        "reasoning",
    ),
    ("total", "total_tokens", "", "", ""),
)
_RESPONSES_USAGE: _UsageSpec = (
    ("input", "input_tokens", "input_tokens_details", "cached_tokens", "cached"),
    ("output", "output_tokens", "output_tokens_details", "reasoning_tokens", "reasoning"),
    ("total", "total_tokens", "", "", ""),
)


def _usage_line(usage: Json, spec: _UsageSpec) -> str:
    parts = []
    for label, key, details, detail, detail_label in spec:
        count = _num(usage.get(key))
        if count is None:
            continue
        extra = _num(_obj(usage.get(details)).get(detail))
        parts.append(f"{label} {count}" + (f" ({detail_label} {extra})" if extra else ""))
    return "usage: " + (" · ".join(parts) or _compact(usage))


# -- input and output bounds (rules 2 and 3) ---------------------------------------------------


class _Writer:
    """Collects the view's lines up to MAX_OUTPUT_CHARS; past it, drops the rest and says so."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._left = MAX_OUTPUT_CHARS
        self._full = False

    def add(self, *lines: str) -> None:
        for line in lines:
            if self._left <= 0:
                self._full = True
                return
            kept = line[: self._left]
            if len(kept) < len(line):
                self._full = True
            self._lines.append(kept)
            self._left -= len(kept) + 1

    def section(self, title: str, body: str) -> None:
        self.add(f"── {title} ──", _clip(body))

    def text(self) -> str:
        if self._full:
            self._lines.append(f"… truncated: the view is capped at {MAX_OUTPUT_CHARS} characters")
        # JSON may carry lone surrogates ("\ud800"): make the text encodable.
        return "\n".join(self._lines).encode("utf-8", "replace").decode("utf-8")


def _sse_payloads(data: bytes) -> tuple[list[str], list[str]]:
    """The `data` of every event of an SSE body, and notes on what could not be read."""
    notes = []
    if len(data) > MAX_INPUT_BYTES:
        notes.append(f"only the first {MAX_INPUT_BYTES} of {len(data)} bytes are shown")
        data = data[:MAX_INPUT_BYTES]
    decoder = SSEDecoder(MAX_EVENT_BYTES)
    payloads: list[str] = []
    try:
        for start in range(0, len(data), _FEED_BYTES):
            payloads += [m.data for m in decoder.feed(data[start : start + _FEED_BYTES])]
        payloads += [m.data for m in decoder.finish()]
    except UpstreamProtocolError as exc:
        notes.append(f"SSE decoding stopped: {exc}")
    return payloads, notes


def _message_texts(messages: Sequence[str | bytes]) -> tuple[list[str], list[str]]:
    """WebSocket message texts, up to MAX_INPUT_BYTES in all (binary ones decoded leniently)."""
    texts: list[str] = []
    left = MAX_INPUT_BYTES
    for message in messages:
        text = message if isinstance(message, str) else bytes(message).decode("utf-8", "replace")
        left -= len(text)
        if left < 0:
            return texts, [f"only the first {len(texts)} of {len(messages)} messages are shown"]
        texts.append(text)
    return texts, []


def _first_event(data: bytes) -> tuple[str | None, str] | None:
    """(event name, data) of the first event other than `[DONE]`, from the body's start only."""
    decoder = SSEDecoder(_SNIFF_BYTES)
    try:
        messages = decoder.feed(data[:_SNIFF_BYTES]) + decoder.finish()
    except UpstreamProtocolError:
        return None
    first = next((m for m in messages if m.data.strip() != _DONE), None)
    return None if first is None else (first.event, first.data)


# A payload cut short by the sniff window is still recognised by its first keys.
_CHUNK_HEAD = re.compile(r'"object"\s*:\s*"chat\.completion\.chunk"')
_EVENT_HEAD = re.compile(r'^\s*\{\s*"type"\s*:\s*"(?:response\.|error")')


def is_chat_stream(data: bytes) -> bool:
    """Whether `data` is an SSE body of `chat.completion.chunk` objects (a cheap look at its
    first event; a `chat.completion` JSON body is not a stream)."""
    first = _first_event(data)
    if first is None:
        return False
    name, payload = first
    if name is not None:  # chat streams name no events
        return False
    if _CHUNK_HEAD.search(payload[:4096]):
        return True
    chunk = _obj(_loads(payload))
    return isinstance(chunk.get("choices"), list) and "type" not in chunk


def is_responses_events(data: bytes) -> bool:
    """Whether `data` is an SSE body of Responses events (`type` "response.…" or "error")."""
    first = _first_event(data)
    if first is None:
        return False
    name, payload = first
    if name is not None and (name.startswith("response.") or name == EventType.ERROR):
        return True
    if _EVENT_HEAD.match(payload[:4096]):
        return True
    kind = _str(_obj(_loads(payload)).get("type"))
    return kind.startswith("response.") or kind == EventType.ERROR


# -- chat stream -------------------------------------------------------------------------------

# Delta fields that carry text → the section they are shown in.
_DELTA_TEXTS = {
    "reasoning_content": "reasoning",
    "reasoning": "reasoning",  # the field some OpenAI-compatible servers use instead
    "content": "content",
    "refusal": "refusal",
}


@dataclass(slots=True)
class _Call:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Choice:
    texts: dict[str, list[str]] = field(default_factory=dict)
    calls: dict[int, _Call] = field(default_factory=dict)
    finish: str = ""

    def feed(self, choice: Json) -> None:
        delta = _obj(choice.get("delta"))
        for key, section in _DELTA_TEXTS.items():
            piece = _str(delta.get(key))
            if piece:
                self.texts.setdefault(section, []).append(piece)
        for call in _seq(delta.get("tool_calls")):
            self._call(_obj(call))
        self.finish = _str(choice.get("finish_reason")) or self.finish

    def _call(self, delta: Json) -> None:
        # Strings concatenate across deltas, as the openai SDK's accumulator does; a delta
        # without an index continues the last call.
        index = _int(delta.get("index"))
        call = self.calls.setdefault(
            max(self.calls, default=0) if index is None else index, _Call()
        )
        function = _obj(delta.get("function"))
        call.id += _str(delta.get("id"))
        call.name += _str(function.get("name"))
        call.arguments.append(_str(function.get("arguments")))

    def render(self, out: _Writer) -> None:
        for section in ("reasoning", "content"):
            if section in self.texts:
                out.section(section, "".join(self.texts[section]))
        for index, call in sorted(self.calls.items()):
            title = f"tool call {index}: {call.name or '?'} ({call.id or 'no id'})"
            out.section(title, _pretty("".join(call.arguments)))
        if "refusal" in self.texts:
            out.section("refusal", "".join(self.texts["refusal"]))
        if self.finish:
            out.add(f"finish_reason: {self.finish}")


@dataclass(slots=True)
class _ChatStream:
    chunks: int = 0
    id: str = ""
    model: str = ""
    choices: dict[int, _Choice] = field(default_factory=dict)
    usage: Json | None = None
    errors: list[str] = field(default_factory=list)
    done: bool = False
    after_done: int = 0
    odd: list[str] = field(default_factory=list)

    def feed(self, payload: str) -> None:
        if self.done:
            self.after_done += 1
        if payload.strip() == _DONE:
            self.done = True
            return
        chunk = _loads(payload)
        if not isinstance(chunk, dict):
            self.odd.append(payload)
            return
        self.chunks += 1
        self.id = self.id or _str(chunk.get("id"))
        self.model = self.model or _str(chunk.get("model"))
        for choice in _seq(chunk.get("choices")):
            fields = _obj(choice)
            index = _int(fields.get("index")) or 0
            self.choices.setdefault(index, _Choice()).feed(fields)
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        if "error" in chunk:
            self.errors.append(_error_text(chunk["error"]))

    def render(self, out: _Writer) -> None:
        out.add(f"id {self.id or '?'} · model {self.model or '?'} · {self.chunks} chunks")
        for index, choice in sorted(self.choices.items()):
            if len(self.choices) > 1:
                out.add(f"══ choice {index} ══")
            choice.render(out)
        if self.usage is not None:
            out.add(_usage_line(self.usage, _CHAT_USAGE))
        out.add(*(f"error: {error}" for error in self.errors))
        if self.odd:
            out.add(f"{len(self.odd)} payloads not chat chunks, first: {_clip(self.odd[0], 200)}")
        if self.after_done:
            out.add(f"{self.after_done} events after [DONE]")
        out.add("[DONE] received" if self.done else "stream ended without [DONE]")


def render_chat_stream(data: bytes) -> str:
    """A chat SSE body as a transcript: texts joined, tool calls with their arguments,
    finish reason, usage, error chunks, and whether `[DONE]` arrived."""
    payloads, notes = _sse_payloads(data)
    stream = _ChatStream()
    for payload in payloads:
        stream.feed(payload)
    out = _Writer()
    stream.render(out)
    out.add(*notes)
    return out.text()


# -- Responses events --------------------------------------------------------------------------

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
    for part in _seq(payload.get("content")) + _seq(payload.get("summary")):
        fields = _obj(part)
        spec = _PART_CHANNELS.get(_str(fields.get("type")))
        if spec is not None:
            found.setdefault(spec[0], []).append(_str(fields.get(spec[1])))
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
        self.type = _str(payload.get("type")) or self.type
        self.id = _str(payload.get("id")) or self.id
        self.name = _str(payload.get("name")) or self.name
        self.call_id = _str(payload.get("call_id")) or self.call_id
        self.status = _str(payload.get("status")) or self.status

    def channel(self, name: str) -> str:
        """Deltas when there were any, else the `.done` texts, else the item object's."""
        if name in self.deltas:
            return "".join(self.deltas[name])
        finals = self.finals.get(name) or _payload_channels(self.payload).get(name, [])
        return "\n\n".join(finals)

    def render(self, index: int, out: _Writer) -> None:
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
                out.add(_clip(_pretty(text) if channel == "arguments" else text))
                shown = True
        if not shown and self.payload:
            out.add(_compact(self.payload, 2000))


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
        index, item_id = _int(event.get("output_index")), _str(event.get("item_id"))
        if index is None:
            index = self.item_ids.get(item_id, -1)
        elif item_id:
            self.item_ids[item_id] = index
        item = self.items.setdefault(index, _Item())
        item.id = item.id or item_id
        return item

    def render(self, out: _Writer) -> None:
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
            out.add(_usage_line(self.usage, _RESPONSES_USAGE))
        out.add(*_packed("events:", (f"{kind} \u00d7{n}" for kind, n in self.events.items())))
        if self.odd:
            out.add(f"{len(self.odd)} payloads not events, first: {_clip(self.odd[0], 200)}")


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
    part = _int(event.get("summary_index", event.get("content_index")))
    response.item(event).delta(channel, _str(event.get("delta")), part)


def _on_text_done(channel: str, key: str, response: _Response, event: Json) -> None:
    text = event.get(key)
    if isinstance(text, str):
        response.item(event).finals.setdefault(channel, []).append(text)
    if isinstance(event.get("name"), str):  # function_call_arguments.done names the function
        response.item(event).name = event["name"]


def _on_item(response: _Response, event: Json) -> None:
    response.item(event).absorb(_obj(event.get("item")))


def _on_lifecycle(response: _Response, event: Json) -> None:
    body = _obj(event.get("response"))
    response.id = _str(body.get("id")) or response.id
    response.model = _str(body.get("model")) or response.model
    response.created = response.created or event.get("type") == EventType.CREATED


def _on_terminal(response: _Response, event: Json) -> None:
    _on_lifecycle(response, event)
    body = _obj(event.get("response"))
    response.status = _str(body.get("status")) or _str(event.get("type")).rpartition(".")[2]
    line = response.status
    reason = _str(_obj(body.get("incomplete_details")).get("reason"))
    if reason:
        line += f": {reason}"
    if body.get("error"):
        line += f": {_error_text(body['error'])}"
    response.terminal.append(line)
    if isinstance(body.get("usage"), dict):
        response.usage = body["usage"]
    # The Codex backend completes with an empty `output`; other servers send no item events.
    for index, payload in enumerate(_seq(body.get("output"))):
        response.items.setdefault(index, _Item()).absorb(_obj(payload))


def _on_error(response: _Response, event: Json) -> None:
    # SSE puts the fields at the top level; a WebSocket error frame nests them in `error`.
    nested = event.get("error")
    fields = nested if isinstance(nested, dict) else {k: v for k, v in event.items() if k != "type"}
    status = _num(event.get("status", event.get("status_code")))
    response.status = "error"
    response.terminal.append(
        f"error: {_error_text(fields)}" + (f" (HTTP {status})" if status else "")
    )


def _on_create(response: _Response, event: Json) -> None:
    inputs = event.get("input")
    parts = [
        "response.create",
        f"model {_str(event.get('model')) or '?'}",
        f"{len(inputs)} input items"
        if isinstance(inputs, list)
        else f"input {_compact(inputs, 80)}",
    ]
    if _str(event.get("previous_response_id")):
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
    if payload.strip() == _DONE:
        return _DONE, {}
    event = _loads(payload)
    if event is _INVALID:
        return _NOT_JSON, {}
    fields = _obj(event)
    return _str(fields.get("type")) or _NO_TYPE, fields


def render_responses_events(data: bytes | Sequence[str | bytes]) -> str:
    """A Responses SSE body, or the texts of a WebSocket's messages in order, as a transcript
    per response: each output item's texts and calls, the terminal event, usage, event counts."""
    if isinstance(data, bytes | bytearray | memoryview):
        payloads, notes = _sse_payloads(bytes(data))
    else:
        payloads, notes = _message_texts(data)
    transcript = _Transcript()
    for payload in payloads:
        transcript.feed(payload)
    out = _Writer()
    for number, response in enumerate(transcript.responses):
        out.add(*(("",) if number else ()))
        response.render(out)
    out.add(*notes)
    return out.text()


# -- chat request ------------------------------------------------------------------------------

_PART_LABELS: dict[str, Callable[[Json], str]] = {
    "text": lambda part: _str(part.get("text")),
    "image_url": lambda part: f"[image {_str(_obj(part.get('image_url')).get('url'))[:120]}]",
    "input_audio": lambda part: f"[audio {_str(_obj(part.get('input_audio')).get('format'))}]",
    "file": lambda part: f"[file {_str(_obj(part.get('file')).get('filename'))}]",
}
_SUMMARISED_KEYS = frozenset({"model", "stream", "messages", "tools"})


def _content_text(content: object) -> str:
    if isinstance(content, str):
        return content
    lines = []
    for part in _seq(content):
        fields = _obj(part)
        kind = _str(fields.get("type"))
        label = _PART_LABELS.get(kind)
        lines.append(label(fields) if label else f"[{kind or _compact(part, 80)}]")
    return "\n".join(lines)


def _render_message(out: _Writer, message: Json) -> None:
    name = _str(message.get("name"))
    call_id = _str(message.get("tool_call_id"))
    extra = "".join((f" {name}" if name else "", f" ({call_id})" if call_id else ""))
    out.section(f"{_str(message.get('role')) or '?'}{extra}", _content_text(message.get("content")))
    for call in _seq(message.get("tool_calls")):
        fields = _obj(call)
        function = _obj(fields.get("function"))
        head = f"→ tool call {_str(function.get('name')) or '?'} ({_str(fields.get('id'))})"
        out.add(f"{head}: {_clip(_str(function.get('arguments')), 2000)}")


def _tool_line(tool: Json) -> str:
    # Chat tools nest the function; Responses-style (flat) tools are accepted too.
    function = _obj(tool.get("function")) or tool
    name = _str(function.get("name"))
    description = _str(function.get("description")).strip().split("\n", 1)[0][:100]
    kind = _str(tool.get("type")) or "?"
    return f"{name or '?'} ({kind})" + (f" — {description}" if description else "")


def render_chat_request(data: bytes) -> str | None:
    """A chat request summarised: model, other parameters, each message by role, the tools.
    None when `data` is not a chat request body (a JSON object with a `messages` list)."""
    body = _loads(data) if len(data) <= MAX_INPUT_BYTES else _INVALID
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        return None
    messages, tools = body["messages"], _seq(body.get("tools"))
    stream = "stream" if body.get("stream") is True else "no stream"
    model = _str(body.get("model")) or "?"
    out = _Writer()
    out.add(
        f"chat request · model {model} · {stream} · {len(messages)} messages · {len(tools)} tools"
    )
    params = [f"{k}={_compact(v, 200)}" for k, v in body.items() if k not in _SUMMARISED_KEYS]
    out.add(*(("params: " + " · ".join(params),) if params else ()))
    for message in messages:
        _render_message(out, _obj(message))
    if tools:
        out.add("── tools ──", *(_tool_line(_obj(tool)) for tool in tools))
    return out.text()
