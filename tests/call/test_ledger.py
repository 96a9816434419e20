"""The conversation ledger: turns numbered per conversation, a changed key followed, misses
explained against the previous turn, everything bounded."""

from __future__ import annotations

from typing import Any

from chat2responses.call.ledger import Ledger
from tests.records_helpers import fp, record

BIG = 4000


def turn(n: int, items: str, **kw: Any) -> Any:
    base: dict[str, Any] = {"id": f"f{n}", "at": 1000.0 + 10 * n, "input_tokens": BIG + 100 * n,
                            "cached_tokens": BIG + 100 * (n - 1) if n > 1 else 0,
                            "digests": fp(items)}  # fmt: skip
    return record(**(base | kw))


def test_turns_are_numbered_and_shown_up_to_each_call() -> None:
    ledger = Ledger()
    filed = [ledger.add(turn(n, "abcdef"[: 2 * n])) for n in (1, 2, 3)]
    assert [t.turn for t in filed] == [1, 2, 3]
    assert all(t.miss == () for t in filed)
    assert [t.id for t in ledger.conversation("f2")] == ["f1", "f2"]
    assert [t.id for t in ledger.conversation("f3")] == ["f1", "f2", "f3"]
    assert ledger.turn("f3") == filed[2]
    assert ledger.conversation("nope") == []


def test_a_changed_client_key_is_followed_and_named() -> None:
    ledger = Ledger()
    ledger.add(turn(1, "ab", key="k1", own_key=True))
    moved = ledger.add(turn(2, "abcd", key="k2", own_key=True, cached_tokens=0))
    assert moved.turn == 2
    assert moved.miss == ("conversation key changed (k1 → k2)",)
    assert [t.id for t in ledger.conversation("f2")] == ["f1", "f2"]
    # the new key is the conversation's too now
    assert ledger.add(turn(3, "abcdef", key="k2", own_key=True)).turn == 3


def test_changed_instructions_change_a_derived_key_and_say_so() -> None:
    ledger = Ledger()
    ledger.add(turn(1, "ab", key="c2r-1"))
    edited = ledger.add(turn(2, "abcd", key="c2r-2", cached_tokens=0,
                             digests=fp("abcd", instructions="now be long")))  # fmt: skip
    assert (edited.turn, edited.miss) == (2, ("instructions changed",))


def test_a_new_conversation_is_not_taken_for_an_old_one() -> None:
    ledger = Ledger()
    ledger.add(turn(1, "abcd", key="c2r-1"))
    # the same first message, but a shorter history: a conversation of its own
    fresh = ledger.add(turn(2, "a", key="c2r-2", cached_tokens=0))
    assert fresh.turn == 1 and fresh.miss == ()
    # another account never continues it
    other = ledger.add(turn(3, "abcdef", key="c2r-3", account="someone else", cached_tokens=0))
    assert other.turn == 1
    assert len(ledger) == 3


def test_an_idle_gap_longer_than_the_cache_lifetime() -> None:
    ledger = Ledger()
    ledger.add(turn(1, "ab"))
    late = ledger.add(turn(2, "abcd", at=1010.0 + 301 + 0.5, cached_tokens=0))
    assert late.miss == (
        "idle 301 s since the previous turn, longer than the cache lifetime (300 s)",
    )


def test_bounds() -> None:
    ledger = Ledger(conversations=2, turns=3)
    for n in range(1, 6):
        ledger.add(turn(n, "ab" + "x" * n, key="k"))
    assert [t.id for t in ledger.conversation("f5")] == ["f3", "f4", "f5"]
    assert ledger.conversation("f1") == []
    assert ledger.turn("f5") is not None and ledger.turn("f5").turn == 5  # type: ignore[union-attr]
    ledger.add(turn(6, "q", key="k6", id="g6"))
    ledger.add(turn(7, "r", key="k7", id="g7"))
    assert len(ledger) == 2
    assert ledger.conversation("f5") == []  # the least recently active went
    assert [t.id for t in ledger.conversation("g7")] == ["g7"]


def test_a_flow_filed_twice_is_filed_once() -> None:
    ledger = Ledger()
    first = ledger.add(turn(1, "ab"))
    assert ledger.add(turn(1, "ab")) == first
    assert len(ledger.conversation("f1")) == 1


def test_only_the_last_turn_keeps_its_digests() -> None:
    """Rule 2: memory stays bounded by the conversations, not by their turns' items."""
    ledger = Ledger()
    for n in (1, 2, 3):
        ledger.add(turn(n, "abcdef"[: 2 * n]))
    turns = ledger.conversation("f3")
    assert [len(t.digests.items) for t in turns] == [0, 0, 6]
    assert ledger.add(turn(4, "abcdefgh")).miss == ()  # still compared with turn 3
