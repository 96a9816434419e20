"""Calls and tokens per person (call/people.py): what the status shows of each caller."""

from __future__ import annotations

from chat2responses.call.people import People
from chat2responses.call.record import Usage, usage_of


def test_calls_and_tokens_add_up_per_person_and_failures_count_too() -> None:
    people = People()
    people.count("bob", ok=True, tokens=Usage(100, 10, cached=60))
    people.count("alice", ok=True, tokens=Usage(50, 5))
    people.count("bob", ok=False, tokens=None)
    people.count("bob", ok=True, tokens=Usage(200, 20, cached=150, reasoning=7))
    assert people.lines() == [
        "calls by person (this instance, since it started):",
        "  alice: 1 call, tokens 50 in / 5 out",
        "  bob: 3 calls (1 failed), tokens 300 in (210 cached) / 30 out",
    ]


def test_nobody_yet_means_no_lines() -> None:
    assert People().lines() == []


def test_the_least_recently_counted_person_goes_first_past_the_cap() -> None:
    people = People(cap=2)
    for name in ("a", "b", "a", "c"):
        people.count(name, ok=True, tokens=None)
    assert list(people.tallies) == ["a", "c"]


def test_usage_of_either_api_reads_as_the_same_numbers() -> None:
    chat = {
        "prompt_tokens": 12,
        "completion_tokens": 30,
        "prompt_tokens_details": {"cached_tokens": 4},
        "completion_tokens_details": {"reasoning_tokens": 10},
    }
    responses = {
        "input_tokens": 12,
        "output_tokens": 30,
        "input_tokens_details": {"cached_tokens": 4},
        "output_tokens_details": {"reasoning_tokens": 10},
    }
    assert usage_of(chat) == usage_of(responses) == Usage(12, 30, 4, 10)
    assert usage_of(None) is None and usage_of({"prompt_tokens": "x"}) is None
