"""The output items of one upstream response, as the stream translator tracks them: which item an
event is about (rule 7 of response/translate.py) and how much of each has been sent (rule 3).

Owns the item table (keyed by `output_index`, else by item id, else the current item) and what an
item's payload says in full (a message's text and refusal, a reasoning item's text, a tool call's
arguments). Must not: build chunks or decide what to send (translate.py does), or do I/O.
Rules:
1. An event is about the item its `output_index` names; without one (relays drop it, codex accepts
   that) the item its `item_id` (or its `item.id`) names, else the current item; an
   `output_item.added` without either opens a new one. A missing `output_index` alone is never a
   protocol error.
2. An item keeps the first key its id was seen under, so later events by id find it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from chat2responses.protocol.events import Event


class ItemPhase(StrEnum):
    OPEN = "open"  # seen through `output_item.added` or a delta
    DONE = "done"  # `output_item.done` handled; later events for the item are ignored


@dataclass(slots=True)
class Item:
    """What has been sent for one Responses output item."""

    phase: ItemPhase = ItemPhase.OPEN
    tool_index: int = -1  # chat tool-call index once announced; -1 for anything else
    # Characters forwarded of the item's main text: output_text of a message, arguments (or
    # custom input) of a tool call, reasoning of a reasoning item. Rule 3 sends the rest.
    sent: int = 0
    refusal_sent: int = 0


class Items:
    """The items of one response. `by_key` is the table itself (the translator's hot path reads
    it directly); `key` and `open` find an event's item (rule 1)."""

    __slots__ = ("_ids", "_last", "by_key")

    def __init__(self) -> None:
        self.by_key: dict[object, Item] = {}
        self._ids: dict[object, object] = {}  # item id → the key of its item (rule 2)
        self._last: object = None  # key of the item opened last: "the current item"

    def key(self, event: Event, *, added: bool = False) -> object:
        """The key of the item `event` is about (rule 1): its `output_index`, else its item
        id's item, else the current one (a new one for an `output_item.added`)."""
        index = event.get("output_index")
        if index is not None:
            return index
        item_id = _item_id(event)
        if item_id is not None:
            return self._ids.get(item_id, ("id", item_id))
        if added or self._last is None:
            return ("anonymous", len(self.by_key))
        return self._last

    def open(self, event: Event, *, added: bool = False) -> tuple[object, Item]:
        """The item `event` is about, opened (and made the current one) if it is new."""
        key = self.key(event, added=added)
        item = self.by_key.get(key)
        if item is None:
            item = self.by_key[key] = Item()
            self._last = key
            item_id = _item_id(event)
            if item_id is not None:
                self._ids.setdefault(item_id, key)
        return key, item


def message_texts(payload: dict[str, Any]) -> tuple[str, str]:
    """A message item's whole `output_text` and whole `refusal`."""
    text: list[str] = []
    refusal: list[str] = []
    for part in payload.get("content") or ():
        if part.get("type") == "output_text":
            text.append(part.get("text") or "")
        elif part.get("type") == "refusal":
            refusal.append(part.get("refusal") or "")
    return "".join(text), "".join(refusal)


def reasoning_text(payload: dict[str, Any]) -> str:
    """A reasoning item's whole text: its summary parts (else its content), a blank line apart."""
    parts = payload.get("summary") or payload.get("content") or ()
    return "\n\n".join(part.get("text") or "" for part in parts)


def text_field(event: Event, key: str) -> str:
    """`event[key]`, which must be text: a TypeError (a malformed event) otherwise."""
    value = event[key]
    if type(value) is not str:
        raise TypeError(f"{key} is {type(value).__name__}, not a string")
    return value


def call_arguments(payload: dict[str, Any]) -> str:
    # function_call items carry `arguments`; custom_tool_call items carry free-form `input`.
    value = payload.get("arguments", payload.get("input"))
    return value if isinstance(value, str) else ""


def _item_id(event: Event) -> object:
    item_id = event.get("item_id")
    if item_id is None and isinstance(payload := event.get("item"), dict):
        item_id = payload.get("id")
    return item_id
