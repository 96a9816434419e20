"""`POST …/responses/compact` as the Codex backend serves it now: a streamed `/responses` call
whose input ends with a `compaction_trigger` item.

The backend's own compact endpoint answers 404 since 2026-08-12; the Codex CLI compacts with a
normal streamed call (`stream: true`, `store: false`) whose last input item is
`{"type": "compaction_trigger"}`, and gets one `compaction` item back
(reference/codex-backend-2026.md §8). `compaction_request` makes that call's body from a compact
request (the public API's shape: `model`, `input`, `instructions`, tools, …), which then takes
the Responses path like any other (request/translate.py applies the profile);
response/compaction.py answers in the compact endpoint's shape.

Rule 1: the trigger is the last input item, and there is one: "The 'compaction_trigger' item
        must be the final input item" (a trigger the client put elsewhere is moved there).
Rule 2: `kept_messages` is what the compact answer repeats before the `compaction` item: the
        input's user messages, as the public endpoint's `output` lists them.

Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from chat2responses.protocol.params import Item, as_list, as_object, missing

TRIGGER = "compaction_trigger"
COMPACTION = "compaction"


def is_trigger(item: object) -> bool:
    return isinstance(item, dict) and item.get("type") == TRIGGER


def ends_in_trigger(body: dict[str, Any]) -> bool:
    """Whether `body` asks for a compaction (its last input item is the trigger)."""
    items = body.get("input")
    return isinstance(items, list) and bool(items) and is_trigger(items[-1])


def _items(value: object) -> list[Item]:
    if value is None:
        raise missing("input")
    if isinstance(value, str):
        text = {"type": "input_text", "text": value}
        return [{"type": "message", "role": "user", "content": [text]}]
    return [as_object(item, f"input[{i}]") for i, item in enumerate(as_list(value, "input"))]


def compaction_request(body: dict[str, Any]) -> dict[str, Any]:
    """The `/responses` body for a compact request (rule 1); the profile makes it streamed and
    unstored, and the client's `stream` is not the upstream's (the compact answer is JSON)."""
    items = [item for item in _items(body.get("input")) if not is_trigger(item)]
    out = {key: value for key, value in body.items() if key != "stream"}
    out["input"] = [*items, {"type": TRIGGER}]
    return out


def kept_messages(body: dict[str, Any]) -> list[Item]:
    """Rule 2: the user messages of a compact request's input, as sent."""
    return [
        item
        for item in _items(body.get("input"))
        if item.get("role") == "user" and item.get("type", "message") == "message"
    ]
