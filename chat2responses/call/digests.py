"""What a turn's request was made of, as small digests: enough to tell, at the next turn, whether
the earlier input was appended to or edited, and where (call/misses.py).

Owns `Digests` and `digests_of(body)`, taken of the request as translated for the upstream
(the full request, before a continuation or a reasoning replay changes what is sent). Must not
keep any text of the request: only digests (48 bits of call/fingerprint.py's), item kinds and
counts, so that they can go into a flow's metadata and the per-process record without holding
a prompt.

Rule 1 (parts): the instructions are the `instructions` field and the leading developer or system
        messages of `input` (where a continuable conversation carries them: call/turn.py rule 4),
        digested as their texts only, so the route does not change them; the tools are the
        `tools` field and a leading `additional_tools` item (Responses-Lite); the items are the
        rest of `input`, one digest and one kind letter each.
Rule 2 (cost): one pass over the body's values with the project's one digest (call/
        fingerprint.py: no JSON is made; a 750 KB request takes about 3 ms, when the flow ends);
        key order aside, so a client that reorders keys edits nothing. The digests are stable
        across processes (the report compares turns that different instances served).
Rule 3 (chained): a request that names its own `previous_response_id` sends only new items: its
        items say nothing of the earlier input, and are not compared.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chat2responses.call.fingerprint import fingerprint

_INSTRUCTION_ROLES = frozenset({"developer", "system"})

# One letter per item kind (rule 1), and how an item of that kind is named to a person.
_KINDS = {
    ("message", "user"): "u",
    ("message", "assistant"): "a",
    ("message", "developer"): "d",
    ("message", "system"): "d",
    ("function_call", None): "f",
    ("custom_tool_call", None): "f",
    ("function_call_output", None): "o",
    ("custom_tool_call_output", None): "o",
    ("reasoning", None): "r",
}
KIND_NAMES = {
    "u": "a user message",
    "a": "an assistant message",
    "d": "a developer message",
    "f": "a tool call",
    "o": "a tool result",
    "r": "a reasoning item",
    "x": "an item",
}


@dataclass(frozen=True, slots=True)
class Digests:
    model: str = ""
    instructions: int = 0  # digest of the instruction texts (0: none)
    tools: int = 0  # digest of the tools (0: none)
    items: tuple[int, ...] = ()  # one digest per other input item
    kinds: str = ""  # one letter per item (KIND_NAMES)
    chained: bool = False  # the client named its own previous_response_id (rule 3)
    retention: str = ""  # the request's prompt_cache_retention, if any

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "instructions": self.instructions,
            "tools": self.tools,
            "items": list(self.items),
            "kinds": self.kinds,
            "chained": self.chained,
            "retention": self.retention,
        }

    @classmethod
    def from_dict(cls, data: object) -> Digests:
        """Digests read back from a flow's metadata; a wrong shape gives an empty one."""
        if not isinstance(data, dict):
            return cls()
        items = data.get("items")
        digests = tuple(i for i in items if isinstance(i, int)) if isinstance(items, list) else ()
        return cls(
            model=_str(data.get("model")),
            instructions=_int(data.get("instructions")),
            tools=_int(data.get("tools")),
            items=digests,
            kinds=_str(data.get("kinds"))[: len(digests)],
            chained=data.get("chained") is True,
            retention=_str(data.get("retention")),
        )


def digests_of(body: Mapping[str, Any]) -> Digests:
    """The digests of a translated Responses request (rules 1-3)."""
    items = body.get("input")
    items = items if isinstance(items, list) else ([items] if isinstance(items, str) else [])
    texts: list[str] = []
    instructions = body.get("instructions")
    if isinstance(instructions, str) and instructions:
        texts.append(instructions)
    tools: list[Any] = [body["tools"]] if body.get("tools") else []
    start = 0
    for item in items:
        kind = _kind_of(item)
        if kind == "d":
            texts.extend(_texts(item))
        elif isinstance(item, dict) and item.get("type") == "additional_tools":
            tools.append(item)
        else:
            break
        start += 1
    rest = items[start:]
    retention = body.get("prompt_cache_retention")
    return Digests(
        model=str(body.get("model") or "").lower(),
        instructions=_digest(texts) if texts else 0,
        tools=_digest(tools) if tools else 0,
        items=tuple(_digest(item) for item in rest),
        kinds="".join(_kind_of(item) for item in rest),
        chained=isinstance(body.get("previous_response_id"), str),
        retention=retention if isinstance(retention, str) else "",
    )


def _kind_of(item: object) -> str:
    if isinstance(item, str):
        return "u"
    if not isinstance(item, dict):
        return "x"
    kind = item.get("type", "message" if "role" in item else None)
    role = item.get("role") if kind == "message" else None
    return _KINDS.get((kind, role), "x") if isinstance(kind, str) else "x"


def _texts(message: Mapping[str, Any]) -> list[str]:
    content = message.get("content")
    if isinstance(content, str):
        return [content]
    parts = content if isinstance(content, list) else []
    return [p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str)]


def _digest(value: object) -> int:
    """Rule 2: the first 48 bits of the value's fingerprint (call/fingerprint.py)."""
    return int.from_bytes(fingerprint(value)[:6], "big")


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def describe_item(kinds: Sequence[str] | str, index: int) -> str:
    """`item 4 (a tool result)`: the 0-based `index`, named for a person."""
    kind = kinds[index] if 0 <= index < len(kinds) else "x"
    return f"item {index + 1} ({KIND_NAMES.get(kind, KIND_NAMES['x'])})"
