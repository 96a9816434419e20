"""The `reasoning` object and the encrypted reasoning asked back (request/reasoning.py), as
tables of literal cases; the whole request's reasoning is test_translate.py's table."""

from __future__ import annotations

from typing import Any

import pytest

from chat2responses.protocol.errors import ClientError
from chat2responses.request.reasoning import (
    ENCRYPTED_REASONING,
    drop_default_summary,
    settle_reasoning,
    with_encrypted_reasoning,
)
from chat2responses.upstream.catalog import Catalog
from chat2responses.upstream.profiles import CODEX, OPENAI, UpstreamProfile

CATALOG = Catalog.default()


@pytest.mark.parametrize(
    ("model", "explicit", "base", "expected"),
    [
        ("gpt-5.5", None, {}, {"effort": "medium", "summary": "auto"}),  # the catalog default
        ("gpt-5.5-high", None, {}, {"effort": "high", "summary": "auto"}),  # the name's suffix
        ("gpt-5.5-high", "low", {}, {"effort": "low", "summary": "auto"}),  # explicit wins
        ("gpt-5.5", "minimal", {}, {"effort": "low", "summary": "auto"}),  # clamped
        ("gpt-5.5", "low", {"summary": "detailed"}, {"effort": "low", "summary": "detailed"}),
        ("some-model", None, {}, {"summary": "auto"}),  # unknown: it may reason
        ("some-model", "none", {}, {"effort": "none"}),  # no summary without reasoning
        ("some-model", "xhigh", {}, {"effort": "xhigh", "summary": "auto"}),  # not clamped
    ],
)
def test_settle_reasoning(
    model: str, explicit: str | None, base: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert settle_reasoning(explicit, "reasoning_effort", CATALOG.match(model), base) == expected


def test_an_unknown_effort_is_a_400_naming_the_parameter() -> None:
    with pytest.raises(ClientError) as caught:
        settle_reasoning("loud", "reasoning.effort", CATALOG.match("gpt-5.5"), {})
    assert caught.value.param == "reasoning.effort"


@pytest.mark.parametrize(
    ("include", "reasoning", "profile", "expected"),
    [
        ([], {"effort": "low"}, OPENAI, [ENCRYPTED_REASONING]),
        ([], {"summary": "auto"}, OPENAI, []),  # no effort: nothing to carry
        ([], None, CODEX, [ENCRYPTED_REASONING]),  # a profile that always wants it
        ([ENCRYPTED_REASONING], {"effort": "low"}, OPENAI, [ENCRYPTED_REASONING]),  # once
        (["x"], {"effort": "low"}, OPENAI, ["x", ENCRYPTED_REASONING]),
    ],
)
def test_with_encrypted_reasoning(
    include: list[str],
    reasoning: dict[str, Any] | None,
    profile: UpstreamProfile,
    expected: list[str],
) -> None:
    before = list(include)
    assert with_encrypted_reasoning(include, reasoning, profile) == expected
    assert include == before  # the caller's list is not changed


LOW, DETAILED = {"effort": "low"}, {"summary": "detailed"}


@pytest.mark.parametrize(
    ("out", "asked", "expected"),
    [
        ({"reasoning": {"effort": "low", "summary": "auto"}}, None, {"reasoning": LOW}),
        ({"reasoning": {"summary": "auto"}}, None, {}),
        ({"reasoning": DETAILED}, DETAILED, {"reasoning": DETAILED}),
        ({}, None, {}),
    ],
)
def test_drop_default_summary_keeps_the_clients_own(
    out: dict[str, Any], asked: dict[str, Any] | None, expected: dict[str, Any]
) -> None:
    body = {"reasoning": asked} if asked is not None else {}
    drop_default_summary(out, body)
    assert out == expected
