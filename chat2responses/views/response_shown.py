"""One Responses response as the Responses events view shows it: its output items (identity,
texts per channel, calls), the terminal event, usage and event counts, written out.

An item's text on a channel is its deltas when there were any, else its `.done` texts, else
the text its item object carries. Must not read past the bounds of `writer`, nor raise on any
value the events view stores. Pure: no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from chat2responses.views.fields import (
    Json,
    UsageSpec,
    compact,
    integer,
    obj,
    pretty,
    seq,
    string,
    usage_line,
)
from chat2responses.views.writer import Writer, clip

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
class ShownItem:
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
class ShownResponse:
    """One response of the transcript: a WebSocket can carry several, one after another."""

    id: str = ""
    model: str = ""
    status: str = ""  # of the terminal event
    created: bool = False
    request: str = ""
    items: dict[int, ShownItem] = field(default_factory=dict)
    item_ids: dict[str, int] = field(default_factory=dict)
    terminal: list[str] = field(default_factory=list)
    usage: Json | None = None
    events: Counter[str] = field(default_factory=Counter)
    odd: list[str] = field(default_factory=list)

    def item(self, event: Json) -> ShownItem:
        """The item an event is about: by `output_index`, else by `item_id`, else -1."""
        index, item_id = integer(event.get("output_index")), string(event.get("item_id"))
        if index is None:
            index = self.item_ids.get(item_id, -1)
        elif item_id:
            self.item_ids[item_id] = index
        item = self.items.setdefault(index, ShownItem())
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
