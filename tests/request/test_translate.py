"""translate_request: chat body → Responses body, as tables of literal cases.

Every successful translation below also goes through `translate`, which checks that the client's
body was not modified and that the official SDK's request types accept the produced body (top-level
keys, and every field validated by pydantic against `ResponseCreateParamsStreaming`).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.responses.response_create_params import ResponseCreateParamsStreaming
from pydantic import TypeAdapter, ValidationError

from chat2responses.protocol.errors import ClientError, UnsupportedParameter
from chat2responses.protocol.wire import ReasoningMode
from chat2responses.request.messages import translate_messages
from chat2responses.request.translate import (
    Translation,
    translate_request,
)
from chat2responses.response.chunks import ChunkContext
from chat2responses.upstream.catalog import Catalog
from chat2responses.upstream.catalog_layers import embedded_catalog
from chat2responses.upstream.profiles import CODEX, OPENAI, UpstreamProfile

CATALOG = Catalog.default()

# --- the oracle --------------------------------------------------------------------------------

_SDK_REQUEST = TypeAdapter(ResponseCreateParamsStreaming)
_SDK_KEYS = frozenset(ResponseCreateParamsStreaming.__annotations__)


def _consume(value: object) -> None:
    """Pydantic validates `Iterable[...]` fields lazily; walk everything so it really happens."""
    if isinstance(value, dict):
        for inner in value.values():
            _consume(inner)
    elif isinstance(value, list | tuple | Iterator):
        for inner in value:
            _consume(inner)


def assert_sdk_accepts(body: dict[str, Any]) -> None:
    assert set(body) <= _SDK_KEYS, set(body) - _SDK_KEYS
    checked = dict(body)
    if isinstance(body["input"], list):
        # The SDK types an assistant replay as an output message with `id` and `status`; the API
        # (and Codex, which sends none with store=false) accepts it without. Fill them to check.
        checked["input"] = [
            {**item, "id": "msg_x", "status": "completed"}
            if item.get("type") == "message" and item.get("role") == "assistant"
            else item
            for item in body["input"]
        ]
    if isinstance(reasoning := body.get("reasoning"), dict) and reasoning.get("effort") == "ultra":
        # A level of the gpt-5.6 catalog entries that the SDK's Literal does not list yet.
        checked["reasoning"] = {**reasoning, "effort": "max"}
    _consume(_SDK_REQUEST.validate_python(checked))


def translate(
    body: dict[str, Any], profile: UpstreamProfile = OPENAI, catalog: Catalog = CATALOG
) -> Translation:
    before = copy.deepcopy(body)
    result = translate_request(body, catalog=catalog, profile=profile)
    assert body == before, "the client's body must not be modified"
    assert_sdk_accepts(result.body)
    return result


def refused(body: dict[str, Any], profile: UpstreamProfile = OPENAI) -> ClientError:
    with pytest.raises(ClientError) as caught:
        translate_request(body, catalog=CATALOG, profile=profile)
    return caught.value


@pytest.mark.parametrize(
    "body",
    [
        {"model": "m", "input": "hi", "stream": True, "messages": []},  # unknown key
        {"model": "m", "input": "hi", "stream": True, "tools": [{"type": "function"}]},
        {"model": "m", "input": [{"type": "function_call", "call_id": "c"}], "stream": True},
        {"model": "m", "input": "hi", "stream": True, "tool_choice": {"type": "nope"}},
    ],
)
def test_the_oracle_can_fail(body: dict[str, Any]) -> None:
    with pytest.raises((AssertionError, ValidationError)):
        assert_sdk_accepts(body)


# --- messages → instructions + input -----------------------------------------------------------

USER_HI = {"role": "user", "content": "hi"}
HI = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}


def said(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def call(call_id: str, name: str = "f", arguments: str = "{}") -> dict[str, Any]:
    return {"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments}


def chat_call(call_id: str, name: str = "f", arguments: str = "{}") -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def output(call_id: str, text: str) -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": text}


# messages → (instructions or None, input)
MESSAGES = [
    pytest.param([USER_HI], None, [HI], id="user-string"),
    pytest.param(
        [{"role": "system", "content": "Be brief."}, USER_HI], "Be brief.", [HI], id="system"
    ),
    pytest.param(
        [
            {"role": "developer", "content": "One."},
            {
                "role": "system",
                "content": [{"type": "text", "text": "Two"}, {"type": "text", "text": "a"}],
            },
            {"role": "system", "content": ""},
            USER_HI,
        ],
        "One.\n\nTwo\na",
        [HI],
        id="leading-system-and-developer-joined-in-order",
    ),
    pytest.param(
        [
            {"role": "system", "content": "One."},
            USER_HI,
            {"role": "system", "content": [{"type": "text", "text": "Two"}]},
            {"role": "developer", "content": "Three."},
            {"role": "system", "content": ""},
        ],
        "One.",
        [
            HI,
            {
                "type": "message",
                "role": "system",
                "content": [{"type": "input_text", "text": "Two"}],
            },
            {
                "type": "message",
                "role": "developer",
                "content": [{"type": "input_text", "text": "Three."}],
            },
        ],
        id="system-after-the-first-message-stays-in-place",
    ),
    pytest.param(
        [{"role": "system", "content": ""}, USER_HI], None, [HI], id="empty-system-is-nothing"
    ),
    pytest.param(
        [
            {
                "role": "user",
                "name": "alice",
                "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": "https://x/a.png"}},
                    {
                        "type": "image_url",
                        "image_url": {"url": "data:image/png;base64,AA", "detail": "low"},
                    },
                    {"type": "image_url", "image_url": "https://x/bare.png"},
                    {
                        "type": "file",
                        "file": {
                            "file_data": "data:application/pdf;base64,AA",
                            "filename": "a.pdf",
                        },
                    },
                    {"type": "file", "file": {"file_id": "file-1"}},
                ],
            }
        ],
        None,
        [
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "look"},
                    {"type": "input_image", "image_url": "https://x/a.png", "detail": "auto"},
                    {
                        "type": "input_image",
                        "image_url": "data:image/png;base64,AA",
                        "detail": "low",
                    },
                    {"type": "input_image", "image_url": "https://x/bare.png", "detail": "auto"},
                    {
                        "type": "input_file",
                        "file_data": "data:application/pdf;base64,AA",
                        "filename": "a.pdf",
                    },
                    {"type": "input_file", "file_id": "file-1"},
                ],
            }
        ],
        id="user-parts",
    ),
    pytest.param(
        [USER_HI, {"role": "assistant", "content": "hello"}, USER_HI],
        None,
        [HI, said("hello"), HI],
        id="assistant-string",
    ),
    pytest.param(
        [
            USER_HI,
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [chat_call("call_1"), chat_call("call_2", "g", '{"x":1}')],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "one"},
            {
                "role": "tool",
                "tool_call_id": "call_2",
                "content": [{"type": "text", "text": "t"}, {"type": "text", "text": "u"}],
            },
        ],
        None,
        [
            HI,
            call("call_1"),
            call("call_2", "g", '{"x":1}'),
            output("call_1", "one"),
            output("call_2", "t\nu"),
        ],
        id="parallel-tool-calls-no-empty-assistant-message",
    ),
    pytest.param(
        [
            USER_HI,
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [chat_call("call_1")],
                "reasoning_content": "hmm",
            },
            {"role": "tool", "tool_call_id": "call_1", "content": ""},
        ],
        None,
        [HI, call("call_1"), output("call_1", "")],
        id="assistant-null-content",
    ),
    pytest.param(
        [
            USER_HI,
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "a"},
                    {"type": "text", "text": ""},
                    {"type": "refusal", "refusal": "no"},
                ],
                "tool_calls": [chat_call("call_1")],
            },
        ],
        None,
        [
            HI,
            {
                "type": "message",
                "role": "assistant",
                "content": [
                    {"type": "output_text", "text": "a", "annotations": []},
                    {"type": "output_text", "text": "no", "annotations": []},
                ],
            },
            call("call_1"),
        ],
        id="assistant-parts-then-call",
    ),
    pytest.param(
        [USER_HI, {"role": "assistant", "content": None, "refusal": "I can't."}],
        None,
        [HI, said("I can't.")],
        id="assistant-refusal-field",
    ),
    pytest.param(
        [USER_HI, {"role": "assistant", "content": None}, {"role": "assistant", "content": []}],
        None,
        [HI],
        id="empty-assistant-is-nothing",
    ),
    pytest.param(
        [
            USER_HI,
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_c",
                        "type": "custom",
                        "custom": {"name": "patch", "input": "*** Begin"},
                    },
                    chat_call("call_f"),
                ],
            },
            {"role": "tool", "tool_call_id": "call_c", "content": "applied"},
            {"role": "tool", "tool_call_id": "call_f", "content": "ok"},
        ],
        None,
        [
            HI,
            {
                "type": "custom_tool_call",
                "call_id": "call_c",
                "name": "patch",
                "input": "*** Begin",
            },
            call("call_f"),
            {"type": "custom_tool_call_output", "call_id": "call_c", "output": "applied"},
            output("call_f", "ok"),
        ],
        id="custom-tool-call-and-its-output",
    ),
    pytest.param(
        [
            USER_HI,
            {
                "role": "assistant",
                "content": None,
                "function_call": {"name": "a", "arguments": "{}"},
            },
            {"role": "function", "name": "a", "content": "1"},
            {
                "role": "assistant",
                "content": "again",
                "function_call": {"name": "a", "arguments": "{}"},
            },
            {"role": "function", "name": "a", "content": None},
        ],
        None,
        [
            HI,
            call("call_legacy_1", "a"),
            output("call_legacy_1", "1"),
            said("again"),
            call("call_legacy_3", "a"),
            output("call_legacy_3", ""),
        ],
        id="legacy-function-call-and-result",
    ),
    pytest.param(
        [
            USER_HI,
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{}"}}],
            },
        ],
        None,
        [HI, call("c")],
        id="tool-call-without-type-is-a-function",
    ),
]


@pytest.mark.parametrize(("messages", "instructions", "items"), MESSAGES)
def test_messages(messages: list[Any], instructions: str | None, items: list[Any]) -> None:
    body = translate({"model": "m", "messages": messages}).body
    assert body.get("instructions") == instructions
    assert ("instructions" in body) == (instructions is not None)
    assert body["input"] == items


def test_codex_always_sends_instructions() -> None:
    assert translate({"model": "m", "messages": [USER_HI]}, CODEX).body["instructions"] == ""
    body = {"model": "m", "messages": [{"role": "system", "content": "S"}, USER_HI]}
    assert translate(body, CODEX).body["instructions"] == "S"


# messages → (param, code, message fragment)
MESSAGE_ERRORS = [
    (
        [{"role": "system", "content": [{"type": ["text"], "text": "x"}]}],
        "messages[0].content[0].type",
        "invalid_value",
        "Supported values are: 'text'.",
    ),
    (None, "messages", "missing_required_parameter", "Missing required parameter: 'messages'."),
    ("hi", "messages", "invalid_type", "expected an array, but got a string instead"),
    ([], "messages", "invalid_value", "at least one message"),
    ([1], "messages[0]", "invalid_type", "expected an object, but got an integer"),
    ([{"content": "x"}], "messages[0].role", "missing_required_parameter", "'messages[0].role'"),
    ([USER_HI, {"role": 5}], "messages[1].role", "invalid_type", "expected a string"),
    (
        [{"role": "robot"}],
        "messages[0].role",
        "invalid_value",
        "'robot'. Supported values are: 'system'",
    ),
    (
        [{"role": "user"}],
        "messages[0].content",
        "missing_required_parameter",
        "messages[0].content",
    ),
    (
        [{"role": "user", "content": 5}],
        "messages[0].content",
        "invalid_type",
        "a string or an array",
    ),
    ([{"role": "user", "content": [5]}], "messages[0].content[0]", "invalid_type", "an object"),
    (
        [{"role": "user", "content": [{"type": "video"}]}],
        "messages[0].content[0].type",
        "invalid_value",
        "'video'",
    ),
    (
        [{"role": "user", "content": [{"type": "text", "text": 5}]}],
        "messages[0].content[0].text",
        "invalid_type",
        "a string",
    ),
    (
        [{"role": "user", "content": [{"type": "image_url"}]}],
        "messages[0].content[0].image_url",
        "missing_required_parameter",
        "",
    ),
    (
        [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}],
        "messages[0].content[0].image_url.url",
        "missing_required_parameter",
        "",
    ),
    (
        [
            {
                "role": "user",
                "content": [{"type": "image_url", "image_url": {"url": "u", "detail": "ultra"}}],
            }
        ],
        "messages[0].content[0].image_url.detail",
        "invalid_value",
        "'ultra'",
    ),
    (
        [{"role": "user", "content": [{"type": "file", "file": {"filename": "a.pdf"}}]}],
        "messages[0].content[0].file.file_data",
        "missing_required_parameter",
        "",
    ),
    (
        [{"role": "user", "content": [{"type": "file", "file": {"file_id": 3}}]}],
        "messages[0].content[0].file.file_id",
        "invalid_type",
        "",
    ),
    ([{"role": "system"}], "messages[0].content", "missing_required_parameter", ""),
    (
        [{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "u"}}]}],
        "messages[0].content[0].type",
        "invalid_value",
        "Supported values are: 'text'.",
    ),
    (
        [{"role": "developer", "content": {"text": "x"}}],
        "messages[0].content",
        "invalid_type",
        "array of text parts",
    ),
    (
        [{"role": "tool", "content": "x"}],
        "messages[0].tool_call_id",
        "missing_required_parameter",
        "",
    ),
    (
        [{"role": "tool", "tool_call_id": 1, "content": "x"}],
        "messages[0].tool_call_id",
        "invalid_type",
        "",
    ),
    (
        [{"role": "tool", "tool_call_id": "c", "content": 5}],
        "messages[0].content",
        "invalid_type",
        "",
    ),
    (
        [{"role": "tool", "tool_call_id": "c"}],
        "messages[0].content",
        "missing_required_parameter",
        "",
    ),
    (
        [{"role": "assistant", "content": 5}],
        "messages[0].content",
        "invalid_type",
        "a string, an array or null",
    ),
    (
        [{"role": "assistant", "content": [{"type": "image_url"}]}],
        "messages[0].content[0].type",
        "invalid_value",
        "'text', 'refusal'",
    ),
    (
        [{"role": "assistant", "content": [{"type": "refusal"}]}],
        "messages[0].content[0].refusal",
        "missing_required_parameter",
        "",
    ),
    ([{"role": "assistant", "refusal": 5}], "messages[0].refusal", "invalid_type", ""),
    (
        [{"role": "assistant", "tool_calls": {}}],
        "messages[0].tool_calls",
        "invalid_type",
        "an array",
    ),
    ([{"role": "assistant", "tool_calls": [5]}], "messages[0].tool_calls[0]", "invalid_type", ""),
    (
        [
            {
                "role": "assistant",
                "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": ""}}],
            }
        ],
        "messages[0].tool_calls[0].id",
        "missing_required_parameter",
        "",
    ),
    (
        [{"role": "assistant", "tool_calls": [{"id": "c", "type": "function"}]}],
        "messages[0].tool_calls[0].function",
        "missing_required_parameter",
        "",
    ),
    (
        [{"role": "assistant", "tool_calls": [{"id": "c", "function": {"arguments": "{}"}}]}],
        "messages[0].tool_calls[0].function.name",
        "missing_required_parameter",
        "",
    ),
    (
        [
            {
                "role": "assistant",
                "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": {"a": 1}}}],
            }
        ],
        "messages[0].tool_calls[0].function.arguments",
        "invalid_type",
        "a string",
    ),
    (
        [{"role": "assistant", "tool_calls": [{"id": "c", "type": "web", "web": {}}]}],
        "messages[0].tool_calls[0].type",
        "invalid_value",
        "'function', 'custom'",
    ),
    (
        [
            {
                "role": "assistant",
                "tool_calls": [{"id": "c", "type": "custom", "custom": {"name": "p"}}],
            }
        ],
        "messages[0].tool_calls[0].custom.input",
        "missing_required_parameter",
        "",
    ),
    (
        [{"role": "assistant", "function_call": "f"}],
        "messages[0].function_call",
        "invalid_type",
        "",
    ),
    (
        [{"role": "assistant", "function_call": {"name": "f"}}],
        "messages[0].function_call.arguments",
        "missing_required_parameter",
        "",
    ),
    (
        [USER_HI, {"role": "function", "name": "f", "content": "x"}],
        "messages[1].name",
        "invalid_value",
        "no earlier assistant message has a function_call",
    ),
    ([{"role": "function", "content": "x"}], "messages[0].name", "missing_required_parameter", ""),
]


@pytest.mark.parametrize(("messages", "param", "code", "message"), MESSAGE_ERRORS)
def test_message_errors(messages: object, param: str, code: str, message: str) -> None:
    body = {"model": "m"} if messages is None else {"model": "m", "messages": messages}
    err = refused(body)
    assert (err.status, err.param, err.code) == (400, param, code)
    assert message in err.message
    assert f"'{param}'" in err.message or param in err.message


def test_audio_input_is_unsupported() -> None:
    audio = {"type": "input_audio", "input_audio": {"data": "AA", "format": "wav"}}
    messages = [USER_HI, {"role": "user", "content": [{"type": "text", "text": "x"}, audio]}]
    err = refused({"model": "m", "messages": messages})
    assert isinstance(err, UnsupportedParameter)
    assert (err.status, err.param, err.code) == (
        400,
        "messages[1].content[1]",
        "unsupported_parameter",
    )
    assert "input_audio" in err.message


# --- parameters --------------------------------------------------------------------------------

# An unknown model is still asked for a reasoning summary (rule 2).
BASE = {
    "model": "m",
    "input": [HI],
    "reasoning": {"summary": "auto"},
    "store": False,
    "stream": True,
}

# extra chat params → (extra Responses keys, dropped) for an unknown model on the OPENAI profile
PARAMETERS = [
    pytest.param({}, {}, (), id="nothing"),
    pytest.param(
        {"temperature": 0.2, "top_p": 1}, {"temperature": 0.2, "top_p": 1}, (), id="sampling"
    ),
    pytest.param({"max_tokens": 100}, {"max_output_tokens": 100}, (), id="max_tokens"),
    pytest.param(
        {"max_completion_tokens": 50, "max_tokens": 100},
        {"max_output_tokens": 50},
        (),
        id="max_completion_tokens-wins",
    ),
    pytest.param({"parallel_tool_calls": False}, {"parallel_tool_calls": False}, (), id="parallel"),
    pytest.param(
        {
            "metadata": {"k": "v"},
            "service_tier": "flex",
            "prompt_cache_key": "pk",
            "prompt_cache_retention": "24h",
            "prompt_cache_options": {"mode": "implicit"},
            "user": "u1",
            "safety_identifier": "s1",
            "moderation": {"model": "omni-moderation-latest"},
        },
        {
            "metadata": {"k": "v"},
            "service_tier": "flex",
            "prompt_cache_key": "pk",
            "prompt_cache_retention": "24h",
            "prompt_cache_options": {"mode": "implicit"},
            "user": "u1",
            "safety_identifier": "s1",
            "moderation": {"model": "omni-moderation-latest"},
        },
        (),
        id="copied-as-is",
    ),
    pytest.param(
        {"response_format": {"type": "text"}},
        {"text": {"format": {"type": "text"}}},
        (),
        id="format-text",
    ),
    pytest.param(
        {"response_format": {"type": "json_object"}},
        {"text": {"format": {"type": "json_object"}}},
        (),
        id="format-json-object",
    ),
    pytest.param(
        {
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": "r",
                    "description": "d",
                    "schema": {"type": "object"},
                    "strict": True,
                },
            },
            "verbosity": "high",
        },
        {
            "text": {
                "format": {
                    "type": "json_schema",
                    "name": "r",
                    "description": "d",
                    "schema": {"type": "object"},
                    "strict": True,
                },
                "verbosity": "high",
            }
        },
        (),
        id="format-json-schema-flattened-and-verbosity",
    ),
    pytest.param(
        {"response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": {}}}},
        {"text": {"format": {"type": "json_schema", "name": "r", "schema": {}}}},
        (),
        id="format-json-schema-minimal",
    ),
    pytest.param({"verbosity": "low"}, {"text": {"verbosity": "low"}}, (), id="verbosity"),
    pytest.param(
        {"web_search_options": {}}, {"tools": [{"type": "web_search"}]}, (), id="web-search"
    ),
    pytest.param(
        {
            "web_search_options": {
                "search_context_size": "high",
                "user_location": {
                    "type": "approximate",
                    "approximate": {"city": "Oslo", "country": "NO"},
                },
            }
        },
        {
            "tools": [
                {
                    "type": "web_search",
                    "search_context_size": "high",
                    "user_location": {"type": "approximate", "city": "Oslo", "country": "NO"},
                }
            ]
        },
        (),
        id="web-search-location-flattened",
    ),
    pytest.param(
        {
            "seed": 1,
            "stop": ["\n"],  # kept for the stream translator, not dropped (rule 4)
            "frequency_penalty": 0.5,
            "presence_penalty": 0.5,
            "logprobs": True,
            "top_logprobs": 3,
            "n": 1,
            "stream": True,
            "stream_options": {"include_usage": True},
            "store": True,
            "logit_bias": {},
            "modalities": ["text"],
            "x_vendor_flag": 1,
        },
        {},
        (
            "seed",
            "frequency_penalty",
            "presence_penalty",
            "logprobs",
            "top_logprobs",
            "n",
            "store",
            "logit_bias",
            "modalities",
            "x_vendor_flag",
        ),
        id="harmless-leftovers-dropped",
    ),
    pytest.param({"store": False}, {}, (), id="store-false-is-what-we-send"),
    pytest.param(
        {"temperature": None, "tools": None, "seed": None, "n": None, "stop": None, "audio": None},
        {},
        (),
        id="nulls-are-absent",
    ),
]


@pytest.mark.parametrize(("params", "extra", "dropped"), PARAMETERS)
def test_parameters(
    params: dict[str, Any], extra: dict[str, Any], dropped: tuple[str, ...]
) -> None:
    result = translate({"model": "m", "messages": [USER_HI], **params})
    assert result.body == {**BASE, **extra}
    assert result.dropped == dropped


# chat params → (param, code, message fragment); all 400
PARAMETER_ERRORS = [
    ({"n": 2}, "n", "unsupported_parameter", "n=2 is not supported"),
    ({"n": 0}, "n", "invalid_value", "at least 1"),
    ({"n": "2"}, "n", "invalid_type", "an integer"),
    (
        {"logit_bias": {"50256": -100}},
        "logit_bias",
        "unsupported_parameter",
        "no Responses API counterpart",
    ),
    (
        {"audio": {"voice": "alloy", "format": "wav"}},
        "audio",
        "unsupported_parameter",
        "Audio output",
    ),
    ({"modalities": ["text", "audio"]}, "modalities", "unsupported_parameter", "audio"),
    (
        {"prediction": {"type": "content", "content": "x"}},
        "prediction",
        "unsupported_parameter",
        "Predicted outputs",
    ),
    ({"temperature": "hot"}, "temperature", "invalid_type", "a number"),
    ({"top_p": True}, "top_p", "invalid_type", "a number"),
    ({"max_tokens": 0}, "max_tokens", "invalid_value", "at least 1"),
    ({"max_completion_tokens": 1.5}, "max_completion_tokens", "invalid_type", "an integer"),
    ({"parallel_tool_calls": "yes"}, "parallel_tool_calls", "invalid_type", "a boolean"),
    ({"metadata": "x"}, "metadata", "invalid_type", "an object"),
    ({"service_tier": 1}, "service_tier", "invalid_type", "a string"),
    ({"user": ["u"]}, "user", "invalid_type", "a string"),
    ({"stream": "yes"}, "stream", "invalid_type", "a boolean"),
    ({"stream_options": 1}, "stream_options", "invalid_type", "an object"),
    # OpenAI's own refusals, word for word: a tool choice with no tools to choose from, ...
    ({"tool_choice": "auto"}, "tool_choice", None, "only allowed when 'tools' are specified"),
    ({"tools": [], "tool_choice": "none"}, "tool_choice", None, "'tools' are specified"),
    # ... and options for a stream that is not one
    ({"stream_options": {"include_usage": True}}, "stream_options", None, "only allowed when"),
    ({"stream": False, "stream_options": {}}, "stream_options", None, "'stream' is enabled"),
    (
        {"stream_options": {"include_usage": "yes"}},
        "stream_options.include_usage",
        "invalid_type",
        "",
    ),
    (
        {"reasoning_effort": "turbo"},
        "reasoning_effort",
        "invalid_value",
        "'none', 'minimal', 'low'",
    ),
    ({"reasoning_effort": 3}, "reasoning_effort", "invalid_value", ""),
    ({"verbosity": "loud"}, "verbosity", "invalid_value", "'low', 'medium', 'high'"),
    ({"response_format": "json"}, "response_format", "invalid_type", ""),
    (
        {"response_format": {"type": "xml"}},
        "response_format.type",
        "invalid_value",
        "'json_schema'",
    ),
    (
        {"response_format": {"type": "json_schema"}},
        "response_format.json_schema",
        "missing_required_parameter",
        "",
    ),
    (
        {"response_format": {"type": "json_schema", "json_schema": {"schema": {}}}},
        "response_format.json_schema.name",
        "missing_required_parameter",
        "",
    ),
    (
        {"response_format": {"type": "json_schema", "json_schema": {"name": "r"}}},
        "response_format.json_schema.schema",
        "missing_required_parameter",
        "",
    ),
    (
        {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "r", "schema": {}, "strict": "y"},
            }
        },
        "response_format.json_schema.strict",
        "invalid_type",
        "",
    ),
    ({"web_search_options": "on"}, "web_search_options", "invalid_type", ""),
    (
        {"web_search_options": {"user_location": {"type": "approximate"}}},
        "web_search_options.user_location.approximate",
        "missing_required_parameter",
        "",
    ),
    (
        {"web_search_options": {"search_context_size": 1}},
        "web_search_options.search_context_size",
        "invalid_type",
        "",
    ),
    ({"input": "hi"}, "input", "invalid_value", "not both"),
]


@pytest.mark.parametrize(("params", "param", "code", "message"), PARAMETER_ERRORS)
def test_parameter_errors(params: dict[str, Any], param: str, code: str, message: str) -> None:
    err = refused({"model": "m", "messages": [USER_HI], **params})
    assert (err.status, err.param, err.code, err.type) == (
        400,
        param,
        code,
        "invalid_request_error",
    )
    assert message in err.message
    assert isinstance(err, UnsupportedParameter) == (code == "unsupported_parameter")


@pytest.mark.parametrize(
    ("model", "code", "message"),
    [
        (None, "missing_required_parameter", "Missing required parameter: 'model'."),
        (5, "invalid_type", "expected a string, but got an integer"),
        (["gpt-5.5"], "invalid_type", "but got an array"),
        (" ", "invalid_value", "must not be empty"),
    ],
)
def test_model_errors(model: object, code: str, message: str) -> None:
    body: dict[str, Any] = {"messages": [USER_HI]}
    if model is not None:
        body["model"] = model
    err = refused(body)
    assert (err.status, err.param, err.code) == (400, "model", code)
    assert message in err.message


@pytest.mark.parametrize(
    ("params", "stream", "include_usage"),
    [
        ({}, False, False),
        ({"stream": False}, False, False),
        ({"stream": True}, True, False),
        ({"stream": True, "stream_options": None}, True, False),
        ({"stream": False, "stream_options": None}, False, False),  # null: as if absent
        ({"stream": True, "stream_options": {}}, True, False),
        ({"stream": True, "stream_options": {"include_usage": True}}, True, True),
        ({"stream": True, "stream_options": {"include_usage": False}}, True, False),
    ],
)
def test_stream_flags_report_the_client_and_upstream_always_streams(
    params: dict[str, Any], stream: bool, include_usage: bool
) -> None:
    result = translate({"model": "gpt-5.5", "messages": [USER_HI], **params})
    assert (result.stream, result.include_usage) == (stream, include_usage)
    assert result.body["stream"] is True
    assert "stream_options" not in result.body


def test_stream_options_without_a_stream_pass_on_a_responses_shaped_body() -> None:
    # Only Chat Completions refuses them (above); a Responses-shaped body keeps its leniency.
    result = translate({"model": "gpt-5.5", "input": "hi", "stream_options": {}})
    assert (result.stream, result.include_usage) == (False, False)


# --- tools -------------------------------------------------------------------------------------

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
NO_ARGS = {"type": "object", "properties": {}}

# (tools, functions) → Responses tools
TOOLS = [
    pytest.param(
        [
            {
                "type": "function",
                "function": {
                    "name": "weather",
                    "description": "Get it",
                    "parameters": SCHEMA,
                    "strict": True,
                },
            }
        ],
        None,
        [
            {
                "type": "function",
                "name": "weather",
                "description": "Get it",
                "parameters": SCHEMA,
                "strict": True,
            }
        ],
        id="function-full",
    ),
    pytest.param(
        [
            {"type": "function", "function": {"name": "now"}},
            {"function": {"name": "later", "strict": None}},
        ],
        None,
        [
            {"type": "function", "name": "now", "parameters": NO_ARGS, "strict": False},
            {"type": "function", "name": "later", "parameters": NO_ARGS, "strict": False},
        ],
        id="function-defaults",
    ),
    pytest.param(
        [
            {"type": "custom", "custom": {"name": "raw"}},
            {
                "type": "custom",
                "custom": {"name": "txt", "description": "d", "format": {"type": "text"}},
            },
            {
                "type": "custom",
                "custom": {
                    "name": "g",
                    "format": {
                        "type": "grammar",
                        "grammar": {"syntax": "lark", "definition": "start: /x/"},
                    },
                },
            },
        ],
        None,
        [
            {"type": "custom", "name": "raw"},
            {"type": "custom", "name": "txt", "description": "d", "format": {"type": "text"}},
            {
                "type": "custom",
                "name": "g",
                "format": {"type": "grammar", "syntax": "lark", "definition": "start: /x/"},
            },
        ],
        id="custom",
    ),
    pytest.param(
        None,
        [{"name": "legacy", "description": "old", "parameters": SCHEMA}],
        [
            {
                "type": "function",
                "name": "legacy",
                "description": "old",
                "parameters": SCHEMA,
                "strict": False,
            }
        ],
        id="legacy-functions",
    ),
    pytest.param(
        [{"type": "function", "function": {"name": "a"}}],
        [{"name": "b"}],
        [
            {"type": "function", "name": "a", "parameters": NO_ARGS, "strict": False},
            {"type": "function", "name": "b", "parameters": NO_ARGS, "strict": False},
        ],
        id="both",
    ),
    pytest.param([], None, None, id="empty-list-sends-no-tools"),
]


@pytest.mark.parametrize(("tools", "functions", "expected"), TOOLS)
def test_tools(tools: Any, functions: Any, expected: list[Any] | None) -> None:
    body: dict[str, Any] = {"model": "m", "messages": [USER_HI]}
    if tools is not None:
        body["tools"] = tools
    if functions is not None:
        body["functions"] = functions
    assert translate(body).body.get("tools") == expected


def test_web_search_comes_after_the_clients_tools() -> None:
    body = {
        "model": "m",
        "messages": [USER_HI],
        "web_search_options": {},
        "tools": [{"type": "function", "function": {"name": "a"}}],
    }
    assert [t["type"] for t in translate(body).body["tools"]] == ["function", "web_search"]


TOOL_ERRORS = [
    ({"tools": {}}, "tools", "invalid_type"),
    ({"tools": [5]}, "tools[0]", "invalid_type"),
    ({"tools": [{"type": "retrieval"}]}, "tools[0].type", "invalid_value"),
    ({"tools": [{"type": "function"}]}, "tools[0].function", "missing_required_parameter"),
    (
        {"tools": [{"type": "function", "function": {"description": "x"}}]},
        "tools[0].function.name",
        "missing_required_parameter",
    ),
    (
        {"tools": [{"type": "function", "function": {"name": "f", "description": 1}}]},
        "tools[0].function.description",
        "invalid_type",
    ),
    (
        {"tools": [{"type": "function", "function": {"name": "f", "parameters": "{}"}}]},
        "tools[0].function.parameters",
        "invalid_type",
    ),
    (
        {"tools": [{"type": "function", "function": {"name": "f", "strict": "yes"}}]},
        "tools[0].function.strict",
        "invalid_type",
    ),
    ({"tools": [{"type": "custom"}]}, "tools[0].custom", "missing_required_parameter"),
    (
        {"tools": [{"type": "custom", "custom": {"name": "c", "format": {"type": "xml"}}}]},
        "tools[0].custom.format.type",
        "invalid_value",
    ),
    (
        {"tools": [{"type": "custom", "custom": {"name": "c", "format": {"type": "grammar"}}}]},
        "tools[0].custom.format.grammar",
        "missing_required_parameter",
    ),
    (
        {
            "tools": [
                {
                    "type": "custom",
                    "custom": {
                        "name": "c",
                        "format": {"type": "grammar", "grammar": {"syntax": "lark"}},
                    },
                }
            ]
        },
        "tools[0].custom.format.grammar.definition",
        "missing_required_parameter",
    ),
    ({"functions": "f"}, "functions", "invalid_type"),
    ({"functions": [{"parameters": {}}]}, "functions[0].name", "missing_required_parameter"),
]


@pytest.mark.parametrize(("params", "param", "code"), TOOL_ERRORS)
def test_tool_errors(params: dict[str, Any], param: str, code: str) -> None:
    err = refused({"model": "m", "messages": [USER_HI], **params})
    assert (err.status, err.param, err.code) == (400, param, code)


FN = {"type": "function", "function": {"name": "f"}}

# (tool_choice, function_call) → (Responses tool_choice, dropped)
TOOL_CHOICES = [
    ("auto", None, "auto", ()),
    ("none", None, "none", ()),
    ("required", None, "required", ()),
    ({"type": "function", "function": {"name": "f"}}, None, {"type": "function", "name": "f"}, ()),
    ({"type": "custom", "custom": {"name": "c"}}, None, {"type": "custom", "name": "c"}, ()),
    (
        {
            "type": "allowed_tools",
            "allowed_tools": {
                "mode": "required",
                "tools": [FN, {"type": "custom", "custom": {"name": "c"}}],
            },
        },
        None,
        {
            "type": "allowed_tools",
            "mode": "required",
            "tools": [{"type": "function", "name": "f"}, {"type": "custom", "name": "c"}],
        },
        (),
    ),
    (None, "none", "none", ()),
    (None, "auto", "auto", ()),
    (None, {"name": "f"}, {"type": "function", "name": "f"}, ()),
    ("required", "none", "required", ("function_call",)),
]


@pytest.mark.parametrize(("choice", "legacy", "expected", "dropped"), TOOL_CHOICES)
def test_tool_choice(choice: Any, legacy: Any, expected: Any, dropped: tuple[str, ...]) -> None:
    body: dict[str, Any] = {"model": "m", "messages": [USER_HI], "tools": [FN]}
    if choice is not None:
        body["tool_choice"] = choice
    if legacy is not None:
        body["function_call"] = legacy
    result = translate(body)
    assert result.body["tool_choice"] == expected
    assert result.dropped == dropped


TOOL_CHOICE_ERRORS = [
    ({"tool_choice": "always"}, "tool_choice", "invalid_value"),
    ({"tool_choice": 5}, "tool_choice", "invalid_type"),
    ({"tool_choice": {"type": "function"}}, "tool_choice.function", "missing_required_parameter"),
    (
        {"tool_choice": {"type": "function", "function": {}}},
        "tool_choice.function.name",
        "missing_required_parameter",
    ),
    ({"tool_choice": {"type": "mcp"}}, "tool_choice.type", "invalid_value"),
    (
        {"tool_choice": {"type": "allowed_tools"}},
        "tool_choice.allowed_tools",
        "missing_required_parameter",
    ),
    (
        {"tool_choice": {"type": "allowed_tools", "allowed_tools": {"mode": "any", "tools": []}}},
        "tool_choice.allowed_tools.mode",
        "invalid_value",
    ),
    (
        {
            "tool_choice": {
                "type": "allowed_tools",
                "allowed_tools": {"mode": "auto", "tools": [{"type": "x"}]},
            }
        },
        "tool_choice.allowed_tools.tools[0].type",
        "invalid_value",
    ),
    (
        {"tool_choice": {"type": "allowed_tools", "allowed_tools": {"mode": "auto"}}},
        "tool_choice.allowed_tools.tools",
        "invalid_type",
    ),
    ({"function_call": "required"}, "function_call", "invalid_value"),
    ({"function_call": {}}, "function_call.name", "missing_required_parameter"),
    ({"function_call": 1}, "function_call", "invalid_type"),
]


@pytest.mark.parametrize(("params", "param", "code"), TOOL_CHOICE_ERRORS)
def test_tool_choice_errors(params: dict[str, Any], param: str, code: str) -> None:
    err = refused({"model": "m", "messages": [USER_HI], "tools": [FN], **params})
    assert (err.status, err.param, err.code) == (400, param, code)


# --- reasoning ---------------------------------------------------------------------------------

ENC = ["reasoning.encrypted_content"]


def r(effort: str, *, summary: bool = True) -> dict[str, Any]:
    return {"effort": effort, "summary": "auto"} if summary else {"effort": effort}


S = {"summary": "auto"}  # an unknown model: a summary, no effort


def lite(reasoning: dict[str, Any]) -> dict[str, Any]:
    return {**reasoning, "context": "all_turns"}


def case(model: str, effort: str | None, profile: UpstreamProfile, *expected: Any) -> Any:
    *outcome, name = expected
    return pytest.param(model, effort, profile, tuple(outcome), id=name)


# (model, reasoning_effort, profile) → (reasoning or None, include or None, upstream model)
REASONING = [
    case("gpt-5.5", None, OPENAI, r("medium"), ENC, "gpt-5.5", "catalog-default"),
    case("gpt-5.6-sol", None, OPENAI, r("low"), ENC, "gpt-5.6-sol", "catalog-default-low"),
    case("gpt-5.6-sol", None, CODEX, lite(r("low")), ENC, "gpt-5.6-sol", "lite-context"),
    case(
        "gpt-5.3-codex-spark",
        None,
        CODEX,
        r("high", summary=False),
        ENC,
        "gpt-5.3-codex-spark",
        "model-without-summaries",
    ),
    case("gpt-5.5(high)", None, OPENAI, r("high"), ENC, "gpt-5.5", "suffix"),
    case("openai/gpt-5.5-xhigh", None, OPENAI, r("xhigh"), ENC, "gpt-5.5", "dash-suffix"),
    case("gpt-5.5-high", "low", OPENAI, r("low"), ENC, "gpt-5.5", "explicit-beats-suffix"),
    case("gpt-5.5", "minimal", OPENAI, r("low"), ENC, "gpt-5.5", "explicit-clamped-up"),
    case("gpt-5.5", "max", OPENAI, r("xhigh"), ENC, "gpt-5.5", "explicit-clamped-down"),
    case("gpt-5.5", "none", OPENAI, r("low"), ENC, "gpt-5.5", "none-clamped"),
    case("gpt-5.2", None, OPENAI, r("medium"), ENC, "gpt-5.5", "retired-alias"),
    case("gpt-5.4-high", None, CODEX, lite(r("high")), ENC, "gpt-5.6-terra", "alias-suffix"),
    case("gpt-5.6-terra", "ultra", CODEX, lite(r("ultra")), ENC, "gpt-5.6-terra", "ultra"),
    case("gpt-5-codex-high", None, OPENAI, r("high"), ENC, "gpt-5-codex", "unknown-dash"),
    case("foo-max", None, OPENAI, S, None, "foo-max", "unknown-non-openai-word"),
    case("gpt-5.5-2026-04-23", None, OPENAI, r("medium"), ENC, "gpt-5.5-2026-04-23", "dated"),
    case("some-model", None, OPENAI, S, None, "some-model", "unknown-openai"),
    case("some-model", None, CODEX, S, ENC, "some-model", "unknown-codex"),
    case("acme/some-model(high)", None, OPENAI, r("high"), ENC, "some-model", "unknown-suffix"),
    case("some-model", "xhigh", OPENAI, r("xhigh"), ENC, "some-model", "unknown-unclamped"),
    case(
        "some-model",
        "none",
        OPENAI,
        r("none", summary=False),
        ENC,
        "some-model",
        "none-asks-no-summary",
    ),
]


@pytest.mark.parametrize(("model", "effort", "profile", "expected"), REASONING)
def test_reasoning(
    model: str,
    effort: str | None,
    profile: UpstreamProfile,
    expected: tuple[dict[str, Any] | None, list[str] | None, str],
) -> None:
    reasoning, include, upstream = expected
    body: dict[str, Any] = {"model": model, "messages": [USER_HI]}
    if effort is not None:
        body["reasoning_effort"] = effort
    result = translate(body, profile)
    assert result.body.get("reasoning") == reasoning
    assert result.body.get("include") == include
    assert result.body["model"] == upstream
    assert result.model == model
    assert result.match.upstream_name == upstream


def test_reasoning_uses_the_user_catalog() -> None:
    user = b'{"models": [{"slug": "mine", "supported_reasoning_levels": ["none", "low"]}]}'
    catalog = Catalog.parse(embedded_catalog(), user)
    body = {"model": "mine", "messages": [USER_HI], "reasoning_effort": "minimal"}
    assert translate(body, catalog=catalog).body["reasoning"] == {
        "effort": "low",
        "summary": "auto",
    }
    body = {"model": "mine", "messages": [USER_HI]}  # no default level: nothing sent
    assert "reasoning" not in translate(body, catalog=catalog).body


# --- profiles applied --------------------------------------------------------------------------

EVERYTHING = {
    "model": "openai/gpt-5.5-2026-04-23(high)",
    "messages": [{"role": "system", "content": "S"}, USER_HI],
    "temperature": 0.5,
    "top_p": 0.9,
    "max_completion_tokens": 64,
    "user": "u",
    "safety_identifier": "s",
    "metadata": {"k": "v"},
    "service_tier": "flex",
    "prompt_cache_key": "pk",
    "prompt_cache_retention": "24h",
    "parallel_tool_calls": True,
    "stream": True,
    "stream_options": {"include_usage": True},
    "store": True,
    "seed": 7,
}


def test_everything_for_codex() -> None:
    result = translate(EVERYTHING, CODEX)
    assert result.body == {
        "model": "gpt-5.5-2026-04-23",
        "instructions": "S",
        "input": [HI],
        "parallel_tool_calls": True,
        "prompt_cache_key": "pk",
        "service_tier": "flex",  # the catalog lists it for gpt-5.5
        "reasoning": {"effort": "high", "summary": "auto"},
        "include": ["reasoning.encrypted_content"],
        "store": False,
        "stream": True,
    }
    assert set(result.dropped) == {
        "store",
        "seed",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "metadata",
        "user",
        "safety_identifier",
    }
    assert result.removed == ("prompt_cache_retention",)
    assert len(result.dropped) == len(set(result.dropped))
    assert (result.stream, result.include_usage) == (True, True)
    assert result.model == "openai/gpt-5.5-2026-04-23(high)"


def test_everything_for_openai() -> None:
    result = translate(EVERYTHING, OPENAI)
    assert result.body == {
        "model": "gpt-5.5-2026-04-23",
        "instructions": "S",
        "input": [HI],
        "parallel_tool_calls": True,
        "max_output_tokens": 64,
        "temperature": 0.5,
        "top_p": 0.9,
        "metadata": {"k": "v"},
        "service_tier": "flex",
        "prompt_cache_key": "pk",
        "prompt_cache_retention": "24h",
        "user": "u",
        "safety_identifier": "s",
        "reasoning": {"effort": "high", "summary": "auto"},
        "include": ["reasoning.encrypted_content"],
        "store": False,
        "stream": True,
    }
    assert result.dropped == ("store", "seed")


@pytest.mark.parametrize(
    ("tier", "sent", "dropped"),
    [("priority", "priority", ()), ("fast", "priority", ()), ("auto", None, ("service_tier",))],
)
def test_codex_service_tiers(tier: str, sent: str | None, dropped: tuple[str, ...]) -> None:
    result = translate({"model": "gpt-5.5", "messages": [USER_HI], "service_tier": tier}, CODEX)
    assert result.body.get("service_tier") == sent
    assert result.dropped == dropped


# --- any JSON: a Translation or a ClientError, never a crash ------------------------------------

_WORDS = st.sampled_from(
    [
        "model", "messages", "input", "role", "content", "type", "text", "tool_calls", "id",
        "function", "custom", "name", "arguments", "input", "tool_call_id", "function_call",
        "image_url", "url", "detail", "file", "file_data", "file_id", "refusal", "tools",
        "functions", "tool_choice", "allowed_tools", "mode", "parameters", "strict", "format",
        "grammar", "response_format", "json_schema", "schema", "reasoning", "effort",
        "reasoning_effort", "include", "stream", "stream_options", "include_usage", "n",
        "service_tier", "web_search_options", "user_location", "approximate", "store",
        "system", "user", "assistant", "tool", "developer", "auto", "high", "gpt-5.5",
    ]
)  # fmt: skip
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=False) | _WORDS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_WORDS, inner, max_size=5),
    max_leaves=20,
)


def _shaped(*keys: str) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with some of `keys` (any JSON values), so the walk gets past the first check."""
    return st.fixed_dictionaries({}, optional=dict.fromkeys(keys, _JSON))


_PART = _shaped("type", "text", "refusal", "image_url", "file", "input_audio") | st.builds(
    lambda kind, rest: {"type": kind, **rest},
    st.sampled_from(["text", "refusal", "image_url", "file", "input_audio"]) | _JSON,
    _shaped("text", "refusal", "image_url", "file"),
)
_CALL = st.builds(
    lambda call, fn: {**call, "function": fn},
    _shaped("id", "type", "custom"),
    _shaped("name", "arguments") | _JSON,
)
_MESSAGE = st.builds(
    lambda role, rest: {"role": role, **rest},
    st.sampled_from(["system", "developer", "user", "assistant", "tool", "function"]) | _JSON,
    st.fixed_dictionaries(
        {},
        optional={
            "content": _JSON | st.lists(_PART, max_size=3),
            "tool_calls": _JSON | st.lists(_CALL, max_size=2),
            "tool_call_id": _JSON,
            "name": _JSON,
            "function_call": _JSON | _shaped("name", "arguments"),
            "refusal": _JSON,
        },
    ),
)
_TOOL = _shaped("type", "function", "custom") | st.builds(
    lambda kind, inner: {"type": kind, kind: inner},
    st.sampled_from(["function", "custom"]),
    _shaped("name", "description", "parameters", "strict", "format"),
)
# fmt: off
_CHAT_PARAMS = [
    "n", "logit_bias", "audio", "modalities", "prediction", "temperature", "top_p", "max_tokens",
    "max_completion_tokens", "parallel_tool_calls", "metadata", "service_tier", "user",
    "reasoning_effort", "verbosity", "response_format", "web_search_options", "tool_choice",
    "function_call", "functions", "stream", "stream_options", "store", "seed",
]
_RESPONSES_PARAMS = [
    "input", "reasoning", "include", "instructions", "service_tier", "store", "text", "tools",
]
# fmt: on
_MODELS = st.sampled_from(["gpt-5.5", "m", "gpt-5.5(high)", "gpt-5.3-codex-spark"])
_PROFILES = st.sampled_from([OPENAI, CODEX])


def _one_of_these(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """One or two of `keys` with any JSON, the rest left out: each value reaches its check."""
    return st.dictionaries(st.sampled_from(keys), _JSON, min_size=1, max_size=2)


def _translates_or_refuses(body: dict[str, Any], profile: UpstreamProfile) -> None:
    try:
        translate_request(body, catalog=CATALOG, profile=profile)
    except ClientError as err:
        assert 400 <= err.status < 500
        assert err.message


@settings(max_examples=200, deadline=None)
@given(model=_MODELS, messages=st.lists(_MESSAGE, min_size=1, max_size=4), profile=_PROFILES)
def test_any_messages_translate_or_are_a_client_error(
    model: str, messages: list[Any], profile: UpstreamProfile
) -> None:
    _translates_or_refuses({"model": model, "messages": messages}, profile)


@settings(max_examples=200, deadline=None)
@given(
    model=_MODELS,
    params=_one_of_these(_CHAT_PARAMS),
    tools=st.none() | st.lists(_TOOL, max_size=2),
    profile=_PROFILES,
)
def test_any_parameters_translate_or_are_a_client_error(
    model: str, params: dict[str, Any], tools: list[Any] | None, profile: UpstreamProfile
) -> None:
    body = {"model": model, "messages": [USER_HI], "tools": tools, **params}
    _translates_or_refuses(body, profile)


@settings(max_examples=200, deadline=None)
@given(model=_MODELS | _JSON, params=_one_of_these(_RESPONSES_PARAMS), profile=_PROFILES)
def test_any_responses_shaped_body_translates_or_is_a_client_error(
    model: object, params: dict[str, Any], profile: UpstreamProfile
) -> None:
    _translates_or_refuses({"model": model, "input": "hi", **params}, profile)


DETAILED = {"summary": "detailed"}


@pytest.mark.parametrize(
    ("body", "summary"),
    [
        ({"model": "gpt-5.5", "messages": [USER_HI], "reasoning_effort": "high"}, None),
        (
            {
                "model": "gpt-5.5",
                "input": "hi",
                "reasoning": {"effort": "low", "summary": "concise"},
            },
            "concise",
        ),
    ],
)
def test_summaries_off_leaves_out_only_the_default_summary(
    body: dict[str, Any], summary: str | None
) -> None:
    result = translate_request(body, catalog=Catalog.default(), profile=OPENAI, summaries=False)
    assert result.body["reasoning"].get("summary") == summary
    assert result.body["reasoning"]["effort"] in ("high", "low")


def test_a_token_limit_below_the_responses_minimum_is_raised_to_it() -> None:
    result = translate({"model": "gpt-5.5", "messages": [USER_HI], "max_tokens": 1}, OPENAI)
    assert result.body["max_output_tokens"] == 16
    result = translate({"model": "gpt-5.5", "messages": [USER_HI], "max_tokens": 900}, OPENAI)
    assert result.body["max_output_tokens"] == 900


# --- custom tools round trip (translate_messages rule 3) ---------------------------------------

SQL_TOOL = {
    "type": "custom",
    "custom": {
        "name": "sql",
        "description": "Run SQL",
        "format": {"type": "grammar", "grammar": {"syntax": "lark", "definition": "start: /.+/"}},
    },
}
SQL_UPSTREAM = {
    "type": "custom",
    "name": "sql",
    "description": "Run SQL",
    "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"},
}


def replay(call: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        USER_HI,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_s", "content": "1 row"},
    ]


CUSTOM_REPLAYS = [
    pytest.param(
        {"id": "call_s", "type": "custom", "custom": {"name": "sql", "input": "SELECT 1"}},
        id="openai-custom-shape",
    ),
    pytest.param(
        {"id": "call_s", "type": "function", "function": {"name": "sql", "arguments": "SELECT 1"}},
        id="the-streamed-function-shape",
    ),
    pytest.param(
        {"id": "call_s", "function": {"name": "sql", "arguments": "SELECT 1"}},
        id="function-shape-without-type",
    ),
]


@pytest.mark.parametrize("call", CUSTOM_REPLAYS)
def test_a_call_to_a_declared_custom_tool_goes_back_as_custom(call: dict[str, Any]) -> None:
    body = {"model": "m", "messages": replay(call), "tools": [SQL_TOOL]}
    result = translate(body)
    assert result.body["tools"] == [SQL_UPSTREAM]
    assert result.body["input"][1:] == [
        {"type": "custom_tool_call", "call_id": "call_s", "name": "sql", "input": "SELECT 1"},
        {"type": "custom_tool_call_output", "call_id": "call_s", "output": "1 row"},
    ]


def test_a_function_call_to_an_undeclared_name_stays_a_function_call() -> None:
    call = {"id": "call_s", "type": "function", "function": {"name": "sql", "arguments": "{}"}}
    result = translate({"model": "m", "messages": replay(call)})
    assert [item["type"] for item in result.body["input"][1:]] == [
        "function_call",
        "function_call_output",
    ]


# --- legacy functions --------------------------------------------------------------------------

GET_WEATHER = {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}


def test_legacy_functions_ask_for_one_call_and_answer_in_the_legacy_shape() -> None:
    messages = [
        USER_HI,
        {
            "role": "assistant",
            "content": None,
            "function_call": {"name": "get_weather", "arguments": "{}"},
        },
        {"role": "function", "name": "get_weather", "content": "sunny"},
    ]
    result = translate({"model": "m", "messages": messages, "functions": [GET_WEATHER]})
    assert result.legacy_functions is True
    assert result.body["parallel_tool_calls"] is False
    assert result.body["input"][1:] == [
        {
            "type": "function_call",
            "call_id": "call_legacy_1",
            "name": "get_weather",
            "arguments": "{}",
        },
        {"type": "function_call_output", "call_id": "call_legacy_1", "output": "sunny"},
    ]
    ctx = result.chunk_context(chunk_id="c", created=1, reasoning=ReasoningMode.NONE)
    assert ctx == ChunkContext("c", 1, "m", ReasoningMode.NONE, (), True)


@pytest.mark.parametrize(
    ("extra", "legacy", "parallel"),
    [
        ({"functions": [GET_WEATHER], "parallel_tool_calls": True}, True, True),
        ({"functions": [GET_WEATHER], "tools": [FN]}, False, None),
        ({"tools": [FN]}, False, None),
        ({}, False, None),
    ],
)
def test_legacy_shape_only_for_functions_without_tools(
    extra: dict[str, Any], legacy: bool, parallel: bool | None
) -> None:
    result = translate({"model": "m", "messages": [USER_HI], **extra})
    assert (result.legacy_functions, result.body.get("parallel_tool_calls")) == (legacy, parallel)


# --- stop (rule 4) -----------------------------------------------------------------------------

STOPS = [
    (None, ()),
    ("END", ("END",)),
    ("", ()),
    ([], ()),
    (["a", "", "b"], ("a", "b")),
    (["1", "2", "3", "4"], ("1", "2", "3", "4")),
]


@pytest.mark.parametrize(("stop", "kept"), STOPS)
def test_stop_is_kept_for_the_answer_and_never_sent(stop: Any, kept: tuple[str, ...]) -> None:
    for profile in (OPENAI, CODEX):
        result = translate({"model": "gpt-5.5", "messages": [USER_HI], "stop": stop}, profile)
        assert result.stop == kept
        assert "stop" not in result.body and "stop" not in result.dropped
        ctx = result.chunk_context(chunk_id="c", created=1, reasoning=ReasoningMode.THINK)
        assert ctx.stop == kept and ctx.model == "gpt-5.5"
    shaped = translate({"model": "m", "input": "hi", "stop": stop})
    assert shaped.stop == kept and "stop" not in shaped.dropped


@pytest.mark.parametrize(
    ("stop", "param", "code"),
    [
        (["1", "2", "3", "4", "5"], "stop", "invalid_value"),
        (5, "stop", "invalid_type"),
        (["a", 1], "stop[1]", "invalid_type"),
        ({"x": 1}, "stop", "invalid_type"),
    ],
)
def test_stop_errors(stop: Any, param: str, code: str) -> None:
    err = refused({"model": "m", "messages": [USER_HI], "stop": stop})
    assert (err.status, err.param, err.code) == (400, param, code)


# --- aliases -----------------------------------------------------------------------------------


def test_a_retired_model_is_sent_under_its_replacement() -> None:
    result = translate({"model": "gpt-5.3-codex-high", "messages": [USER_HI]})
    assert result.body["model"] == "gpt-5.5"
    assert result.body["reasoning"]["effort"] == "high"
    assert (result.model, result.match.alias_of) == ("gpt-5.3-codex-high", "gpt-5.3-codex")


# --- unknown models still ask for a summary (rule 2) -------------------------------------------


@pytest.mark.parametrize("summaries", [True, False])
def test_unknown_model_summary_follows_the_summaries_switch(summaries: bool) -> None:
    body = {"model": "mystery", "messages": [USER_HI]}
    result = translate_request(body, catalog=CATALOG, profile=OPENAI, summaries=summaries)
    assert result.body.get("reasoning") == ({"summary": "auto"} if summaries else None)
    assert "include" not in result.body


def test_legacy_answers_find_their_call_whatever_the_order() -> None:
    messages = [
        USER_HI,
        {"role": "assistant", "function_call": {"name": "a", "arguments": "{}"}},
        {"role": "assistant", "function_call": {"name": "b", "arguments": "{}"}},
        {"role": "function", "name": "a", "content": "A"},
        {"role": "function", "name": "b", "content": "B"},
    ]
    items = translate({"model": "m", "messages": messages}).body["input"]
    assert items[3:] == [output("call_legacy_1", "A"), output("call_legacy_2", "B")]
    swapped = [*messages[:3], messages[4], messages[3]]
    items = translate({"model": "m", "messages": swapped}).body["input"]
    assert items[3:] == [output("call_legacy_2", "B"), output("call_legacy_1", "A")]


def test_a_system_message_mid_conversation_takes_the_profiles_role() -> None:
    later = {"role": "system", "content": "Now be brief."}
    body = {"model": "m", "messages": [USER_HI, later]}
    moved = translate(body, CODEX).body["input"][1]
    assert moved["role"] == "developer" == CODEX.system_role_as
    assert translate(body, OPENAI).body["input"][1]["role"] == "system"


def test_store_false_is_not_reported_and_the_leftovers_after_it_are() -> None:
    body = {"model": "m", "messages": [USER_HI], "store": False, "seed": 7, "logprobs": True}
    assert translate(body).dropped == ("seed", "logprobs")


def test_an_unknown_model_keeps_the_summary_the_client_asked_for() -> None:
    body = {"model": "m", "input": "hi", "reasoning": {"summary": "concise"}}
    assert translate(body).body["reasoning"] == {"summary": "concise"}


def test_a_later_system_message_stays_a_system_message_by_default() -> None:
    later = {"role": "system", "content": "Now be brief."}
    _, items = translate_messages([USER_HI, later])
    assert items[1]["role"] == "system"


def test_a_part_or_call_is_what_its_type_says_whatever_else_it_carries() -> None:
    image = {"type": "image_url", "image_url": {"url": "https://x/i.png"}, "text": "a caption"}
    custom = {
        "id": "c1",
        "type": "custom",
        "custom": {"name": "sql", "input": "SELECT 1"},
        "function": {"name": "sql", "arguments": "{}"},
    }
    messages = [{"role": "user", "content": [image]}, {"role": "assistant", "tool_calls": [custom]}]
    items = translate({"model": "m", "messages": messages}).body["input"]
    assert items[0]["content"] == [
        {"type": "input_image", "image_url": "https://x/i.png", "detail": "auto"}
    ]
    assert items[1] == {
        "type": "custom_tool_call",
        "call_id": "c1",
        "name": "sql",
        "input": "SELECT 1",
    }
