"""The chat stream view: an SSE body of `chat.completion.chunk` objects reassembled into a
transcript (texts joined per choice, tool calls with their arguments, finish reason, usage,
error chunks, whether `[DONE]` arrived), and the sniffer that says a body is one.

Must not read past the bounds of `reading` and `writer`, nor raise on any input. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from chat2responses.views.fields import (
    Json,
    UsageSpec,
    error_text,
    integer,
    loads,
    obj,
    pretty,
    seq,
    string,
    usage_line,
)
from chat2responses.views.reading import DONE_DATA, first_event, sse_payloads
from chat2responses.views.writer import Writer, clip

# A payload cut short by the sniff window is still recognised by its first keys.
_CHUNK_HEAD = re.compile(r'"object"\s*:\s*"chat\.completion\.chunk"')


def is_chat_stream(data: bytes) -> bool:
    """Whether `data` is an SSE body of `chat.completion.chunk` objects (a cheap look at its
    first event; a `chat.completion` JSON body is not a stream)."""
    first = first_event(data)
    if first is None:
        return False
    name, payload = first
    if name is not None:  # chat streams name no events
        return False
    if _CHUNK_HEAD.search(payload[:4096]):
        return True
    chunk = obj(loads(payload))
    return isinstance(chunk.get("choices"), list) and "type" not in chunk


_CHAT_USAGE: UsageSpec = (
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
        delta = obj(choice.get("delta"))
        for key, section in _DELTA_TEXTS.items():
            piece = string(delta.get(key))
            if piece:
                self.texts.setdefault(section, []).append(piece)
        for call in seq(delta.get("tool_calls")):
            self._call(obj(call))
        self.finish = string(choice.get("finish_reason")) or self.finish

    def _call(self, delta: Json) -> None:
        # Strings concatenate across deltas, as the openai SDK's accumulator does; a delta
        # without an index continues the last call.
        index = integer(delta.get("index"))
        call = self.calls.setdefault(
            max(self.calls, default=0) if index is None else index, _Call()
        )
        function = obj(delta.get("function"))
        call.id += string(delta.get("id"))
        call.name += string(function.get("name"))
        call.arguments.append(string(function.get("arguments")))

    def render(self, out: Writer) -> None:
        for section in ("reasoning", "content"):
            if section in self.texts:
                out.section(section, "".join(self.texts[section]))
        for index, call in sorted(self.calls.items()):
            title = f"tool call {index}: {call.name or '?'} ({call.id or 'no id'})"
            out.section(title, pretty("".join(call.arguments)))
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
        if payload.strip() == DONE_DATA:
            self.done = True
            return
        chunk = loads(payload)
        if not isinstance(chunk, dict):
            self.odd.append(payload)
            return
        self.chunks += 1
        self.id = self.id or string(chunk.get("id"))
        self.model = self.model or string(chunk.get("model"))
        for choice in seq(chunk.get("choices")):
            fields = obj(choice)
            index = integer(fields.get("index")) or 0
            self.choices.setdefault(index, _Choice()).feed(fields)
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        if "error" in chunk:
            self.errors.append(error_text(chunk["error"]))

    def render(self, out: Writer) -> None:
        out.add(f"id {self.id or '?'} · model {self.model or '?'} · {self.chunks} chunks")
        for index, choice in sorted(self.choices.items()):
            if len(self.choices) > 1:
                out.add(f"══ choice {index} ══")
            choice.render(out)
        if self.usage is not None:
            out.add(usage_line(self.usage, _CHAT_USAGE))
        out.add(*(f"error: {error}" for error in self.errors))
        if self.odd:
            out.add(f"{len(self.odd)} payloads not chat chunks, first: {clip(self.odd[0], 200)}")
        if self.after_done:
            out.add(f"{self.after_done} events after [DONE]")
        out.add("[DONE] received" if self.done else "stream ended without [DONE]")


def render_chat_stream(data: bytes) -> str:
    """A chat SSE body as a transcript: texts joined, tool calls with their arguments,
    finish reason, usage, error chunks, and whether `[DONE]` arrived."""
    payloads, notes = sse_payloads(data)
    stream = _ChatStream()
    for payload in payloads:
        stream.feed(payload)
    out = Writer()
    stream.render(out)
    out.add(*notes)
    return out.text()
