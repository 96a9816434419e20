"""The reasoning of one answer, as chat chunks' `reasoning_content` (response/translate.py rules 4
and 10).

Rule 1: reasoning text goes out as it streams, summary parts and raw reasoning text alike; a new
        part (another item, event type or part index) is separated from the one before by a
        blank line. Nothing goes out when the client asked for no reasoning (`ReasoningMode.NONE`).
Rule 2: a summary part whose text comes only in its `reasoning_summary_text.done` (the Codex
        backend's `reasoning_summary_delivery: "sequential_cutoff"`) is sent from it; a part whose
        deltas came is not sent again.
Rule 3: a reasoning item none of whose text streamed is sent whole from its finished item; a
        partly streamed one is left as it is (where its part separators went cannot be known).
Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from chat2responses.protocol.events import EventType
from chat2responses.protocol.wire import ChatChunk, ReasoningMode
from chat2responses.response.chunks import ChunkWriter
from chat2responses.response.items import Item, reasoning_text

_SUMMARY_DELTA = EventType.REASONING_SUMMARY_TEXT_DELTA.value


class ReasoningParts:
    """The reasoning parts of one answer, written through the answer's `ChunkWriter`."""

    def __init__(self, out: ChunkWriter, mode: ReasoningMode) -> None:
        self._out = out
        self.wanted = mode is not ReasoningMode.NONE
        # (item key, event type, part index) of the last part sent (rule 1).
        self._part: tuple[object, str, object] | None = None
        # (item key, summary index) of the summary parts whose text came as deltas (rule 2).
        self._streamed: set[tuple[object, object]] = set()

    def delta(
        self, key: object, item: Item, text: str, kind: str, index: object
    ) -> list[ChatChunk]:
        """A reasoning delta of `kind` (its event type) for part `index` of item `key`."""
        item.sent += len(text)
        if kind == _SUMMARY_DELTA:
            self._streamed.add((key, index))
        return self._text(text, (key, kind, index))

    def summary_done(self, key: object, item: Item, text: str, index: object) -> list[ChatChunk]:
        """Rule 2: a summary part's whole text, sent only when no delta of it came."""
        if (key, index) in self._streamed:
            return []  # its deltas said it already
        self._streamed.add((key, index))
        item.sent += len(text)
        return self._text(text, (key, _SUMMARY_DELTA, index))

    def rest(self, key: object, item: Item, payload: dict[str, Any]) -> list[ChatChunk]:
        """Rule 3: a finished reasoning item none of whose text streamed."""
        if not self.wanted or item.sent:
            return []
        text = reasoning_text(payload)
        if not text:
            return []
        item.sent = len(text)
        separate = self._part is not None
        self._part = (key, "done", None)
        return self._out.reasoning(text, separate=separate)

    def _text(self, text: str, part: tuple[object, str, object]) -> list[ChatChunk]:
        new_part = self._part is not None and part != self._part
        self._part = part
        return self._out.reasoning(text, separate=new_part)
