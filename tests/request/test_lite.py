"""translate_lite: the Responses-Lite request shape, through `translate_request` (which decides
when a body takes it) and as the module's own functions."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from chat2responses.protocol.errors import ClientError
from chat2responses.request.lite import lite_marker, to_responses_lite
from chat2responses.request.translate import Translation, translate_request
from chat2responses.upstream.profiles import CODEX, OPENAI, RESPONSES_LITE, UpstreamProfile
from tests.request.test_responses_shape import FLAT_TOOL
from tests.request.test_translate import (
    CATALOG,
    FN,
    GET_WEATHER,
    HI,
    NO_ARGS,
    SQL_TOOL,
    SQL_UPSTREAM,
    USER_HI,
)

LITE_HEADERS = {"X-OpenAI-Internal-Codex-Responses-Lite": "true"}
LITE_WS = {"client_metadata": {"ws_request_header_x_openai_internal_codex_responses_lite": "true"}}


def lite_translate(body: dict[str, Any], profile: UpstreamProfile = CODEX) -> Translation:
    before = copy.deepcopy(body)
    result = translate_request(body, catalog=CATALOG, profile=profile)
    assert body == before
    return result


def test_responses_lite_shape_for_a_chat_body() -> None:
    body = {
        "model": "gpt-5.6-terra",
        "messages": [{"role": "system", "content": "Be brief."}, USER_HI],
        "tools": [FN, SQL_TOOL],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
    }
    result = lite_translate(body)
    flat_fn = {"type": "function", "name": "f", "parameters": NO_ARGS, "strict": False}
    assert result.body == {
        "model": "gpt-5.6-terra",
        "input": [
            {"type": "additional_tools", "role": "developer", "tools": [flat_fn, SQL_UPSTREAM]},
            {
                "type": "message",
                "role": "developer",
                "content": [{"type": "input_text", "text": "Be brief."}],
            },
            HI,
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "reasoning": {"effort": "medium", "summary": "auto", "context": "all_turns"},
        "include": ["reasoning.encrypted_content"],
        "store": False,
        "stream": True,
    }
    assert result.responses_lite is True
    assert dict(result.http_headers) == LITE_HEADERS
    assert dict(result.ws_extra) == LITE_WS


def test_responses_lite_without_tools_or_instructions() -> None:
    result = lite_translate({"model": "gpt-5.4-mini", "messages": [USER_HI]})  # an alias
    assert result.body["model"] == "gpt-5.6-luna"
    assert result.body["input"] == [HI]
    assert "instructions" not in result.body and "tools" not in result.body
    assert result.body["parallel_tool_calls"] is False


def test_responses_lite_for_a_responses_shaped_body() -> None:
    body = {"model": "gpt-5.6-sol", "input": "hi", "instructions": "I", "tools": [FLAT_TOOL]}
    result = lite_translate(body)
    assert result.body["input"] == [
        {"type": "additional_tools", "role": "developer", "tools": [FLAT_TOOL]},
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "I"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
    ]


@pytest.mark.parametrize(
    ("model", "profile"),
    [("gpt-5.5", CODEX), ("gpt-5.6-terra", OPENAI), ("unknown", CODEX)],
    ids=["classic-model", "profile-without-lite", "unknown-model"],
)
def test_the_classic_shape_otherwise(model: str, profile: UpstreamProfile) -> None:
    result = lite_translate({"model": model, "messages": [USER_HI], "tools": [FN]}, profile)
    assert result.responses_lite is False and "tools" in result.body
    assert dict(result.http_headers) == {} and dict(result.ws_extra) == {}


LITE_REFUSALS = [
    pytest.param({"web_search_options": {}}, "web_search_options", id="hosted-web-search"),
    pytest.param({"tool_choice": "required", "tools": [FN]}, "tool_choice", id="required"),
    pytest.param(
        {"tool_choice": {"type": "function", "function": {"name": "f"}}, "tools": [FN]},
        "tool_choice",
        id="named-function",
    ),
    pytest.param(
        {
            "tool_choice": {
                "type": "allowed_tools",
                "allowed_tools": {"mode": "required", "tools": [FN]},
            },
            "tools": [FN],
        },
        "tool_choice",
        id="allowed-tools-required",
    ),
    pytest.param(
        {"functions": [GET_WEATHER], "function_call": {"name": "get_weather"}},
        "function_call",
        id="legacy-forced",
    ),
]


@pytest.mark.parametrize(("extra", "param"), LITE_REFUSALS)
def test_responses_lite_refuses_hosted_tools_and_forced_choices(
    extra: dict[str, Any], param: str
) -> None:
    with pytest.raises(ClientError) as caught:
        lite_translate({"model": "gpt-5.6-terra", "messages": [USER_HI], **extra})
    err = caught.value
    assert (err.status, err.param, err.code) == (400, param, "unsupported_value")
    assert "Responses-Lite" in err.message


def test_responses_lite_refuses_a_hosted_tool_in_a_responses_shaped_body() -> None:
    body = {"model": "gpt-5.6-terra", "input": "hi", "tools": [FLAT_TOOL, {"type": "web_search"}]}
    with pytest.raises(ClientError) as caught:
        lite_translate(body)
    assert caught.value.param == "tools[1]"


@pytest.mark.parametrize(
    "choice",
    ["auto", "none", {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": [FN]}}],
)
def test_responses_lite_keeps_a_choice_that_does_not_force(choice: Any) -> None:
    body = {"model": "gpt-5.6-terra", "messages": [USER_HI], "tools": [FN], "tool_choice": choice}
    assert "tool_choice" in lite_translate(body).body


# --- the module's own functions ----------------------------------------------------------------


def test_the_marker_goes_in_the_headers_and_the_frame_metadata() -> None:
    assert lite_marker(None) == {}
    marker = lite_marker(RESPONSES_LITE)
    assert dict(marker["http_headers"]) == LITE_HEADERS
    assert dict(marker["ws_extra"]) == LITE_WS


@pytest.mark.parametrize(
    ("out", "expected_input", "expected_reasoning"),
    [
        pytest.param(
            {"model": "m", "input": [HI]}, [HI], {"context": "all_turns"}, id="no-reasoning"
        ),
        pytest.param(
            {"model": "m", "input": [HI], "reasoning": {"effort": "low"}},
            [HI],
            {"effort": "low", "context": "all_turns"},
            id="keeps-the-effort",
        ),
        pytest.param(
            {"model": "m", "input": [HI], "instructions": "", "tools": []},
            [HI],
            {"context": "all_turns"},
            id="empty-instructions-and-tools-add-nothing",
        ),
    ],
)
def test_the_lite_shape_of_a_translated_body(
    out: dict[str, Any], expected_input: list[Any], expected_reasoning: dict[str, Any]
) -> None:
    out = copy.deepcopy(out)  # the table's own dict stays as written
    to_responses_lite(out, {})
    assert out["input"] == expected_input
    assert out["reasoning"] == expected_reasoning
    assert out["parallel_tool_calls"] is False
    assert "tools" not in out and "instructions" not in out


# --- what Responses-Lite takes besides function and custom tools (codex-backend-2026.md §2, §8) --

TOOL_SEARCH = {"type": "tool_search", "execution": "client", "description": "find tools"}
NAMESPACE = {"type": "namespace", "name": "image_gen", "tools": [FLAT_TOOL]}


@pytest.mark.parametrize("tool", [TOOL_SEARCH, NAMESPACE], ids=["tool_search", "namespace"])
def test_responses_lite_takes_client_tool_search_and_namespace_groups(tool: Any) -> None:
    body = {"model": "gpt-5.6-terra", "input": "hi", "tools": [FLAT_TOOL, tool]}
    result = lite_translate(body)
    first = result.body["input"][0]
    assert first == {"type": "additional_tools", "role": "developer", "tools": [FLAT_TOOL, tool]}


@pytest.mark.parametrize(
    "tool",
    [
        {"type": "tool_search"},  # server-executed, the API's default
        {"type": "tool_search", "execution": "server"},
        {"type": "namespace", "name": "web", "tools": [{"type": "web_search"}]},
        {"type": "namespace", "name": "broken"},
        {"type": "namespace", "name": "odd", "tools": ["f"]},
    ],
)
def test_responses_lite_still_refuses_hosted_tool_search(tool: Any) -> None:
    with pytest.raises(ClientError) as caught:
        lite_translate({"model": "gpt-5.6-terra", "input": "hi", "tools": [tool]})
    assert (caught.value.param, caught.value.code) == ("tools[0]", "unsupported_value")
    assert "client-executed tool search" in caught.value.message


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"web_search_options": {}},
            "gpt-5.6-terra takes the Responses-Lite request shape, which supports only function "
            "tools, custom tools and client-executed tool search; 'web_search_options' asks for "
            "a hosted 'web_search' tool.",
        ),
        (
            {"functions": [GET_WEATHER], "function_call": {"name": "get_weather"}},
            "gpt-5.6-terra takes the Responses-Lite request shape, which cannot force a tool "
            'call; send \'function_call\' as "auto" or "none".',
        ),
    ],
)
def test_a_lite_refusal_names_the_model_the_parameter_and_what_to_send(
    extra: dict[str, Any], message: str
) -> None:
    with pytest.raises(ClientError) as caught:
        lite_translate({"model": "gpt-5.6-terra", "messages": [USER_HI], **extra})
    assert caught.value.message == message
