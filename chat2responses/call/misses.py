"""Why a turn's prompt cache fell short: what changed since the conversation's previous turn.

Owns the test of a miss (`fell_short`) and its explanation (`causes`), from two `CallRecord`s and
what the addon saw of them (call/digests.py). Must not guess past what it saw: where none of
the causes below holds, the cause is "unknown".

Rule 1 (a miss): a faithful next turn resends the previous request and appends to it, so the
        upstream can serve from its cache about as many tokens as the previous turn's input.
        A turn misses when its cached tokens fall short of that (or of its own input, if that is
        smaller) by more than SLACK of it and more than GRAIN tokens (OpenAI caches in steps of
        128 tokens); a prompt under MIN_CACHEABLE tokens is never cached, so never a miss.
        The first turn of a conversation has nothing to miss.
Rule 2 (causes), in this order, each that holds: the proxy instance changed; the model changed;
        the instructions changed; the tools changed; an earlier item was edited (the first one
        that differs, named) or earlier items were removed; the client's own conversation key
        changed (a key the addon derives changes only with the content above); the route or the
        WebSocket changed (a new socket may reach another server, whose cache is cold), unless
        the content changed (which alone sends a conversation to a new socket); the gap since
        the previous turn ended is longer than the cache lifetime. None: "unknown".
Rule 3 (lifetime): the backend keeps a cached prefix CACHE_LIFETIME seconds after its last use
        (OpenAI: 5 to 10 minutes of inactivity, up to an hour off-peak: the shortest is taken),
        or a day under `prompt_cache_retention: "24h"`.
Pure: no I/O, no clock.
"""

from __future__ import annotations

from chat2responses.call.digests import describe_item
from chat2responses.call.record import CallRecord

MIN_CACHEABLE = 1024  # tokens: OpenAI caches prompts of 1024 tokens or more
GRAIN = 128  # tokens: cache hits come in steps of this many
SLACK = 0.1  # of the expected cached tokens
CACHE_LIFETIME = 5 * 60.0  # seconds (rule 3)
EXTENDED_LIFETIME = 24 * 3600.0
UNKNOWN = "unknown"


def fell_short(previous: CallRecord, turn: CallRecord) -> bool:
    """Rule 1: whether `turn`'s cached tokens fell short of what `previous` left in the cache."""
    if previous.input_tokens is None or turn.input_tokens is None or turn.cached_tokens is None:
        return False
    expected = min(previous.input_tokens, turn.input_tokens)
    if expected < MIN_CACHEABLE:
        return False
    return expected - turn.cached_tokens > max(GRAIN, SLACK * expected)


def lifetime(turn: CallRecord) -> float:
    """Rule 3."""
    return EXTENDED_LIFETIME if turn.digests.retention == "24h" else CACHE_LIFETIME


def causes(previous: CallRecord, turn: CallRecord) -> tuple[str, ...]:
    """Rule 2: what changed between `previous` and `turn` that can make a cache miss."""
    before, now = previous.digests, turn.digests
    changed: list[str] = []  # what the turn is made of, or who served it
    if previous.instance and turn.instance and previous.instance != turn.instance:
        changed.append(f"instance changed ({previous.instance} → {turn.instance})")
    if before.model and now.model and before.model != now.model:
        changed.append(f"model changed ({before.model} → {now.model})")
    if before.instructions != now.instructions:
        changed.append("instructions changed")
    if before.tools != now.tools:
        changed.append("tools changed")
    edit = _edit(previous, turn)
    if edit:
        changed.append(edit)
    found = list(changed)
    if previous.key != turn.key and (previous.own_key or turn.own_key):
        found.append(f"conversation key changed ({_short(previous.key)} → {_short(turn.key)})")
    if not changed:  # else the change itself sent the turn elsewhere
        found.extend(_connection(previous, turn))
    gap = turn.at - previous.ended_at
    if gap > lifetime(turn):
        found.append(
            f"idle {gap:.0f} s since the previous turn, longer than the cache lifetime "
            f"({lifetime(turn):.0f} s)"
        )
    return tuple(found) or (UNKNOWN,)


def explain(previous: CallRecord | None, turn: CallRecord) -> tuple[str, ...]:
    """The causes of `turn`'s miss (rules 1, 2), or () when it did not miss."""
    if previous is None or not fell_short(previous, turn):
        return ()
    return causes(previous, turn)


def _edit(previous: CallRecord, turn: CallRecord) -> str:
    """The first earlier item that differs, or the earlier items removed (rule 2)."""
    before, now = previous.digests, turn.digests
    if before.chained or now.chained:
        return ""  # rule 3 of digests.py: the items are only the new ones
    for index, (old, new) in enumerate(zip(before.items, now.items, strict=False)):
        if old != new:
            return f"earlier input edited: {describe_item(now.kinds, index)} changed"
    if len(now.items) < len(before.items):
        removed = len(before.items) - len(now.items)
        return (
            f"earlier input removed: {removed} item{'s' if removed != 1 else ''} "
            f"from item {len(now.items) + 1} on"
        )
    return ""


def _connection(previous: CallRecord, turn: CallRecord) -> list[str]:
    if previous.route != turn.route:
        return [f"route changed ({previous.route} → {turn.route})"]
    if turn.socket is not None and previous.socket is not None and turn.socket != previous.socket:
        return [f"socket changed (socket {previous.socket} → socket {turn.socket})"]
    return []


def _short(key: str) -> str:
    return key if len(key) <= 24 else key[:20] + "…"
