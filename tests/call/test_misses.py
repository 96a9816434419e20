"""Why a turn's cache fell short: a table of two turns and what the addon says."""

from __future__ import annotations

from typing import Any

import pytest

from chat2responses.call.misses import (
    CACHE_LIFETIME,
    GRAIN,
    MIN_CACHEABLE,
    causes,
    explain,
    fell_short,
)
from tests.records_helpers import fp, record

BIG = 4000  # tokens: well above what is ever cached


def before(**kw: Any) -> Any:
    base: dict[str, Any] = {
        "id": "a",
        "at": 1000.0,
        "total_ms": 2000.0,
        "socket": 1,
        "input_tokens": BIG,
        "cached_tokens": 0,
        "digests": fp("ab"),
    }
    return record(**(base | kw))  # fmt: skip


def after(**kw: Any) -> Any:
    base: dict[str, Any] = {
        "id": "b",
        "at": 1010.0,
        "socket": 1,
        "input_tokens": BIG + 500,
        "cached_tokens": 0,
        "digests": fp("abcd"),
    }
    return record(**(base | kw))  # fmt: skip


@pytest.mark.parametrize(
    ("previous", "turn", "short"),
    [
        ({}, {"cached_tokens": BIG}, False),  # all of the previous prompt reused
        ({}, {"cached_tokens": BIG - GRAIN}, False),  # one step of 128 short: the cache's grain
        ({}, {"cached_tokens": int(BIG * 0.8)}, True),
        ({}, {"cached_tokens": 0}, True),
        ({}, {"cached_tokens": None}, False),  # no usage: nothing to judge
        ({"input_tokens": MIN_CACHEABLE - 1}, {"cached_tokens": 0}, False),  # never cached
        ({}, {"input_tokens": 900, "cached_tokens": 0}, False),  # this turn too small to cache
        ({"input_tokens": None}, {"cached_tokens": 0}, False),
    ],
)
def test_fell_short(previous: dict[str, Any], turn: dict[str, Any], short: bool) -> None:
    assert fell_short(before(**previous), after(**turn)) is short


FP_EDIT = fp("aXcd", kinds="uaoo")


@pytest.mark.parametrize(
    ("previous", "turn", "expected"),
    [
        ({}, {}, ("unknown",)),
        ({}, {"digests": fp("abcd", instructions="be long")}, ("instructions changed",)),
        ({}, {"digests": fp("abcd", tools="grep")}, ("tools changed",)),
        ({}, {"digests": FP_EDIT}, ("earlier input edited: item 2 (an assistant message) changed",)),  # noqa: E501
        ({"digests": fp("abcde")}, {"digests": fp("abc")}, ("earlier input removed: 2 items from item 4 on",)),  # noqa: E501
        ({"digests": fp("ab")}, {"digests": fp("a")}, ("earlier input removed: 1 item from item 2 on",)),  # noqa: E501
        ({}, {"digests": fp("abcd", model="gpt-5.4")}, ("model changed (gpt-5.5 → gpt-5.4)",)),
        # a key the client chose changed; a derived one changes only with the content
        ({"key": "k1", "own_key": True}, {"key": "k2", "own_key": True}, ("conversation key changed (k1 → k2)",)),  # noqa: E501
        ({"key": "c2r-1"}, {"key": "c2r-2"}, ("unknown",)),
        ({}, {"socket": 2}, ("socket changed (socket 1 → socket 2)",)),
        ({"route": "http", "socket": None}, {}, ("route changed (http → websocket)",)),
        ({}, {"instance": "host-2"}, ("instance changed (host-1 → host-2)",)),
        # the gap counts from the previous turn's end (at + total)
        ({}, {"at": 1002.0 + CACHE_LIFETIME + 1}, ("idle 301 s since the previous turn, longer than the cache lifetime (300 s)",)),  # noqa: E501
        ({}, {"at": 1002.0 + CACHE_LIFETIME - 1}, ("unknown",)),
        ({}, {"at": 1002.0 + 3600, "digests": fp("abcd", retention="24h")}, ("unknown",)),
        # several at once, in the rule's order; a new socket after a change is its consequence
        ({}, {"digests": fp("abcd", instructions="x", tools="y"), "socket": 5},
         ("instructions changed", "tools changed")),
        ({"key": "k1", "own_key": True}, {"key": "k2", "own_key": True, "socket": 5,
                                          "at": 2000.0},
         ("conversation key changed (k1 → k2)", "socket changed (socket 1 → socket 5)",
          "idle 998 s since the previous turn, longer than the cache lifetime (300 s)")),
        # a client chaining its own previous_response_id sends only new items: not compared
        ({}, {"digests": fp("z", chained=True)}, ("unknown",)),
    ],
)  # fmt: skip
def test_causes(previous: dict[str, Any], turn: dict[str, Any], expected: tuple[str, ...]) -> None:
    assert causes(before(**previous), after(**turn)) == expected


def test_explain_only_a_turn_that_fell_short() -> None:
    edited = after(digests=fp("abcd", instructions="new"))
    assert explain(None, edited) == ()
    assert explain(before(), after(cached_tokens=BIG)) == ()
    assert explain(before(), edited) == ("instructions changed",)
