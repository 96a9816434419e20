"""call/fingerprint.py: equal values, equal digests; any difference, another digest; any depth;
the same digest everywhere."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chat2responses.call.fingerprint import fingerprint


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"a": 1, "b": [1, 2]}, {"b": [1, 2], "a": 1}),  # key order aside
        ([], []),
        ("é", "é"),
        ({"x": {"y": None}}, {"x": {"y": None}}),
    ],
)
def test_equal_values_have_equal_fingerprints(a: Any, b: Any) -> None:
    assert fingerprint(a) == fingerprint(b) and len(fingerprint(a)) == 32


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (1, 1.0),
        (1, True),
        (0, False),
        (1, "1"),
        (None, "null"),
        ([1, 2], [2, 1]),
        (["ab"], ["a", "b"]),  # lengths keep strings apart
        ({"a": "b"}, {"ab": ""}),
        ({"a": [1]}, {"a": 1}),
        ([[1], 2], [[1, 2]]),  # where a list ends
        ({}, []),
        ("\ud800", "\udc00"),  # lone surrogates too
    ],
)
def test_different_values_have_different_fingerprints(a: Any, b: Any) -> None:
    assert fingerprint(a) != fingerprint(b)


def test_the_digest_is_the_same_everywhere() -> None:
    """Rule 2: no randomised hash (instances behind a load balancer, a shared store, agree): a
    digest fixed here must not change from one run, process or machine to another."""
    value = {"role": "user", "content": [{"type": "input_text", "text": "hi"}], "n": [1, 2.5]}
    assert fingerprint(value).hex() == (
        "e96b47e93d4258f4343ad2be1ac1f5669bb3b74ace26115374a214fe37badf52"
    )


def test_any_depth_is_walked() -> None:
    deep: Any = "bottom"
    for _ in range(100_000):
        deep = [deep]
    assert len(fingerprint(deep)) == 32


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(json_values, json_values)
@settings(max_examples=400, deadline=None)
def test_fingerprints_agree_with_canonical_json(a: Any, b: Any) -> None:
    """The oracle: two values have one fingerprint exactly when their canonical JSON (sorted
    keys) is one."""
    assert (fingerprint(a) == fingerprint(b)) == (canonical(a) == canonical(b))
