"""What a chat client replays of an answer: the normalisation that makes a client's resent history
comparable with what the upstream returned (conversation.py continues a conversation when they
agree; replay.py files reasoning by the same units).

Must not keep state, do I/O or read a clock.

Rule 1 (units): input is compared as units. A run of assistant items (messages, function and
        custom tool calls; reasoning items inside it do not break it) is one unit: its text,
        then its calls `[type, call_id, name, arguments|input]` in order, arguments by meaning:
        JSON arguments as the value they parse to (an AI SDK client parses them and sends them
        back re-serialised: other spacing, other key order), anything else exact. The
        text: each message's `output_text`/`text` parts joined (else its refusal), messages
        joined by "\\n\\n" (response/translate.py rule 8), `<think>…</think>` blocks removed (the
        `think` reasoning mode), surrounding white space stripped; a run whose text is empty has
        none. Reasoning items are ignored anywhere. Any other item drops `id` and `status`; a
        string `content` becomes one `input_text` part; it is compared by its fingerprint
        (call/fingerprint.py: the value, key order aside).
Rule 2 (replay): the upstream's output comes back from a chat client as messages and calls only:
        no ids, statuses, annotations, `encrypted_content` or reasoning items. Other output item
        types (hosted tools) are kept as they came minus `id`/`status`: a chat history never
        has them, so it never matches (a full resend, the safe side).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeGuard

from chat2responses.call.fingerprint import fingerprint

# Assistant tool calls → the key holding their payload.
CALL_PAYLOAD: Mapping[str, str] = {"function_call": "arguments", "custom_tool_call": "input"}
REASONING = "reasoning"
_METADATA = frozenset({"id", "status"})
_TEXT_PARTS = frozenset({"output_text", "text", "input_text"})
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)


def item_type(item: object) -> str | None:
    """An input item's type; a message may leave it out (an "easy" message)."""
    if not isinstance(item, dict):
        return None
    kind = item.get("type", "message" if "role" in item else None)
    return kind if isinstance(kind, str) else None


def is_assistant(item: object) -> TypeGuard[dict[str, Any]]:
    """A message from the assistant, or one of its tool calls."""
    kind = item_type(item)
    if kind == "message":
        return isinstance(item, dict) and item.get("role") == "assistant"
    return kind in CALL_PAYLOAD


def answer_text(items: Iterable[object]) -> str:
    """The assistant text of `items` as a chat client replays it (rule 1)."""
    texts = [_message_text(item) for item in items if item_type(item) == "message"]
    joined = "\n\n".join(text for text in texts if text)
    return _THINK.sub("", joined).strip()


def _message_text(item: object) -> str:
    content = item.get("content") if isinstance(item, dict) else None
    if isinstance(content, str):
        return content
    texts: list[str] = []
    refusals: list[str] = []
    for part in content if isinstance(content, list) else ():
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in _TEXT_PARTS and isinstance(text := part.get("text"), str):
            texts.append(text)
        elif kind == "refusal" and isinstance(refusal := part.get("refusal"), str):
            refusals.append(refusal)
    return "".join(texts) or "".join(refusals)


def _call(item: dict[str, Any]) -> list[object]:
    kind = item["type"]
    payload = item.get(CALL_PAYLOAD[kind])
    if kind == "function_call":
        payload = _meaning(payload)
    return [kind, item.get("call_id"), item.get("name"), payload]


def _meaning(arguments: object) -> object:
    """What JSON arguments say (rule 1): `{"parsed": value}`, which no raw string equals;
    anything that does not parse, as it is."""
    if not isinstance(arguments, str):
        return arguments
    try:
        return {"parsed": json.loads(arguments)}
    except ValueError:
        return arguments


def plain(item: object) -> object:
    if not isinstance(item, dict):
        return item
    out = {key: value for key, value in item.items() if key not in _METADATA}
    if "role" in out:
        out.setdefault("type", "message")
    if out.get("type") == "message" and isinstance(content := out.get("content"), str):
        out["content"] = [{"type": "input_text", "text": content}]
    return out


def units(items: Sequence[object]) -> list[tuple[bytes, int]]:
    """`items` as comparable units (rule 1): each unit's fingerprint and the index just after
    its last item."""
    out: list[tuple[bytes, int]] = []
    run: list[dict[str, Any]] = []
    end = 0

    def flush() -> None:
        if run:
            calls = [_call(item) for item in run if item["type"] in CALL_PAYLOAD]
            out.append((fingerprint({"assistant": answer_text(run), "calls": calls}), end))
            run.clear()

    for index, item in enumerate(items):
        if item_type(item) == REASONING:
            continue
        if is_assistant(item):
            run.append({"type": "message", **item})  # an "easy" message has no type
            end = index + 1
            continue
        flush()
        out.append((fingerprint(plain(item)), index + 1))
    flush()
    return out


def replayed(output: Iterable[object]) -> list[object]:
    """The upstream's output items as a chat client sends them back (rule 2)."""
    out: list[object] = []
    for item in output:
        kind = item_type(item)
        if kind == REASONING or not isinstance(item, dict):
            continue
        if kind == "message":
            text = {"type": "output_text", "text": _message_text(item)}
            out.append({"type": "message", "role": "assistant", "content": [text]})
        elif (payload := CALL_PAYLOAD.get(kind or "")) is not None:
            out.append({key: item.get(key) for key in ("type", "call_id", "name", payload)})
        else:
            out.append(plain(item))
    return out


def is_empty_answer(output: Iterable[object]) -> bool:
    """Whether a response's output has neither text nor a tool call (a broken continuation)."""
    items = list(output)
    return not answer_text(items) and not any(item_type(item) in CALL_PAYLOAD for item in items)


def assistant_runs(items: Sequence[object]) -> list[tuple[int, int]]:
    """Where the assistant runs of `items` start and end (`items[start:end]`), in order."""
    runs: list[tuple[int, int]] = []
    index = 0
    while index < len(items):
        if not is_assistant(items[index]):
            index += 1
            continue
        end = index
        while end < len(items) and is_assistant(items[end]):
            end += 1
        runs.append((index, end))
        index = end
    return runs
