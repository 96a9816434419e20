"""Responses events → one `chat.completion`: the reply to a client that did not ask to stream.

Owns folding chat chunks into a message (§3.4): texts joined, tool calls assembled by index, the
finish reason and usage kept. The chunks come from the same StreamTranslator a streaming client
gets, so the two replies cannot disagree (stop sequences, message separators and the legacy
`function_call` shape included); this module must not read Responses events itself, nor do I/O.
The one difference is OpenAI's: a custom tool call, streamed as a `function` delta, is
`{"type": "custom", "custom": {"name", "input"}}` in a `chat.completion`.
"""

from __future__ import annotations

from typing import Any

from chat2responses.protocol.events import Event
from chat2responses.protocol.wire import ChatChunk
from chat2responses.response.chunks import ChunkContext
from chat2responses.response.translate import StreamTranslator


class ChatAggregator:
    """A non-streaming reply: the same StreamTranslator's chunks folded into one
    `chat.completion` (§3.4). `feed` every event, then `finish` (which may raise like the
    translator's)."""

    def __init__(self, ctx: ChunkContext) -> None:
        self._translator = StreamTranslator(ctx, include_usage=True)
        self._head = {
            "id": ctx.chunk_id,
            "object": "chat.completion",
            "created": ctx.created,
            "model": ctx.model,
        }
        self._content: list[str] = []
        self._refusal: list[str] = []
        self._reasoning: list[str] = []
        self._calls: list[dict[str, Any]] = []
        self._function_call: dict[str, str] | None = None
        self._finish_reason: str | None = None
        self._usage: dict[str, Any] | None = None

    @property
    def started(self) -> bool:
        """Whether any output has been folded in."""
        return self._translator.started

    @property
    def stopped(self) -> bool:
        """Whether a stop sequence ended the answer's text (its usage may still come)."""
        return self._translator.stopped

    @property
    def done(self) -> bool:
        """Whether the answer is over: a terminal event came."""
        return self._translator.done

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
            custom = self._translator.custom_calls
            message["tool_calls"] = [
                _custom_call(call) if index in custom else call
                for index, call in enumerate(self._calls)
            ]
        if self._function_call is not None:
            message["function_call"] = self._function_call
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
        if (legacy := delta.get("function_call")) is not None:
            if self._function_call is None:
                self._function_call = {"name": legacy.get("name", ""), "arguments": ""}
            self._function_call["arguments"] += legacy.get("arguments", "")
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


def _custom_call(call: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's non-streamed shape of a custom tool call."""
    function = call["function"]
    return {
        "id": call["id"],
        "type": "custom",
        "custom": {"name": function["name"], "input": function["arguments"]},
    }
