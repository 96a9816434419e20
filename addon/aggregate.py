"""Responses events → one `chat.completion`: the reply to a client that did not ask to stream.

Owns folding chat chunks into a message (§3.4): texts joined, tool calls assembled by index, the
finish reason and usage kept. The chunks come from the same StreamTranslator a streaming client
gets, so the two replies cannot disagree; this module must not read Responses events itself,
nor do I/O.
"""

from __future__ import annotations

from typing import Any

from .events import Event
from .translate_stream import StreamTranslator
from .wire import ChatChunk, ReasoningMode


class ChatAggregator:
    """A non-streaming reply: the same StreamTranslator's chunks folded into one
    `chat.completion` (§3.4). `feed` every event, then `finish` (which may raise like the
    translator's)."""

    def __init__(
        self, *, chunk_id: str, created: int, model: str, reasoning: ReasoningMode
    ) -> None:
        self._translator = StreamTranslator(
            chunk_id=chunk_id, created=created, model=model, include_usage=True, reasoning=reasoning
        )
        self._head = {
            "id": chunk_id,
            "object": "chat.completion",
            "created": created,
            "model": model,
        }
        self._content: list[str] = []
        self._refusal: list[str] = []
        self._reasoning: list[str] = []
        self._calls: list[dict[str, Any]] = []
        self._finish_reason: str | None = None
        self._usage: dict[str, Any] | None = None

    @property
    def started(self) -> bool:
        """Whether any output has been folded in."""
        return self._translator.started

    def feed(self, event: Event) -> None:
        for chunk in self._translator.feed(event):
            self._add(chunk)

    def finish(self) -> dict[str, Any]:
        for chunk in self._translator.finish():
            self._add(chunk)
        message: dict[str, Any] = {
            "role": "assistant",
            # OpenAI: `null`, not "", when the reply is tool calls (or a refusal) only (§5.8).
            "content": "".join(self._content) if self._content else None,
            "refusal": "".join(self._refusal) if self._refusal else None,
        }
        if self._calls:
            message["tool_calls"] = self._calls
        if self._reasoning:
            message["reasoning_content"] = "".join(self._reasoning)
        choice = {
            "index": 0,
            "message": message,
            "logprobs": None,
            "finish_reason": self._finish_reason,
        }
        return {**self._head, "choices": [choice], "usage": self._usage}

    def _add(self, chunk: ChatChunk) -> None:
        if not chunk["choices"]:
            self._usage = chunk.get("usage")
            return
        choice = chunk["choices"][0]
        if choice["finish_reason"] is not None:
            self._finish_reason = choice["finish_reason"]
        delta = choice["delta"]
        content, refusal = delta.get("content"), delta.get("refusal")
        if content is not None:
            self._content.append(content)
        if refusal:
            self._refusal.append(refusal)
        if "reasoning_content" in delta:
            self._reasoning.append(delta["reasoning_content"])
        for call in delta.get("tool_calls", ()):
            function = call.get("function", {})
            if call["index"] == len(self._calls):
                self._calls.append(
                    {
                        "id": call.get("id", ""),
                        "type": "function",
                        "function": {"name": function.get("name", ""), "arguments": ""},
                    }
                )
            self._calls[call["index"]]["function"]["arguments"] += function.get("arguments", "")
