"""Responses events → Chat Completions chunks: the one translator both transports and the
non-streaming aggregator use.

Owns the mapping of reference/openai-protocols.md §3.7 and the client rules of §5. It takes parsed
event dicts (events.parse_event) and returns chunk dicts; it must not do I/O, encode JSON, emit
`[DONE]` or render errors: a failed upstream is raised as `UpstreamError` and the caller renders it
(a status before the first byte, an error chunk after).

Rules, each enforced in one place (1, 4 and 5 by chunks.ChunkWriter, the others below):
1. `role` is sent once, in the first chunk (§5.1): OpenAI's own role chunk for text and refusals,
   merged into the first tool call (with `content: null`) or the first `reasoning_content`.
2. Tool calls get a 0-based counter as `index`, never `output_index` (§5.2), and the Responses
   `call_id` as `id` (§5.3). `id`, `type` and `name` appear only in a call's first delta.
3. `output_item.done` is authoritative: whatever an item's deltas did not carry (or an item that
   was never announced) is sent from it. `response.completed.output` is used only when no item
   event came at all, because the Codex backend completes with an empty `output`.
4. `reasoning_content` chunks never carry a `content` key (§5.9).
5. The finish chunk has `delta: {}`; the usage chunk (`choices: []`) follows it only under
   `include_usage` (§5.4), when every other chunk carries `usage: null` as OpenAI's do.
6. Nothing is emitted after a terminal event; a stream that ends without one is an error. A
   client's stop sequence ends the answer too (`stopped`): nothing more of it is sent, but the
   terminal event that follows still gives its usage (the usage chunk); the caller waits for it
   a moment (call/machine.py `Linger`) and closes the upstream if it does not come. A stream that
   ends, or fails, after a stop sequence is not an error: the answer was complete.
7. An event is about the item its `output_index` names; without one (relays drop it, codex
   accepts that) the item its `item_id` names, else the current item (response/items.py). A
   missing `output_index` alone is never a protocol error.
8. Two message items (a `phase: "commentary"` preamble and the answer) are separated by a blank
   line ("\n\n") in `content`.
9. A `custom_tool_call` streams in the only form the SDKs' chunk types know, a `function` tool
   call whose `arguments` is the raw input; `custom_calls` lists them so the aggregator can give
   the non-streamed reply OpenAI's own `{"type": "custom", "custom": {...}}` shape. A request
   with legacy `functions` gets `function_call` deltas (one call) and finish `function_call`.
   (Rules 2 and 9, and rule 3 for a call's arguments, are response/tool_calls.py's; rule 10,
   and rule 3 for a reasoning item, are response/reasoning_parts.py's, as is the blank line
   between two reasoning parts.)
10. A reasoning summary part whose text comes only in `reasoning_summary_text.done` (the Codex
   backend's `reasoning_summary_delivery: "sequential_cutoff"`) is sent from it; a part whose
   deltas came is not sent again.
What each terminal event means is response/endings.py's; an upstream failure's status and
type are events.error_of_event's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chat2responses.protocol.errors import UpstreamError, UpstreamProtocolError
from chat2responses.protocol.events import Event, EventType, ItemType
from chat2responses.protocol.wire import (
    ChatChunk,
    ChatUsage,
    FinishReason,
)
from chat2responses.response.chunks import ChunkContext, ChunkWriter, chat_usage
from chat2responses.response.endings import ENDS, ending, response_of
from chat2responses.response.items import (
    Item,
    ItemPhase,
    Items,
    call_arguments,
    message_texts,
    text_field,
)
from chat2responses.response.reasoning_parts import ReasoningParts
from chat2responses.response.tool_calls import TOOL_CALL_TYPES, ToolCalls

Handler = Callable[["StreamTranslator", Event], list[ChatChunk]]

# Known event types that carry nothing a chat client needs: their data is either in the deltas
# (the `.done` texts repeat them) or in `output_item.done`, which rule 3 reads instead.
IGNORED = frozenset(
    {
        EventType.CREATED,
        EventType.QUEUED,
        EventType.IN_PROGRESS,
        EventType.CONTENT_PART_ADDED,
        EventType.CONTENT_PART_DONE,
        EventType.OUTPUT_TEXT_DONE,
        EventType.OUTPUT_TEXT_ANNOTATION_ADDED,
        EventType.REFUSAL_DONE,
        EventType.REASONING_SUMMARY_PART_ADDED,
        EventType.REASONING_SUMMARY_PART_DONE,
        EventType.REASONING_TEXT_DONE,
    }
)

# Event type → the name of the StreamTranslator method for it (`_METHODS`, below the class).
_HANDLERS: dict[str, str] = {
    EventType.OUTPUT_TEXT_DELTA.value: "_on_text_delta",
    EventType.REFUSAL_DELTA.value: "_on_refusal_delta",
    EventType.OUTPUT_ITEM_ADDED.value: "_on_item_added",
    EventType.OUTPUT_ITEM_DONE.value: "_on_item_done",
    EventType.FUNCTION_CALL_ARGUMENTS_DELTA.value: "_on_arguments_delta",
    EventType.CUSTOM_TOOL_CALL_INPUT_DELTA.value: "_on_arguments_delta",
    EventType.FUNCTION_CALL_ARGUMENTS_DONE.value: "_on_arguments_done",
    EventType.CUSTOM_TOOL_CALL_INPUT_DONE.value: "_on_arguments_done",
    EventType.REASONING_SUMMARY_TEXT_DELTA.value: "_on_reasoning_delta",
    EventType.REASONING_TEXT_DELTA.value: "_on_reasoning_delta",
    EventType.REASONING_SUMMARY_TEXT_DONE.value: "_on_summary_done",
    EventType.COMPLETED.value: "_on_end",
    EventType.INCOMPLETE.value: "_on_end",
    EventType.FAILED.value: "_on_end",
    EventType.DONE.value: "_on_end",
    EventType.ERROR.value: "_on_end",
}


class StreamTranslator:
    """Feed every upstream event to `feed` and send what it returns; call `finish` at end of
    stream. Either may raise `UpstreamError`: render it, send nothing more."""

    def __init__(self, ctx: ChunkContext, *, include_usage: bool = False) -> None:
        self._out = ChunkWriter(ctx, include_usage=include_usage)
        self._calls = ToolCalls(self._out, legacy=ctx.legacy_functions)  # rules 2, 9
        self._reasoning = ReasoningParts(self._out, ctx.reasoning)  # rule 10
        self._terminal: str | None = None
        # What the answer ended with, for the flow's summary (not part of the chunks).
        self.finish_reason: FinishReason | None = None
        self.usage: ChatUsage | None = None
        self._table = Items()  # rule 7
        self._items = self._table.by_key  # read directly on the hot path
        self._answer_item: object = None  # key of the message item that sent text last (rule 8)

    @property
    def started(self) -> bool:
        """Whether any chunk has been returned (an error must then be an error chunk)."""
        return self._out.started

    @property
    def done(self) -> bool:
        """Whether the answer is over: a terminal event (after a stop sequence too, rule 6)."""
        return self._terminal is not None

    @property
    def stopped(self) -> bool:
        """Whether a stop sequence ended the answer: the call can end, close the upstream."""
        return self._out.stopped

    @property
    def custom_calls(self) -> frozenset[int]:
        """Chat tool-call indexes that are custom tool calls (streamed as `function`, rule 9)."""
        return frozenset(self._calls.custom)

    def feed(self, event: Event) -> list[ChatChunk]:
        """The chunks this event produces, in order (often one, possibly none)."""
        if self._terminal is not None:
            return []  # rule 6
        if self._out.stopped:
            return self._after_stop(event)
        handler = _METHODS.get(event["type"])
        if handler is None:
            return []  # IGNORED, or a type newer than this code
        try:
            out = handler(self, event)
        except (KeyError, TypeError, AttributeError) as exc:
            raise UpstreamProtocolError(
                f"upstream sent a malformed {event['type']} event ({type(exc).__name__}: {exc})"
            ) from None
        if self._out.stopped:
            self.finish_reason = FinishReason.STOP
        return out

    def _after_stop(self, event: Event) -> list[ChatChunk]:
        """Rule 6: after a stop sequence only a terminal event counts, for its usage."""
        if event["type"] not in ENDS:
            return []
        self._terminal = event["type"]
        usage = response_of(event).get("usage")
        if not isinstance(usage, dict):
            return []
        self.usage = chat_usage(usage)
        return self._out.usage(self.usage)

    def finish(self) -> list[ChatChunk]:
        """End of the upstream stream: nothing to add after a terminal event or a stop
        sequence, else an error."""
        if self._terminal is None and not self._out.stopped:
            raise UpstreamProtocolError("upstream closed the stream before response.completed")
        return []

    # -- deltas ------------------------------------------------------------------------------

    def _on_text_delta(self, event: Event) -> list[ChatChunk]:
        # The hot path (most events of a long answer): one lookup, one chunk.
        text: str = event["delta"]
        if type(text) is not str:
            raise TypeError(f"delta is {type(text).__name__}, not a string")
        key = event.get("output_index")
        item = self._items.get(key) if key is not None else None
        if item is None:
            key, item = self._table.open(event)
        if item.phase is ItemPhase.DONE or not text:
            return []
        item.sent += len(text)
        return self._text(key, text)

    def _text(self, key: object, text: str) -> list[ChatChunk]:
        """Answer text of message item `key`; a new message item after another's text is
        separated from it by a blank line (rule 8)."""
        if self._answer_item != key:
            if self._answer_item is not None:
                text = "\n\n" + text
            self._answer_item = key
        return self._out.content(text)

    def _on_refusal_delta(self, event: Event) -> list[ChatChunk]:
        text = text_field(event, "delta")
        item = self._table.open(event)[1]
        if item.phase is ItemPhase.DONE or not text:
            return []
        item.refusal_sent += len(text)
        return self._out.refusal(text)

    def _on_arguments_delta(self, event: Event) -> list[ChatChunk]:
        text = text_field(event, "delta")
        item = self._items.get(self._table.key(event))
        # A delta for a call never announced is left to output_item.done (rule 3).
        if item is None or item.tool_index < 0 or item.phase is ItemPhase.DONE or not text:
            return []
        return self._calls.arguments(item, text)

    def _on_arguments_done(self, event: Event) -> list[ChatChunk]:
        item = self._items.get(self._table.key(event))
        if item is None or item.tool_index < 0 or item.phase is ItemPhase.DONE:
            return []
        full = event.get("arguments", event.get("input", ""))
        return self._calls.rest(item, full if isinstance(full, str) else "")

    def _on_reasoning_delta(self, event: Event) -> list[ChatChunk]:
        text = text_field(event, "delta")
        key, item = self._table.open(event)
        if item.phase is ItemPhase.DONE or not text or not self._reasoning.wanted:
            return []
        index = event.get("summary_index", event.get("content_index"))
        return self._reasoning.delta(key, item, text, event["type"], index)

    def _on_summary_done(self, event: Event) -> list[ChatChunk]:
        """Rule 10: a summary part's whole text, sent only when no delta of it came."""
        text = text_field(event, "text")
        key, item = self._table.open(event)
        if item.phase is ItemPhase.DONE or not text or not self._reasoning.wanted:
            return []
        return self._reasoning.summary_done(key, item, text, event.get("summary_index"))

    # -- output items ------------------------------------------------------------------------

    def _on_item_added(self, event: Event) -> list[ChatChunk]:
        payload: dict[str, Any] = event["item"]
        payload.get("type")  # an item that is not an object is malformed
        item = self._table.open(event, added=True)[1]
        if payload.get("type") in TOOL_CALL_TYPES and item.tool_index < 0:
            return self._calls.announce(item, payload)
        return []

    def _on_item_done(self, event: Event) -> list[ChatChunk]:
        payload: dict[str, Any] = event["item"]
        payload.get("type")  # an item that is not an object is malformed
        return self._item_done(self._table.open(event)[0], payload)

    def _item_done(self, key: object, payload: dict[str, Any]) -> list[ChatChunk]:
        item = self._items.get(key)
        if item is None:
            item = self._items[key] = Item()
        if item.phase is ItemPhase.DONE:
            return []
        item.phase = ItemPhase.DONE
        kind = payload.get("type")
        if kind == ItemType.MESSAGE:
            return self._message_rest(key, item, payload)
        if kind in TOOL_CALL_TYPES:
            if item.tool_index < 0:
                return self._calls.announce(item, payload)
            return self._calls.rest(item, call_arguments(payload))
        if kind == ItemType.REASONING:
            return self._reasoning.rest(key, item, payload)
        return []

    def _message_rest(self, key: object, item: Item, payload: dict[str, Any]) -> list[ChatChunk]:
        text, refusal = message_texts(payload)
        out: list[ChatChunk] = []
        rest = text[item.sent :]
        if rest:
            item.sent += len(rest)
            out += self._text(key, rest)
        rest = refusal[item.refusal_sent :]
        if rest:
            item.refusal_sent += len(rest)
            out += self._out.refusal(rest)
        return out

    # -- terminal events ---------------------------------------------------------------------

    def _on_end(self, event: Event) -> list[ChatChunk]:
        """A terminal event: the rest of the answer and its finish, or the failure raised."""
        self._terminal = event["type"]
        ended = ending(event)
        if isinstance(ended, UpstreamError):
            raise ended
        response = response_of(event)
        out = self._backfill(response)
        reason = ended or FinishReason.STOP
        if ended is None:
            reason = self._calls.finish_reason() or reason
        return out + self._finish_chunks(reason, response)

    def _backfill(self, response: dict[str, Any]) -> list[ChatChunk]:
        """Rule 3: the terminal response's `output`, only when no item event came at all."""
        output = response.get("output")
        if self._items or not isinstance(output, list):
            return []
        out: list[ChatChunk] = []
        for index, payload in enumerate(output):
            if isinstance(payload, dict):
                out += self._item_done(index, payload)
        return out

    def _finish_chunks(self, reason: FinishReason, response: dict[str, Any]) -> list[ChatChunk]:
        if self._out.stopped:  # a stop sequence in the backfilled text already finished
            out, reason = [], FinishReason.STOP
        else:
            out = self._out.finish(reason)
        usage = response.get("usage")
        self.finish_reason = reason
        if isinstance(usage, dict):
            self.usage = chat_usage(usage)
            out += self._out.usage(self.usage)
        return out


# Plain functions, not bound methods kept per translator: those would tie each translator into a
# reference cycle that only the garbage collector frees.
_METHODS: dict[str, Handler] = {kind: getattr(StreamTranslator, n) for kind, n in _HANDLERS.items()}
