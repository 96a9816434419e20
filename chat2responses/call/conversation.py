"""Conversations: continuing a chat client's resent history on its kept WebSocket with
`previous_response_id` and only the new items (reference/openai-protocols.md §4.4).

Owns the conversation key and the bounded store of each conversation's last turn; what a chat
client's replay is compared with is units.py's (its rules 1 and 2). Must not do I/O, hold a
clock of its own (it is injected: monotonic seconds), open or close sockets (a socket is an
opaque handle the driver gives and takes back), or continue on a doubt: no plan means the full
request, which is always right.

Rule 1 (key): a conversation is the client's own `prompt_cache_key`, else a digest of what stays
        fixed across its turns: upstream, credential digest, model, instructions (Lite: the
        leading developer/system messages and `additional_tools` item), tools and the first
        other input item. Records are kept per (upstream, credential, key): two users never
        share one, even under the same client-chosen key.
Rule 2 (fields): every body field but `input`, `previous_response_id`, `stream`,
        `prompt_cache_key`, `type` and `generate` (a warm-up's) must be equal (one canonical
        digest), as codex demands.
Rule 3 (items): the new input's units (units.py rule 1) must begin with those of the remembered
        input followed by the replayed output (units.py rule 2), and have at least one more.
Rule 4 (plan): besides rules 2 and 3: the record younger than `idle_ttl`, its socket younger than
        `max_age` and usable (`socket_usable`: open and idle, the driver says), the upstream not
        disabled. A plan takes the record (and its socket): `remember`, after the continued
        response completes, puts the next one back.
Rule 5 (bounds): at most `cap` records, least recently remembered go first; records idle for
        `idle_ttl` or whose socket reached `max_age` go too. One socket serves one record: a
        turn remembered on a socket drops any other record on it (its server state moved on).
        Every handle the store stops holding is returned once by `evicted()`.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chat2responses.call.fingerprint import fingerprint
from chat2responses.call.units import item_type, plain, replayed, units

# --- the key (rule 1) and the fields (rule 2) ----------------------------------------------------

_INSTRUCTION_ROLES = frozenset({"developer", "system"})
_NOT_FIELDS = frozenset(
    {"input", "previous_response_id", "stream", "prompt_cache_key", "type", "generate"}
)


def conversation_key(body: Mapping[str, Any], *, upstream: str, credential: str) -> str:
    """The conversation `body` belongs to (rule 1). `credential` is a digest, never a secret."""
    own = body.get("prompt_cache_key")
    if isinstance(own, str) and own:
        return own
    items = body.get("input")
    if not isinstance(items, list):
        items = [items] if isinstance(items, str) else []
    head: list[object] = []  # the instruction items, then the first other one
    for item in items:
        head.append(plain(item))
        kind = item_type(item)
        role = item.get("role") if isinstance(item, dict) else None
        if not (kind == "additional_tools" or (kind == "message" and role in _INSTRUCTION_ROLES)):
            break
    fixed = [
        upstream,
        credential,
        str(body.get("model")).lower(),
        body.get("instructions"),
        body.get("tools"),
        head,
    ]
    return "c2r-" + fingerprint(fixed).hex()[:32]


def _fields_digest(body: Mapping[str, Any]) -> bytes:
    fields = {key: value for key, value in body.items() if key not in _NOT_FIELDS}
    return fingerprint(fields)


def _prefix_digest(found: Sequence[tuple[bytes, int]], count: int) -> bytes:
    digest = hashlib.sha256()
    for data, _ in found[:count]:
        digest.update(data)
        digest.update(b"\x1e")
    return digest.digest()


# --- the store (rules 4 and 5) -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Continuation:
    """Send `new_items` on `socket` with `previous_response_id` (the body: `body(full)`)."""

    socket: object
    previous_response_id: str
    new_items: list[Any]
    full_items_count: int  # how many items the full request has (for the call summary)

    def body(self, full: Mapping[str, Any]) -> dict[str, Any]:
        """The continued request: `full` (the translated body) with only the new items."""
        return {
            **full,
            "previous_response_id": self.previous_response_id,
            "input": list(self.new_items),
        }


@dataclass(frozen=True, slots=True)
class _Record:
    socket: object
    socket_opened_at: float
    fields: bytes  # rule 2's digest
    prefix: bytes  # digest of the units of input + replayed output
    units: int  # how many units that is
    response_id: str
    at: float  # when it was remembered


_Where = tuple[str, str, str]  # (upstream, credential, conversation key)


class ConversationStore:
    """Each conversation's last completed turn on a kept socket (rules 4 and 5)."""

    def __init__(
        self,
        cap: int = 64,  # each record holds one idle socket
        idle_ttl: float = 300.0,  # agents come back within seconds of a tool result
        max_age: float = 55 * 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cap = cap
        self._idle_ttl = idle_ttl
        self._max_age = max_age
        self._clock = clock
        self._records: OrderedDict[_Where, _Record] = OrderedDict()
        self._by_socket: dict[int, _Where] = {}  # id(socket) → its record
        self._dropped: list[object] = []
        self._disabled: set[str] = set()

    def __len__(self) -> int:
        return len(self._records)

    def remember(
        self,
        key: str,
        *,
        upstream: str,
        credential: str,
        body: Mapping[str, Any],
        response_id: str,
        output: Sequence[Any],
        socket: object,
        socket_opened_at: float,
    ) -> None:
        """After a completed response: `body` is the FULL request as translated (never the
        continued one), `output` the upstream's output items as received (`output_item.done`
        items, or `response.completed.output` when that is not empty)."""
        now = self._clock()
        where = (upstream, credential, key)
        old = self._records.get(where)
        self._drop(where, keep_socket=old is not None and old.socket is socket)
        other = self._by_socket.get(id(socket))
        if other is not None:
            self._drop(other, keep_socket=True)
        items = body.get("input")
        if upstream in self._disabled or not isinstance(items, list):
            self._dropped.append(socket)
            return
        found = units([*items, *replayed(output)])
        self._records[where] = _Record(
            socket,
            socket_opened_at,
            _fields_digest(body),
            _prefix_digest(found, len(found)),
            len(found),
            response_id,
            now,
        )
        self._by_socket[id(socket)] = where
        self._expire(now)
        while len(self._records) > self._cap:
            self._drop(next(iter(self._records)))

    def plan(
        self,
        key: str,
        body: Mapping[str, Any],
        *,
        upstream: str,
        credential: str,
        socket_usable: Callable[[object], bool],
    ) -> Continuation | None:
        """Before sending `body` (the full translated request): a continuation, or None to send
        it in full. A continuation takes the record and hands its socket over."""
        now = self._clock()
        self._expire(now)
        where = (upstream, credential, key)
        record = self._records.get(where)
        if record is None or upstream in self._disabled:
            return None
        if now - record.socket_opened_at >= self._max_age:
            self._drop(where)
            return None
        items = body.get("input")
        if record.units == 0 or not isinstance(items, list):
            return None
        if _fields_digest(body) != record.fields:
            return None
        found = units(items)
        if len(found) <= record.units or _prefix_digest(found, record.units) != record.prefix:
            return None
        if not socket_usable(record.socket):
            return None
        self._drop(where, keep_socket=True)
        start = found[record.units - 1][1]
        return Continuation(record.socket, record.response_id, items[start:], len(items))

    def forget(self, key: str, *, upstream: str, credential: str) -> None:
        """Drop a conversation's record (after `previous_response_not_found`, or any doubt)."""
        self._drop((upstream, credential, key))

    def disable(self, upstream: str) -> None:
        """Continuation stops on `upstream` for the life of the store (empty or broken
        continued responses); its records go."""
        self._disabled.add(upstream)
        for where in [where for where in self._records if where[0] == upstream]:
            self._drop(where)

    def enabled(self, upstream: str) -> bool:
        return upstream not in self._disabled

    def evicted(self) -> list[object]:
        """The socket handles the store stopped holding since the last call (evicted, expired,
        forgotten, replaced). The store never closes a socket: close each one you do not use
        otherwise. Call it after `remember`/`plan`/`forget`, or on a timer (it expires first)."""
        now = self._clock()
        self._expire(now)
        for where, record in list(self._records.items()):
            if now - record.socket_opened_at >= self._max_age:
                self._drop(where)
        dropped, self._dropped = self._dropped, []
        return dropped

    def expires_in(self) -> float | None:
        """Seconds until the first record idles out or its socket ages out (None: no record):
        when an I/O timer should call `evicted()` (rule 5), so that the sockets of a store no
        call touches any more are closed on time too."""
        if not self._records:
            return None
        now = self._clock()
        first_idle = next(iter(self._records.values())).at + self._idle_ttl
        first_old = min(r.socket_opened_at for r in self._records.values()) + self._max_age
        return max(0.0, min(first_idle, first_old) - now)

    def _expire(self, now: float) -> None:
        # Records are in the order they were remembered: the idle ones are at the front.
        while self._records:
            where, record = next(iter(self._records.items()))
            if now - record.at < self._idle_ttl:
                return
            self._drop(where)

    def _drop(self, where: _Where, *, keep_socket: bool = False) -> None:
        record = self._records.pop(where, None)
        if record is None:
            return
        if self._by_socket.get(id(record.socket)) == where:
            del self._by_socket[id(record.socket)]
        if not keep_socket:
            self._dropped.append(record.socket)
