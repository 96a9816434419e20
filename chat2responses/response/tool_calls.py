"""The tool calls of one answer, as chat chunks: numbered, announced once, their arguments sent
whole (response/translate.py rules 2, 3 and 9).

Rule 1: each call gets the next chat `index` from 0, whatever its `output_index`, and its
        Responses `call_id` as `id`; `id`, `type` and `name` go only in its first delta, with
        the arguments known by then.
Rule 2: arguments are sent as their deltas come; what the deltas did not carry is sent from the
        call's `.done` event or its finished item (`rest`).
Rule 3: a `custom_tool_call` streams as a `function` call whose arguments are its raw input; its
        index is kept in `custom` for the aggregator. With legacy `functions` only the first
        call is said (one `function_call`), and the finish reason is `function_call`.
Rule 4: a `call_id` or `name` that is not a string is a malformed event (TypeError).
Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from chat2responses.protocol.events import ItemType
from chat2responses.protocol.wire import ChatChunk, FinishReason, ToolCallDelta
from chat2responses.response.chunks import ChunkWriter
from chat2responses.response.items import Item, call_arguments

TOOL_CALL_TYPES = frozenset({ItemType.FUNCTION_CALL.value, ItemType.CUSTOM_TOOL_CALL.value})


class ToolCalls:
    """The calls of one answer, written through the answer's `ChunkWriter` (module rules)."""

    def __init__(self, out: ChunkWriter, *, legacy: bool) -> None:
        self._out = out
        self._legacy = legacy
        self.count = 0
        self.custom: set[int] = set()

    def announce(self, item: Item, payload: dict[str, Any]) -> list[ChatChunk]:
        """The first delta of the call `payload` describes (rules 1, 3)."""
        if self._legacy and self.count:
            return []  # the legacy shape holds one call: later ones cannot be said
        item.tool_index = self.count
        self.count += 1
        if payload.get("type") == ItemType.CUSTOM_TOOL_CALL:
            self.custom.add(item.tool_index)
        arguments = call_arguments(payload)
        item.sent = len(arguments)
        call_id = payload.get("call_id") or payload.get("id") or f"call_{item.tool_index}"
        name = payload.get("name") or ""
        if type(call_id) is not str or type(name) is not str:
            raise TypeError("a tool call's call_id and name must be strings")  # rule 4
        call: ToolCallDelta = {
            "index": item.tool_index,
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": arguments},
        }
        return self._out.tool_call(call)

    def arguments(self, item: Item, text: str) -> list[ChatChunk]:
        """An announced call's arguments delta (rule 2)."""
        item.sent += len(text)
        return self._out.arguments(item.tool_index, text)

    def rest(self, item: Item, full: str) -> list[ChatChunk]:
        """What of the call's whole arguments `full` its deltas did not carry (rule 2)."""
        rest = full[item.sent :]
        if not rest:
            return []
        item.sent += len(rest)
        return self._out.arguments(item.tool_index, rest)

    def finish_reason(self) -> FinishReason | None:
        """The finish reason of an answer that ended well, when it made calls (rule 3)."""
        if not self.count:
            return None
        return FinishReason.FUNCTION_CALL if self._legacy else FinishReason.TOOL_CALLS
