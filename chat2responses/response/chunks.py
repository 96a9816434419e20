"""Chat Completions chunks for one choice, framed the way OpenAI frames its own streams.

Owns the chunk template (id, created, model, `usage: null` under `include_usage`), the phase of
the stream, and so what must precede each piece of output; rules 1, 4 and 5 of
response/translate.py are enforced here:
1. `role` is sent once, in the first chunk (reference/openai-protocols.md §5.1): OpenAI's own
   role chunk for text and refusals, merged into the first tool call (with `content: null`) or
   the first `reasoning_content`.
4. `reasoning_content` chunks never carry a `content` key (§5.9).
5. The finish chunk has `delta: {}`; the usage chunk (`choices: []`) follows it only under
   `include_usage` (§5.4).
It also applies the client's `stop` sequences to the answer text (never to reasoning, refusals
or tool calls): text is cut before the first occurrence, the finish reason is `stop` and
`stopped` turns true. A sequence may be split across deltas, so a tail that could begin one is
held back until the next piece of output shows it does not. And it speaks the legacy
`functions` shape when the request did: `delta.function_call`, not `delta.tool_calls`.

Must not: know Responses events or output items (response/translate.py decides what to send), or
do I/O. Every method returns the chunks to send, in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from chat2responses.protocol.wire import (
    ChatChunk,
    ChatUsage,
    ChunkDelta,
    FinishReason,
    FunctionDelta,
    ReasoningMode,
    ToolCallDelta,
)


@dataclass(frozen=True, slots=True)
class ChunkContext:
    """What shapes every chunk of one answer: injected by the caller (ids and clock included)."""

    chunk_id: str
    created: int
    model: str  # the name the client asked for, repeated on every chunk
    reasoning: ReasoningMode
    stop: tuple[str, ...] = ()  # the client's stop sequences (Translation.stop)
    legacy_functions: bool = False  # the client sent `functions`: answer with `function_call`


class Phase(StrEnum):
    """Where the chat stream stands; decides what must precede the next piece of output."""

    IDLE = "idle"  # nothing returned yet: the next chunk carries the role
    ANSWER = "answer"  # role sent; no `<think>` block open
    THINKING = "thinking"  # ReasoningMode.THINK: `<think>` sent, `</think>` not yet


class ChunkWriter:
    """Turns pieces of the answer (text, refusal, reasoning, tool-call deltas, the finish) into
    chat chunks, adding whatever the stream's phase requires before them."""

    def __init__(self, ctx: ChunkContext, *, include_usage: bool) -> None:
        self._include_usage = include_usage
        self._reasoning = ctx.reasoning
        self._legacy = ctx.legacy_functions
        self._template: ChatChunk = {
            "id": ctx.chunk_id,
            "object": "chat.completion.chunk",
            "created": ctx.created,
            "model": ctx.model,
            "choices": [],
        }
        if include_usage:
            self._template["usage"] = None
        self._phase = Phase.IDLE
        self._stop = tuple(s for s in ctx.stop if s)
        self._held = ""  # answer text that may begin a stop sequence: not sent yet
        self.stopped = False  # a stop sequence ended the answer: send nothing more

    @property
    def holding(self) -> bool:
        """Whether answer text is held back (it may begin a stop sequence)."""
        return bool(self._held)

    @property
    def started(self) -> bool:
        """Whether any chunk has been returned."""
        return self._phase is not Phase.IDLE

    def content(self, text: str) -> list[ChatChunk]:
        if self._stop:
            return self._stopped_content(text)
        # The hot path (most chunks of a long answer): one comparison, one chunk.
        if self._phase is Phase.ANSWER:
            return [self._chunk({"content": text})]
        return [*self._enter_answer(), self._chunk({"content": text})]

    def _stopped_content(self, text: str) -> list[ChatChunk]:
        """`content` under stop sequences: cut at the first one, hold back a possible start."""
        if self.stopped:
            return []
        text, self._held = self._held + text, ""
        cut = min((i for s in self._stop if (i := text.find(s)) >= 0), default=-1)
        if cut >= 0:
            out = self._send_content(text[:cut])
            out += self.finish(FinishReason.STOP)
            self.stopped = True
            return out
        keep = _stop_prefix(text, self._stop)
        if keep:
            text, self._held = text[:-keep], text[-keep:]
        return self._send_content(text)

    def _send_content(self, text: str) -> list[ChatChunk]:
        if not text:
            return []
        return [*self._enter_answer(), self._chunk({"content": text})]

    def release(self) -> list[ChatChunk]:
        """Send held-back answer text: what follows it is not answer text."""
        if not self._held:
            return []
        text, self._held = self._held, ""
        return self._send_content(text)

    def refusal(self, text: str) -> list[ChatChunk]:
        if self._held:
            return [*self.release(), *self.refusal(text)]
        if self._phase is Phase.ANSWER:
            return [self._chunk({"refusal": text})]
        return [*self._enter_answer(refusal=True), self._chunk({"refusal": text})]

    def reasoning(self, text: str, *, separate: bool) -> list[ChatChunk]:
        """Reasoning text; `separate` starts a new part ("\\n\\n" before it)."""
        if self._held:
            return [*self.release(), *self.reasoning(text, separate=separate)]
        if self._reasoning is ReasoningMode.REASONING_CONTENT:
            if separate:
                text = "\n\n" + text
            if self._phase is Phase.IDLE:
                self._phase = Phase.ANSWER
                return [self._chunk({"role": "assistant", "reasoning_content": text})]
            return [self._chunk({"reasoning_content": text})]
        # ReasoningMode.THINK: reasoning is content inside one `<think>` block per reasoning run.
        if self._phase is Phase.THINKING:
            return [self._chunk({"content": "\n\n" + text if separate else text})]
        out = self._enter_answer() if self._phase is Phase.IDLE else []
        self._phase = Phase.THINKING
        out.append(self._chunk({"content": "<think>" + text}))
        return out

    def tool_call(self, call: ToolCallDelta) -> list[ChatChunk]:
        """A tool call's first delta (index, id, type, name and any arguments)."""
        if self._held:
            return [*self.release(), *self.tool_call(call)]
        if self._legacy:
            return self._function_call(call)
        if self._phase is Phase.IDLE:
            self._phase = Phase.ANSWER
            # OpenAI's key order: role, content, tool_calls, refusal.
            delta: ChunkDelta = {
                "role": "assistant",
                "content": None,
                "tool_calls": [call],
                "refusal": None,
            }
            return [self._chunk(delta)]
        return [*self._enter_answer(), self._chunk({"tool_calls": [call]})]

    def arguments(self, index: int, text: str) -> list[ChatChunk]:
        """More arguments of the announced tool call `index`."""
        if self._legacy:
            return [self._chunk({"function_call": {"arguments": text}})]
        return [self._chunk({"tool_calls": [{"index": index, "function": {"arguments": text}}]})]

    def finish(self, reason: FinishReason) -> list[ChatChunk]:
        """The finish chunk, after whatever must precede it."""
        out = self.release()
        out += self._enter_answer()
        out.append(self._chunk({}, reason.value))
        return out

    def usage(self, usage: ChatUsage) -> list[ChatChunk]:
        """The usage chunk, after the finish chunk, only when the client asked for it."""
        if not self._include_usage:
            return []
        chunk = self._template.copy()
        chunk["choices"] = []
        chunk["usage"] = dict(usage)
        return [chunk]

    def _function_call(self, call: ToolCallDelta) -> list[ChatChunk]:
        """The legacy shape (`functions` requests): `delta.function_call`, one call per answer."""
        function = call.get("function", {})
        piece: FunctionDelta = {
            "name": function.get("name", ""),
            "arguments": function.get("arguments", ""),
        }
        if self._phase is Phase.IDLE:
            self._phase = Phase.ANSWER
            delta: ChunkDelta = {"role": "assistant", "content": None, "function_call": piece}
            return [self._chunk(delta)]
        return [*self._enter_answer(), self._chunk({"function_call": piece})]

    def _enter_answer(self, *, refusal: bool = False) -> list[ChatChunk]:
        """What must precede answer output: the role chunk (rule 1) or the `</think>`."""
        phase, self._phase = self._phase, Phase.ANSWER
        if phase is Phase.IDLE:
            # OpenAI's own first chunks: `content: ""` before text, `content: null` before a
            # refusal, so an accumulating client ends with the same message OpenAI gives.
            if refusal:
                return [self._chunk({"role": "assistant", "content": None, "refusal": ""})]
            return [self._chunk({"role": "assistant", "content": "", "refusal": None})]
        if phase is Phase.THINKING:
            return [self._chunk({"content": "</think>"})]
        return []

    def _chunk(self, delta: ChunkDelta, finish: str | None = None) -> ChatChunk:
        chunk = self._template.copy()
        chunk["choices"] = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
        return chunk


def _stop_prefix(text: str, stops: tuple[str, ...]) -> int:
    """The length of the longest tail of `text` that begins some stop sequence."""
    longest = min(len(text), max(len(s) for s in stops) - 1)
    for size in range(longest, 0, -1):
        tail = text[-size:]
        if any(s.startswith(tail) for s in stops):
            return size
    return 0


def chat_usage(usage: dict[str, Any]) -> ChatUsage:
    """Responses `usage` → chat `usage` (§3.7); details only where the upstream gave them. A
    count that is not a whole number of at least 0 (an upstream that lies) counts as 0."""
    prompt = _count(usage.get("input_tokens"))
    completion = _count(usage.get("output_tokens"))
    out: ChatUsage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": _count(usage.get("total_tokens")) or prompt + completion,
    }
    inputs = usage.get("input_tokens_details")
    if isinstance(inputs, dict):
        kept = {
            k: _count(inputs[k]) for k in ("cached_tokens", "cache_write_tokens") if k in inputs
        }
        out["prompt_tokens_details"] = kept
    outputs = usage.get("output_tokens_details")
    if isinstance(outputs, dict) and "reasoning_tokens" in outputs:
        out["completion_tokens_details"] = {"reasoning_tokens": _count(outputs["reasoning_tokens"])}
    return out


def _count(value: object) -> int:
    return value if type(value) is int and value >= 0 else 0
