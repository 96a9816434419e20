"""profiles: which backend a URL is, and what each backend's profile says."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest
from openai.types.responses.response_create_params import ResponseCreateParamsBase

from chat2responses.upstream.profiles import (
    CODEX,
    OPENAI,
    OPENAI_API,
    RESPONSES_LITE,
    UpstreamProfile,
    profile_for_url,
    response_create_frame,
)

URLS = [
    ("https://chatgpt.com/backend-api/codex", CODEX),
    ("https://chatgpt.com/backend-api/codex/responses", CODEX),
    ("wss://chatgpt.com/backend-api/codex/responses", CODEX),
    ("https://ChatGPT.com/some/other/path", CODEX),
    ("http://127.0.0.1:8765/backend-api/codex", CODEX),  # the emulator
    ("http://localhost:9000/prefix/backend-api/codex/responses", CODEX),
    ("127.0.0.1:8765/backend-api/codex", CODEX),  # no scheme
    ("https://api.openai.com/v1", OPENAI_API),
    ("https://API.openai.com/v1/responses", OPENAI_API),
    ("wss://api.openai.com/v1/responses", OPENAI_API),
    ("https://api.openai.com.example.net/v1", OPENAI),
    ("https://my-resource.openai.azure.com/openai/v1", OPENAI),
    ("https://chatgpt.com.example.net/v1", OPENAI),
    ("https://example.com/backend-api/other", OPENAI),
    ("", OPENAI),
]


@pytest.mark.parametrize(("url", "expected"), URLS)
def test_profile_for_url(url: str, expected: UpstreamProfile) -> None:
    assert profile_for_url(url) is expected


def test_codex_profile() -> None:
    assert CODEX.name == "codex"
    assert CODEX.requires_store_false is True
    assert CODEX.requires_instructions is True
    assert CODEX.service_tiers == frozenset({"priority"})
    assert dict(CODEX.service_tier_aliases) == {"fast": "priority"}
    assert CODEX.system_role_as == "developer"
    assert CODEX.always_include_reasoning is True
    assert {
        "max_output_tokens",
        "temperature",
        "top_p",
        "truncation",
        "user",
        "safety_identifier",
        "metadata",
        "stream_options",
    } <= CODEX.dropped_params
    # Refused wherever they appear, and reported as removed (codex-backend-2026.md §8).
    assert CODEX.refused_fields == {
        "prompt_cache_options",
        "prompt_cache_breakpoint",
        "prompt_cache_retention",
        "cache_control",
    }
    assert not CODEX.refused_fields & CODEX.dropped_params
    assert CODEX.client_identity is True and CODEX.compaction_by_trigger is True
    # What Codex itself sends must survive.
    assert (
        not {
            "model",
            "instructions",
            "input",
            "tools",
            "tool_choice",
            "parallel_tool_calls",
            "reasoning",
            "text",
            "include",
            "store",
            "prompt_cache_key",
            "service_tier",
        }
        & CODEX.dropped_params
    )


def test_openai_profile_keeps_what_the_api_supports() -> None:
    assert OPENAI.name == "openai"
    assert OPENAI.requires_store_false is False
    assert OPENAI.requires_instructions is False
    assert OPENAI.dropped_params == frozenset()
    assert OPENAI.service_tiers is None
    # The public API takes the prompt-cache fields; it gets no Codex identity and serves its own
    # /responses/compact.
    assert OPENAI.refused_fields == frozenset()
    assert OPENAI.client_identity is False and OPENAI.compaction_by_trigger is False
    assert OPENAI.system_role_as == "system"
    assert OPENAI.always_include_reasoning is False


@pytest.mark.parametrize("profile", [CODEX, OPENAI])
def test_dropped_params_are_real_responses_params(profile: UpstreamProfile) -> None:
    assert profile.dropped_params <= set(ResponseCreateParamsBase.__annotations__)


def test_profiles_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        CODEX.requires_instructions = False  # type: ignore[misc]


# --- transport facts and the response.create frame ---------------------------------------------


def test_transport_facts() -> None:
    assert CODEX.ws_drops == frozenset({"background"})
    assert OPENAI.ws_drops == frozenset({"background", "stream"})
    assert dict(CODEX.ws_headers) == {"openai-beta": "responses_websockets=2026-02-06"}
    assert dict(OPENAI.ws_headers) == {}
    assert CODEX.responses_lite is RESPONSES_LITE and OPENAI.responses_lite is None
    assert dict(RESPONSES_LITE.http_headers) == {"X-OpenAI-Internal-Codex-Responses-Lite": "true"}
    assert dict(RESPONSES_LITE.ws_client_metadata) == {
        "ws_request_header_x_openai_internal_codex_responses_lite": "true"
    }


BODY = {"model": "m", "input": [], "stream": True, "background": False, "store": False}
LITE_EXTRA = {"client_metadata": {"ws_request_header_x_openai_internal_codex_responses_lite": "1"}}

FRAMES = [
    (
        CODEX,
        BODY,
        None,
        {"type": "response.create", "model": "m", "input": [], "stream": True, "store": False},
    ),
    (OPENAI, BODY, None, {"type": "response.create", "model": "m", "input": [], "store": False}),
    (
        CODEX,
        {"model": "m", "type": "something", "client_metadata": {"a": "b"}},
        LITE_EXTRA,
        {
            "type": "response.create",
            "model": "m",
            "client_metadata": {
                "a": "b",
                "ws_request_header_x_openai_internal_codex_responses_lite": "1",
            },
        },
    ),
    (OPENAI, {"model": "m"}, LITE_EXTRA, {"type": "response.create", "model": "m", **LITE_EXTRA}),
]


@pytest.mark.parametrize(("profile", "body", "extra", "frame"), FRAMES)
def test_response_create_frame(
    profile: UpstreamProfile,
    body: dict[str, Any],
    extra: dict[str, Any] | None,
    frame: dict[str, Any],
) -> None:
    before = copy.deepcopy(body)
    built = response_create_frame(profile, body, extra)
    assert built == frame and next(iter(built)) == "type"
    assert body == before


@pytest.mark.parametrize(
    ("model", "only"),
    [
        ("gpt-5-codex", True),
        ("gpt-5.1-codex-mini", True),
        ("gpt-5.1-codex-max", True),
        ("codex-mini-latest", True),
        (" GPT-5-Codex ", True),
        ("gpt-5", False),
        ("gpt-5.1", False),
        ("gpt-4o", False),
        ("o3", False),
        ("o3-pro", False),
        ("gpt-5-pro", False),
        ("openai/gpt-5-codex", False),
    ],
)
def test_the_apis_responses_only_models(model: str, only: bool) -> None:
    assert OPENAI_API.serves_only_responses(model) is only
    assert OPENAI.serves_only_responses(model) is False  # another upstream may serve it by chat
    assert CODEX.serves_only_responses(model) is False


def test_the_openai_api_has_openais_body_rules() -> None:
    assert dataclasses.replace(OPENAI_API, name="openai", responses_only=()) == OPENAI
