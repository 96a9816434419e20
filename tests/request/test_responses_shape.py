"""Responses-shaped bodies on the chat path (request/responses_shape.py), through
`translate_request` and the SDK's own request type as the oracle: fields kept, chat leftovers
dropped, model, reasoning and `include` settled, the input made acceptable to the profile."""

from __future__ import annotations

from typing import Any

import pytest

from chat2responses.protocol.errors import ClientError
from chat2responses.request.translate import translate_request
from chat2responses.upstream.catalog import Catalog
from chat2responses.upstream.profiles import CODEX, OPENAI
from tests.request.test_translate import NO_ARGS, refused, translate

# --- Cursor's bodies ----------------------------------------------------------

FLAT_TOOL = {"type": "function", "name": "f", "parameters": NO_ARGS, "strict": False}
NAMED = {"type": "function", "name": "f"}  # Responses' flat form of a forced call
CURSOR = {
    "model": "gpt-5.5",
    "input": [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "ok"},
    ],
    "stream": True,
    "stream_options": {"include_usage": True},
    "reasoning": {"effort": "high"},
    "include": ["reasoning.encrypted_content"],
    "text": {"verbosity": "low"},
    "tools": [FLAT_TOOL],
    "tool_choice": "auto",
    "max_output_tokens": 100,
    "store": True,
}


def test_responses_shape_for_codex() -> None:
    result = translate(CURSOR, CODEX)
    assert result.body == {
        "model": "gpt-5.5",
        "input": [
            {"role": "developer", "content": "sys"},
            {"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "ok"},
        ],
        "text": {"verbosity": "low"},
        "tools": [FLAT_TOOL],
        "tool_choice": "auto",
        "reasoning": {"effort": "high", "summary": "auto"},
        "include": ["reasoning.encrypted_content"],
        "instructions": "",
        "store": False,
        "stream": True,
    }
    assert set(result.dropped) == {"max_output_tokens", "store"}
    assert (result.stream, result.include_usage) == (True, True)


def test_responses_shape_for_openai() -> None:
    result = translate(CURSOR, OPENAI)
    assert result.body == {
        "model": "gpt-5.5",
        "input": CURSOR["input"],
        "text": {"verbosity": "low"},
        "tools": [FLAT_TOOL],
        "tool_choice": "auto",
        "max_output_tokens": 100,
        "store": True,  # the client's choice, allowed here
        "reasoning": {"effort": "high", "summary": "auto"},
        "include": ["reasoning.encrypted_content"],
        "stream": True,
    }
    assert result.dropped == ()  # stream_options is read by the proxy, not dropped


# A string `input` is sent as the one user message it stands for.
HI_ITEMS = [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}]

# body (model "gpt-5.5" unless given) → expected Responses body on OPENAI
RESPONSES_SHAPES = [
    pytest.param(
        {"input": "hi"},
        {
            "model": "gpt-5.5",
            "input": HI_ITEMS,
            "reasoning": {"effort": "medium", "summary": "auto"},
            "include": ["reasoning.encrypted_content"],
            "store": False,
            "stream": True,
        },
        id="string-input-gets-catalog-defaults",
    ),
    pytest.param(
        {
            "model": "gpt-5.5(high)",
            "input": "hi",
            "reasoning": {"effort": "minimal", "summary": "detailed"},
        },
        {
            "model": "gpt-5.5",
            "input": HI_ITEMS,
            "reasoning": {"effort": "low", "summary": "detailed"},
            "include": ["reasoning.encrypted_content"],
            "store": False,
            "stream": True,
        },
        id="explicit-effort-clamped-summary-kept",
    ),
    pytest.param(
        {
            "model": "other",
            "input": "hi",
            "instructions": None,
            "seed": 1,
            "include": ["web_search_call.results"],
        },
        {
            "model": "other",
            "input": HI_ITEMS,
            "reasoning": {"summary": "auto"},
            "include": ["web_search_call.results"],
            "store": False,
            "stream": True,
        },
        id="unknown-model-kept-as-sent",
    ),
    pytest.param(
        {"model": "other", "input": "hi", "tools": [FLAT_TOOL], "tool_choice": NAMED},
        {
            "model": "other",
            "input": HI_ITEMS,
            "tools": [FLAT_TOOL],
            "tool_choice": NAMED,
            "reasoning": {"summary": "auto"},
            "store": False,
            "stream": True,
        },
        id="a-named-tool-choice-kept-as-sent",
    ),
]


@pytest.mark.parametrize(("body", "expected"), RESPONSES_SHAPES)
def test_responses_shapes(body: dict[str, Any], expected: dict[str, Any]) -> None:
    assert translate({"model": "gpt-5.5", **body}).body == expected


def test_responses_shape_drops_chat_leftovers() -> None:
    result = translate({"model": "other", "input": "hi", "seed": 1, "stream": False})
    assert result.dropped == ("seed",)
    assert result.stream is False


RESPONSES_SHAPE_ERRORS = [
    ({"input": "hi", "service_tier": ["priority"]}, "service_tier", "invalid_type"),
    ({"input": "hi", "instructions": ["be nice"]}, "instructions", "invalid_type"),
    ({"input": None, "instructions": "x"}, "input", "missing_required_parameter"),
    ({"input": 5}, "input", "invalid_type"),
    ({"input": ["hi"]}, "input[0]", "invalid_type"),
    ({"input": "hi", "reasoning": "high"}, "reasoning", "invalid_type"),
    ({"input": "hi", "reasoning": {"effort": "turbo"}}, "reasoning.effort", "invalid_value"),
    ({"input": "hi", "include": "reasoning.encrypted_content"}, "include", "invalid_type"),
]


@pytest.mark.parametrize(("body", "param", "code"), RESPONSES_SHAPE_ERRORS)
def test_responses_shape_errors(body: dict[str, Any], param: str, code: str) -> None:
    err = refused({"model": "gpt-5.5", **body}, CODEX)
    assert (err.status, err.param, err.code) == (400, param, code)


def test_item_references_are_not_sent_to_a_store_false_upstream() -> None:
    body = {
        "model": "gpt-5.5",
        "input": [
            {"role": "user", "content": "hi"},
            {"type": "item_reference", "id": "rs_1"},
            {"type": "function_call_output", "call_id": "c", "output": "x"},
        ],
    }
    sent = translate_request(body, catalog=Catalog.default(), profile=CODEX).body["input"]
    assert [item.get("type") for item in sent] == [None, "function_call_output"]
    kept = translate_request(body, catalog=Catalog.default(), profile=OPENAI).body["input"]
    assert {"type": "item_reference", "id": "rs_1"} in kept


def test_a_body_for_the_responses_endpoint_without_input_is_missing_input() -> None:
    body = {"model": "gpt-5.5", "instructions": "hi"}
    with pytest.raises(ClientError) as caught:
        translate_request(body, catalog=Catalog.default(), profile=OPENAI, responses_api=True)
    assert caught.value.param == "input" and caught.value.code == "missing_required_parameter"
    chat = {"model": "gpt-5.5", "messages": [{"role": "user", "content": "hi"}]}
    assert translate_request(chat, catalog=Catalog.default(), profile=OPENAI, responses_api=True)


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"tools": "web_search"}, "tools"),
        ({"tools": {"type": "function"}}, "tools"),
        ({"tools": [1]}, "tools[0]"),
        ({"tool_choice": 3}, "tool_choice"),
    ],
)
def test_tools_of_a_wrong_type_are_the_clients_400(fields: dict[str, Any], param: str) -> None:
    for profile in (OPENAI, CODEX):
        err = refused({"model": "gpt-5.5", "input": "hi", **fields}, profile)
        assert (err.status, err.param) == (400, param)
