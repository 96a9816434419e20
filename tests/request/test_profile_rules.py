"""profile_rules: the refused cache fields taken out on the Codex backend and passed on to the
OpenAI API, and the service tier checked against the catalog."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from chat2responses.protocol.errors import ClientError
from chat2responses.request.profile_rules import remove_refused
from chat2responses.request.translate import translate_request
from chat2responses.upstream.catalog import Catalog
from chat2responses.upstream.profiles import CODEX, OPENAI, OPENAI_API, UpstreamProfile

CATALOG = Catalog.default()
CACHED_PART = {"type": "input_text", "text": "big", "prompt_cache_breakpoint": {"mode": "x"}}
CACHE_FIELDS: dict[str, Any] = {
    "prompt_cache_options": {"mode": "explicit", "ttl": "1h"},
    "prompt_cache_retention": "24h",
    "cache_control": {"type": "ephemeral"},
}


def responses_body(**extra: Any) -> dict[str, Any]:
    return {
        "model": "gpt-5.5",
        "input": [
            {"type": "message", "role": "user", "content": [CACHED_PART]},
            {"type": "message", "role": "user", "content": "hi", "cache_control": {"t": 1}},
        ],
        "tools": [
            {"type": "function", "name": "f", "parameters": {}, "cache_control": {"t": 1}},
        ],
        **extra,
    }


def translate(body: dict[str, Any], profile: UpstreamProfile) -> Any:
    before = copy.deepcopy(body)
    result = translate_request(body, catalog=CATALOG, profile=profile, responses_api=True)
    assert body == before, "the client's body is never changed"
    return result


def test_the_codex_backend_gets_none_of_the_cache_fields_wherever_they_were() -> None:
    result = translate(responses_body(**CACHE_FIELDS), CODEX)
    text = repr(result.body)
    for name in ("prompt_cache_options", "prompt_cache_retention", "cache_control"):
        assert name not in text
    assert "prompt_cache_breakpoint" not in text
    assert result.body["input"][0]["content"] == [{"type": "input_text", "text": "big"}]
    assert set(result.removed) == {*CACHE_FIELDS, "prompt_cache_breakpoint"}
    # A top-level cache_control is no Responses field on any upstream: dropped as a leftover.
    assert result.dropped == ("cache_control",)


@pytest.mark.parametrize("profile", [OPENAI, OPENAI_API])
def test_the_openai_api_gets_the_first_three(profile: UpstreamProfile) -> None:
    body = responses_body(**CACHE_FIELDS)
    result = translate(body, profile)
    assert result.body["prompt_cache_options"] == CACHE_FIELDS["prompt_cache_options"]
    assert result.body["prompt_cache_retention"] == "24h"
    assert result.body["input"][0]["content"] == [CACHED_PART]
    assert result.removed == ()


def test_a_chat_client_s_cache_fields_go_the_same_way() -> None:
    chat = {
        "model": "gpt-5.5",
        "messages": [{"role": "user", "content": "hi"}],
        "prompt_cache_retention": "24h",
        "prompt_cache_options": {"mode": "explicit"},
    }
    on_codex = translate_request(chat, catalog=CATALOG, profile=CODEX)
    assert set(on_codex.removed) == {"prompt_cache_retention", "prompt_cache_options"}
    assert "prompt_cache_retention" not in on_codex.body
    on_api = translate_request(chat, catalog=CATALOG, profile=OPENAI_API)
    assert on_api.body["prompt_cache_options"] == {"mode": "explicit"}


def test_a_removed_field_is_named_as_the_client_sent_it() -> None:
    # An upstream that refuses `max_output_tokens` wherever it is: the chat client sent max_tokens.
    strict = dataclasses.replace(OPENAI, refused_fields=frozenset({"max_output_tokens"}))
    chat = {"model": "gpt-5.5", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 99}
    result = translate_request(chat, catalog=CATALOG, profile=strict)
    assert result.removed == ("max_tokens",) and "max_output_tokens" not in result.body


def test_removing_copies_only_what_changes() -> None:
    untouched = {"type": "message", "role": "user", "content": [{"type": "input_text"}]}
    out = {"input": [untouched, {"type": "additional_tools", "tools": [{"cache_control": 1}]}]}
    assert remove_refused(out, CODEX.refused_fields) == ["cache_control"]
    assert out["input"][0] is untouched
    assert out["input"][1]["tools"] == [{}]
    assert remove_refused({"input": "hi"}, frozenset()) == []


# (model, asked) → (sent, dropped) on the Codex backend; the catalog lists the tiers
TIERS = [
    ("gpt-5.5", "priority", "priority", ()),
    ("gpt-5.5", "fast", "priority", ()),  # Cursor's name for it
    ("gpt-5.5", "flex", "flex", ()),
    ("gpt-5.6-sol", "ultrafast", "ultrafast", ()),
    ("gpt-5.5", "auto", None, ("service_tier",)),
    ("gpt-5.5", "default", None, ("service_tier",)),
    ("some-unknown-model", "priority", "priority", ()),  # the profile's own list
    ("some-unknown-model", "fast", "priority", ()),
    ("some-unknown-model", "flex", None, ("service_tier",)),
]


@pytest.mark.parametrize(("model", "asked", "sent", "dropped"), TIERS)
def test_the_service_tier_is_sent_as_the_catalog_allows(
    model: str, asked: str, sent: str | None, dropped: tuple[str, ...]
) -> None:
    body = {"model": model, "input": "hi", "service_tier": asked}
    result = translate(body, CODEX)
    assert result.body.get("service_tier") == sent
    assert result.dropped == dropped


@pytest.mark.parametrize(
    ("model", "asked", "allowed"),
    [
        ("gpt-5.5", "ultrafast", "'auto', 'default', 'priority', 'flex'"),
        ("gpt-6-astra", "flex", "'auto', 'default', 'priority'"),
        ("codex-auto-review", "priority", "'auto', 'default'"),
        ("gpt-5.5", "turbo", "'auto', 'default', 'priority', 'flex'"),
    ],
)
def test_a_tier_the_model_does_not_offer_is_a_400_naming_the_allowed_ones(
    model: str, asked: str, allowed: str
) -> None:
    with pytest.raises(ClientError) as caught:
        translate({"model": model, "input": "hi", "service_tier": asked}, CODEX)
    err = caught.value
    assert (err.status, err.param, err.code) == (400, "service_tier", "invalid_value")
    assert err.message == f"Invalid value for 'service_tier': '{asked}'. {model} offers: {allowed}."


def test_the_openai_api_takes_any_tier_the_catalog_lists_and_auto() -> None:
    result = translate({"model": "gpt-5.5", "input": "hi", "service_tier": "auto"}, OPENAI_API)
    assert result.body["service_tier"] == "auto"
    with pytest.raises(ClientError):
        translate({"model": "gpt-5.5", "input": "hi", "service_tier": "turbo"}, OPENAI_API)


def test_an_alias_of_an_unspecific_tier_is_sent_as_that_tier() -> None:
    aliased = dataclasses.replace(OPENAI_API, service_tier_aliases=(("standard", "default"),))
    result = translate({"model": "gpt-5.5", "input": "hi", "service_tier": "standard"}, aliased)
    assert result.body["service_tier"] == "default" and result.dropped == ()
