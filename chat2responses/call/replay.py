"""The reasoning a chat client cannot replay: `ReasoningCache` gives stateless chat clients back
the encrypted reasoning items they never see (reference/codex-backend-2026.md §7), and their
custom tool calls in their own shape.

Must not normalise what a client replays (units.py does, rules 1 and 2), do I/O or read a clock
of its own (injected: monotonic seconds).

Rule 3 (reasoning): `ReasoningCache.keep` files a response's reasoning items that carry
        `encrypted_content` (as `{"type", "summary", "encrypted_content"}`: no id, which
        `store: false` would refuse) under each of its tool calls' `call_id`, or, for a text
        answer, under the digest of its text (units.py rule 1); always per credential. `replay`
        puts them back right before the assistant run that a later request replays (found by
        its first known `call_id`, else by its text), unless a reasoning item already precedes
        that run.
        It never changes the list it is given. Entries live `ttl` seconds since last use, at
        most `cap` of them, least recently used first out.
Rule 4 (custom calls): a chat client replays a custom tool call in the only form its chat
        types know, a `function` tool call, and may not send `tools` again; `keep` also
        remembers the `call_id`s of the custom tool calls a response made (per credential,
        bounded like the reasoning), and `restore_custom_calls` turns a replayed
        `function_call` with one of them back into the `custom_tool_call` it was, and its
        `function_call_output` into a `custom_tool_call_output`.
Rule 5 (shared): what `keep` files and `forget` drops is told to the cache's `Backing`
        (shared.py: Redis when responses_state_url is set); `wanted` names the entries a
        request would replay that this cache lacks, and `absorb` files one pulled from the
        shared store, so another instance's turn replays the same items.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chat2responses.call.shared import NO_BACKING, Backing, Table, shared_name
from chat2responses.call.units import (
    CALL_PAYLOAD,
    REASONING,
    answer_text,
    assistant_runs,
    item_type,
)
from chat2responses.protocol.params import Item

# --- reasoning for stateless clients (rule 3) ----------------------------------------------------


def _kept(item: Mapping[str, Any]) -> Item:
    summary = item.get("summary")
    return {
        "type": REASONING,
        "summary": summary if isinstance(summary, list) else [],
        "encrypted_content": item["encrypted_content"],
    }


CUSTOM_CALL = "custom_tool_call"
# A replayed custom call's function shape → its own (rule 4).
_FUNCTION_SHAPES = {"function_call": CUSTOM_CALL, "function_call_output": "custom_tool_call_output"}


def _as_custom(item: Any, known: set[str]) -> Any:
    kind = item_type(item)
    if kind not in _FUNCTION_SHAPES or item.get("call_id") not in known:
        return item
    out = {k: v for k, v in item.items() if k not in ("arguments", "type")}
    out["type"] = _FUNCTION_SHAPES[kind]
    if kind == "function_call":
        out["input"] = item.get("arguments", "")
    return out


def _text_key(text: str) -> str:
    return "text:" + hashlib.sha256(text.encode()).hexdigest()


def _call_key(call_id: object) -> str:
    return f"call:{call_id}"


@dataclass(slots=True)
class _Entry:
    items: tuple[Item, ...]
    at: float  # when it was kept or last replayed


class ReasoningCache:
    """Encrypted reasoning items per credential and assistant turn (rule 3)."""

    def __init__(
        self,
        cap: int = 2048,
        ttl: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
        backing: Backing = NO_BACKING,
    ) -> None:
        self._cap = cap
        self._ttl = ttl
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._custom: OrderedDict[tuple[str, str], float] = OrderedDict()  # rule 4
        self.backing = backing

    def __len__(self) -> int:
        return len(self._entries)

    def keep(self, credential: str, output: Sequence[Any]) -> int:
        """After a completed response: file its reasoning items (how many keys were filed) and
        its custom tool calls' ids (rule 4)."""
        self._keep_custom(credential, output)
        calls = [i for i, item in enumerate(output) if item_type(item) in CALL_PAYLOAD]
        if calls:
            keys = [_call_key(output[i].get("call_id")) for i in calls]
            last = calls[-1]
        else:
            text = answer_text(output)
            keys = [_text_key(text)] if text else []
            last = len(output)
        kept = tuple(
            _kept(item)
            for item in output[:last]
            if item_type(item) == REASONING
            and isinstance(item.get("encrypted_content"), str)
            and item["encrypted_content"]
        )
        if not kept or not keys:
            return 0
        self._file(credential, keys, kept)
        for key in keys:  # rule 5
            self.backing.put(Table.REASONING, shared_name(credential, key), list(kept))
        return len(keys)

    def _file(self, credential: str, keys: Iterable[str], kept: tuple[Item, ...]) -> None:
        now = self._clock()
        for key in keys:
            self._entries[credential, key] = _Entry(kept, now)
            self._entries.move_to_end((credential, key))
        while len(self._entries) > self._cap:
            self._entries.popitem(last=False)

    def wanted(self, credential: str, input_items: Sequence[Any]) -> list[str]:
        """Rule 5: the keys `replay` would look for in `input_items` that this cache lacks, for
        each assistant run with no reasoning before it (pull them by `shared_name`)."""
        now = self._clock()
        out: list[str] = []
        for run in _runs_to_replay(input_items):
            keys = _run_keys(run)
            if not any(self._fresh((credential, key), now) for key in keys):
                out += keys
        return out

    def absorb(self, credential: str, key: str, value: object) -> bool:
        """Rule 5: file `value`, pulled from the shared store for `key`, when it is a list of
        reasoning items with `encrypted_content`; whether it was."""
        if not isinstance(value, list) or not value:
            return False
        kept = tuple(
            _kept(item)
            for item in value
            if isinstance(item, dict)
            and item_type(item) == REASONING
            and isinstance(item.get("encrypted_content"), str)
            and item["encrypted_content"]
        )
        if len(kept) != len(value):
            return False
        self._file(credential, [key], kept)
        return True

    def _fresh(self, where: tuple[str, str], now: float) -> bool:
        entry = self._entries.get(where)
        return entry is not None and now - entry.at < self._ttl

    def replay(self, credential: str, input_items: Sequence[Any]) -> tuple[list[Any], int]:
        """Before sending a full request: a new input list with the kept reasoning items put
        back before each assistant run that has none, and how many items were put back."""
        now = self._clock()
        self._expire(now)
        out: list[Any] = []
        count = 0
        done = 0
        for start, end in assistant_runs(input_items):
            out.extend(input_items[done:start])
            if start == 0 or item_type(input_items[start - 1]) != REASONING:
                found = self._lookup(credential, input_items[start:end], now)
                out.extend(dict(item) for item in found)
                count += len(found)
            out.extend(input_items[start:end])
            done = end
        out.extend(input_items[done:])
        return out, count

    def forget(self, credential: str, items: Iterable[Any]) -> int:
        """After `invalid_encrypted_content`: drop every entry of `credential` holding one of
        the reasoning items in `items` (e.g. the refused request's input); how many went."""
        refused = {item.get("encrypted_content") for item in items if item_type(item) == REASONING}
        gone = [
            where
            for where, entry in self._entries.items()
            if where[0] == credential
            and any(item["encrypted_content"] in refused for item in entry.items)
        ]
        for where in gone:
            del self._entries[where]
            self.backing.drop(Table.REASONING, shared_name(*where))  # rule 5
        return len(gone)

    def _keep_custom(self, credential: str, output: Sequence[Any]) -> None:
        now = self._clock()
        for item in output:
            call_id = item.get("call_id") if item_type(item) == CUSTOM_CALL else None
            if isinstance(call_id, str) and call_id:
                self._custom[credential, call_id] = now
                self._custom.move_to_end((credential, call_id))
        while len(self._custom) > self._cap:
            self._custom.popitem(last=False)

    def restore_custom_calls(self, credential: str, body: dict[str, Any]) -> dict[str, Any]:
        """Rule 4: `body` with its replayed custom tool calls in their own shape (the same
        object when there is nothing to restore; the given one is never changed)."""
        items = body.get("input")
        if not self._custom or not isinstance(items, list):
            return body
        now = self._clock()
        known = {
            call_id
            for item in items
            if item_type(item) in _FUNCTION_SHAPES
            and isinstance(call_id := item.get("call_id"), str)
            and now - self._custom.get((credential, call_id), -self._ttl) < self._ttl
        }
        if not known:
            return body
        return {**body, "input": [_as_custom(item, known) for item in items]}

    def _lookup(self, credential: str, run: Sequence[Any], now: float) -> tuple[Item, ...]:
        for key in _run_keys(run):
            entry = self._entries.get((credential, key))
            if entry is not None and now - entry.at < self._ttl:
                entry.at = now
                self._entries.move_to_end((credential, key))
                return entry.items
        return ()

    def _expire(self, now: float) -> None:
        # Entries are in the order they were last used: the stale ones are at the front.
        while self._entries:
            entry = next(iter(self._entries.values()))
            if now - entry.at < self._ttl:
                return
            self._entries.popitem(last=False)


def _run_keys(run: Sequence[Any]) -> list[str]:
    """The keys an assistant run's reasoning is filed under (rule 3)."""
    calls = [item.get("call_id") for item in run if item_type(item) in CALL_PAYLOAD]
    return [_call_key(call_id) for call_id in calls] if calls else [_text_key(answer_text(run))]


def _runs_to_replay(items: Sequence[Any]) -> list[Sequence[Any]]:
    """The assistant runs of `items` that `replay` would put reasoning before (rule 3)."""
    return [
        items[start:end]
        for start, end in assistant_runs(items)
        if start == 0 or item_type(items[start - 1]) != REASONING
    ]
