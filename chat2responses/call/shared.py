"""The pure side of shared state (`responses_state_url`): what the stores tell a backing store.

A few of the process's caches decide the bytes of a later turn's upstream request: the reasoning
kept for replay (replay.py), and the routes and refused summaries learned from upstreams
(memory.py). Mirrored in a store every instance reads, a conversation that moves to another
instance is sent exactly as its own instance would have sent it, and the upstream's prompt cache
keeps hitting. (A conversation's kept socket cannot move: a continued turn that moves is sent in
full, which is why its full request must not change.)

The stores stay pure and synchronous: they read only their own local tables, and tell a
`Backing` what they wrote or dropped; the I/O layer (transports/shared_state.py) pushes that to
Redis, and pulls what a call is about to need and the local tables lack (`ReasoningCache.wanted`,
then `absorb`), before the call's first attempt.

Rule 1: a name in the shared store is a digest of the local key (the credential digest and the
        conversation's entry, or the upstream and model): never a credential, prompt or answer.
Rule 2: values are JSON, at most MAX_VALUE_BYTES each (a larger one is not shared); each table
        has its bound: reasoning entries expire `ttl` seconds after they were kept, learned
        entries are at most `cap`.
Rule 3: a backing never blocks and never raises: `put` and `drop` only queue.
Pure: no I/O.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

MAX_VALUE_BYTES = 256 * 1024


class Table(StrEnum):
    REASONING = "reasoning"  # encrypted reasoning items per (credential, answer): replay.py
    LEARNED = "learned"  # routes and refused summaries per (upstream, model): memory.py


@dataclass(frozen=True, slots=True)
class TableBounds:
    ttl: float | None  # seconds an entry lives in the store (None: as long as the table)
    cap: int | None  # entries at most (None: the TTL bounds it)


BOUNDS = {
    Table.REASONING: TableBounds(ttl=3600.0, cap=None),
    Table.LEARNED: TableBounds(ttl=None, cap=4096),
}


class Backing(Protocol):
    """Where a store's writes go besides its own table (rule 3)."""

    def put(self, table: Table, name: str, value: Any) -> None: ...

    def drop(self, table: Table, name: str) -> None: ...


class NoBacking:
    """The default: the process's memory is the only store."""

    def put(self, table: Table, name: str, value: Any) -> None:
        return None

    def drop(self, table: Table, name: str) -> None:
        return None


NO_BACKING = NoBacking()


def shared_name(*parts: str) -> str:
    """The store's name for a local key made of `parts` (rule 1)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]
