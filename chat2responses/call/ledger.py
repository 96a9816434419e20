"""The conversations this process served, turn by turn: what the Conversation view and the miss
explanations read.

Owns the bounded record of finished calls grouped into conversations (`Ledger`). A call's record
goes in when its flow ends (or when mitmproxy loads a saved flow that carries one); the ledger
numbers it within its conversation and explains a cache miss against the previous turn
(call/misses.py). Must not hold a prompt or an answer (records hold none: call/record.py), nor
grow without bound. Pure: no I/O, no clock.

Rule 1 (conversations): a conversation is first its key (call/conversation.py rule 1), per
        upstream and account. A turn whose key is new continues an earlier conversation of the
        same upstream and account when it resends that conversation's last request: the same
        first item, and at least as many items (a changed key, or changed instructions, which
        change a derived key, must not hide the miss they cause). Only the RECENT most recently
        active conversations are searched.
Rule 2 (bounds): at most `conversations` conversations (the least recently active go first), at
        most `turns` turns each (the oldest go first; the numbering goes on). Only a
        conversation's last turn keeps its digests (call/digests.py: a few per input item, what
        the next turn is compared with); the earlier turns let theirs go.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field, replace
from itertools import islice

from chat2responses.call.digests import Digests
from chat2responses.call.misses import explain
from chat2responses.call.record import CallRecord

RECENT = 32


@dataclass(slots=True)
class _Conversation:
    number: int
    turns: deque[CallRecord]
    count: int = 0  # turns ever added (the next turn's number is count + 1)
    keys: set[tuple[str, str, str]] = field(default_factory=set)


class Ledger:
    """The last turns of the last conversations (module rules)."""

    def __init__(self, *, conversations: int = 64, turns: int = 200) -> None:
        self._cap = conversations
        self._turns = turns
        self._next = 0
        self._conversations: OrderedDict[int, _Conversation] = OrderedDict()
        self._by_key: dict[tuple[str, str, str], int] = {}
        self._by_id: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._conversations)

    def add(self, record: CallRecord) -> CallRecord:
        """File `record`; returns it numbered in its conversation, with its miss explained."""
        if record.id in self._by_id:  # a flow seen again (loaded twice): as filed
            return self.turn(record.id) or record
        where = (record.upstream, record.account, record.key)
        conversation = self._find(where, record)
        previous = conversation.turns[-1] if conversation.turns else None
        conversation.count += 1
        filed = replace(record, turn=conversation.count, miss=explain(previous, record))
        if previous is not None:  # rule 2: compared with for the last time
            conversation.turns[-1] = replace(previous, digests=Digests())
        if len(conversation.turns) == conversation.turns.maxlen:
            self._by_id.pop(conversation.turns[0].id, None)
        conversation.turns.append(filed)
        conversation.keys.add(where)
        self._by_key[where] = conversation.number
        self._by_id[filed.id] = conversation.number
        self._conversations.move_to_end(conversation.number)
        while len(self._conversations) > self._cap:
            self._drop(next(iter(self._conversations)))
        return filed

    def conversations(self) -> list[list[CallRecord]]:
        """Every conversation kept, its turns oldest first, the earliest conversation first."""
        kept = [list(c.turns) for c in self._conversations.values() if c.turns]
        return sorted(kept, key=lambda turns: turns[0].at)

    def turn(self, flow_id: str) -> CallRecord | None:
        """The filed record of the flow `flow_id`, while the ledger keeps it."""
        turns = self.conversation(flow_id)
        return turns[-1] if turns else None

    def conversation(self, flow_id: str) -> list[CallRecord]:
        """The turns of `flow_id`'s conversation up to and including its own (empty when the
        ledger no longer holds it)."""
        number = self._by_id.get(flow_id)
        conversation = self._conversations.get(number) if number is not None else None
        if conversation is None:
            return []
        shown: list[CallRecord] = []
        for turn in conversation.turns:
            shown.append(turn)
            if turn.id == flow_id:
                return shown
        return []

    def _find(self, where: tuple[str, str, str], record: CallRecord) -> _Conversation:
        number = self._by_key.get(where)
        if number is not None and number in self._conversations:
            return self._conversations[number]
        for candidate in islice(reversed(self._conversations.values()), RECENT):
            last = candidate.turns[-1] if candidate.turns else None
            if last is not None and _continues(last, record):
                return candidate
        self._next += 1
        conversation = _Conversation(self._next, deque(maxlen=self._turns))
        self._conversations[self._next] = conversation
        return conversation

    def _drop(self, number: int) -> None:
        conversation = self._conversations.pop(number)
        for where in conversation.keys:
            if self._by_key.get(where) == number:
                del self._by_key[where]
        for turn in conversation.turns:
            self._by_id.pop(turn.id, None)


def _continues(last: CallRecord, record: CallRecord) -> bool:
    """Rule 1: `record` resends the request of `last`, whatever its key."""
    if (last.upstream, last.account) != (record.upstream, record.account):
        return False
    before, now = last.digests, record.digests
    if before.chained or now.chained or not before.items or not now.items:
        return False
    return now.items[0] == before.items[0] and len(now.items) >= len(before.items)
