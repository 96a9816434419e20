"""The request body's checks: JSON, size, UTF-8, non-finite numbers, surrogates, depth."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chat2responses.protocol.body import (
    MAX_BODY_BYTES,
    MAX_DEPTH,
    _locate,
    _structure_ok,
    check_structure,
    parse_json_body,
)
from chat2responses.protocol.errors import ClientError


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"model": "m"}', {"model": "m"}),
        ('\ufeff{"a": 1}'.encode(), {"a": 1}),
        (b'{"t": 0.5, "n": -1e300}', {"t": 0.5, "n": -1e300}),
        ('{"s": "\U0001f600 \\ud83d\\ude00"}'.encode(), {"s": "\U0001f600 \U0001f600"}),
        (b'\xef\xbb\xbf{"a": [1, 2.5, null, true]}', {"a": [1, 2.5, None, True]}),
    ],
)
def test_parse(raw: bytes, expected: dict[str, Any]) -> None:
    assert parse_json_body(raw) == expected


def nested(depth: int) -> bytes:
    return b'{"a":' * (depth - 1) + b"{}" + b"}" * (depth - 1)


@pytest.mark.parametrize(
    ("raw", "status", "message", "param"),
    [
        (None, 400, "not available", None),
        (b"", 400, "empty", None),
        (b"  \n", 400, "empty", None),
        (b"{", 400, "not valid JSON", None),
        (b"[1]", 400, "expected a JSON object, but got an array", "body"),
        (b'"hi"', 400, "but got a string instead", "body"),
        (b"null", 400, "but got null instead", "body"),
        (b"model=m", 400, "not valid JSON", None),
        (b"\xff{}", 400, "not valid UTF-8", None),
        (b'{"t": NaN}', 400, "NaN is not a JSON value", None),
        (b'{"t": -Infinity}', 400, "not a JSON value", None),
        (b'{"t": 1e999}', 400, "too large", None),
        (b'{"messages": [{"content": "a\\ud800b"}]}', 400, "lone UTF-16 surrogate", "messages[0].content"),  # noqa: E501
        (b'{"tools": [{"function": {"name": "\\udfff"}}]}', 400, "surrogate", "tools[0].function.name"),  # noqa: E501
        (b'{"\\ud800": 1}', 400, "surrogate", "\\ud800"),  # the name escaped: printable
        (b'{"a": {"b\\udc00c": 1}}', 400, "surrogate", "a.b\\udc00c"),
        (b'{"a": ["x", "\\uDBFF"]}', 400, "surrogate", "a[1]"),
        (nested(MAX_DEPTH + 1), 400, f"more than {MAX_DEPTH} levels", None),
        (nested(1480), 400, "levels", None),
        (nested(100_000), 400, "levels", None),
        (b" " * (MAX_BODY_BYTES + 1), 413, f"the limit is {MAX_BODY_BYTES}", None),
    ],
)  # fmt: skip
def test_refused(raw: bytes | None, status: int, message: str, param: str | None) -> None:
    with pytest.raises(ClientError) as caught:
        parse_json_body(raw)
    assert caught.value.status == status
    assert message in caught.value.message
    assert caught.value.param == param
    # What goes into the error body and the log line can be encoded (and so printed) as it is.
    caught.value.message.encode("utf-8")
    (caught.value.param or "").encode("utf-8")


def test_the_deepest_allowed_body_parses_and_encodes_again() -> None:
    body = parse_json_body(nested(MAX_DEPTH))
    assert json.dumps(body).count("{") == MAX_DEPTH


def test_a_paired_surrogate_escape_is_fine() -> None:
    assert parse_json_body(b'{"e": "\\ud83d\\ude00"}') == {"e": "\U0001f600"}


_TEXT = st.text(st.characters(codec=None), max_size=4) | st.sampled_from(["\ud800", "a\udfffb"])
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=12,
)


def _nested(value: Any, depth: int) -> Any:
    for _ in range(depth):
        value = [value]
    return value


@settings(max_examples=300, deadline=None)
@given(
    body=st.dictionaries(_TEXT, _JSON, max_size=4),
    surrogates=st.booleans(),
    depth=st.sampled_from([0, MAX_DEPTH - 2, MAX_DEPTH]),
)
def test_the_quick_walk_fails_exactly_where_the_naming_walk_raises(
    body: dict[str, Any], surrogates: bool, depth: int
) -> None:
    body = {**body, "deep": _nested({}, depth)}
    try:
        _locate(body, surrogates)
        raised = False
    except ClientError:
        raised = True
    assert _structure_ok(body, surrogates) is not raised
    if raised:
        with pytest.raises(ClientError):
            check_structure(body, surrogates=surrogates)


def _depth(value: Any) -> int:
    """The reference: the root container is at depth 1; a scalar adds nothing."""
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _chain(kinds: list[str]) -> Any:
    value: Any = "leaf"
    for kind in reversed(kinds):
        value = {"k": value, "s": "x"} if kind == "d" else ["x", value, 1]
    return value


@settings(max_examples=60, deadline=None)
@given(
    kinds=st.lists(st.sampled_from("dl"), min_size=MAX_DEPTH - 3, max_size=MAX_DEPTH + 3),
    siblings=st.integers(min_value=0, max_value=3),
)
def test_the_depth_check_agrees_with_the_reference_either_side_of_the_limit(
    kinds: list[str], siblings: int
) -> None:
    """Deep chains of dicts and lists, beside shallow siblings, at and around MAX_DEPTH."""
    body = {"model": "m", "deep": _chain(kinds), "wide": [{"a": [1]}] * siblings}
    raw = json.dumps(body).encode()
    if _depth(body) <= MAX_DEPTH:
        assert parse_json_body(raw) == body
    else:
        with pytest.raises(ClientError, match=f"more than {MAX_DEPTH} levels"):
            parse_json_body(raw)
