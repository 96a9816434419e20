"""Every 400 the request side writes, in full, for one case of each place that writes one: the
OpenAI API's wording ("Invalid type for 'x': expected …, but got … instead.", "Missing required
parameter: 'x'.", "Invalid value for 'x': … Supported values are: …"), the exact parameter path,
the client's value quoted back, and what would have been accepted."""

from __future__ import annotations

from typing import Any

import pytest

from chat2responses.protocol.errors import ClientError
from tests.request.test_translate import FN, USER_HI, refused


def chat(**params: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [USER_HI], **params}


def messages(*sent: Any) -> dict[str, Any]:
    return {"model": "m", "messages": list(sent)}


def bad_type(param: str, expected: str, got: str) -> tuple[str, str, str]:
    return (
        param,
        "invalid_type",
        f"Invalid type for '{param}': expected {expected}, but got {got} instead.",
    )


def missing(param: str) -> tuple[str, str, str]:
    return param, "missing_required_parameter", f"Missing required parameter: '{param}'."


def bad_value(param: str, value: object, *supported: str) -> tuple[str, str, str]:
    listed = ", ".join(f"'{s}'" for s in supported)
    return (
        param,
        "invalid_value",
        f"Invalid value for '{param}': {value!r}. Supported values are: {listed}.",
    )


# body → the error's (param, code, message)
ERRORS = [
    (
        {"model": " ", "messages": [USER_HI]},
        ("model", "invalid_value", "'model' must not be empty."),
    ),
    (
        chat(input="hi"),
        (
            "input",
            "invalid_value",
            "Send either 'messages' (Chat Completions) or 'input' (Responses), not both.",
        ),
    ),
    (messages(), ("messages", "invalid_value", "'messages' must contain at least one message.")),
    (
        messages({"role": "user", "content": 5}),
        bad_type("messages[0].content", "a string or an array", "an integer"),
    ),
    (chat(functions=[1]), bad_type("functions[0]", "an object", "an integer")),
    (
        chat(tools=[{"type": "retrieval"}]),
        bad_value("tools[0].type", "retrieval", "function", "custom"),
    ),
    (chat(tools=[{"type": "custom", "custom": {}}]), missing("tools[0].custom.name")),
    (
        chat(tools=[{"type": "custom", "custom": {"name": "sql", "description": 5}}]),
        bad_type("tools[0].custom.description", "a string", "an integer"),
    ),
    (
        chat(tools=[{"type": "custom", "custom": {"name": "sql", "format": "lark"}}]),
        bad_type("tools[0].custom.format", "an object", "a string"),
    ),
    (
        chat(
            tools=[
                {
                    "type": "custom",
                    "custom": {
                        "name": "sql",
                        "format": {"type": "grammar", "grammar": {"definition": "x"}},
                    },
                }
            ]
        ),
        missing("tools[0].custom.format.grammar.syntax"),
    ),
    (
        chat(tools=[{"type": "custom", "custom": {"name": "sql", "format": {"type": "regex"}}}]),
        bad_value("tools[0].custom.format.type", "regex", "text", "grammar"),
    ),
    (
        chat(web_search_options={"user_location": "Paris"}),
        bad_type("web_search_options.user_location", "an object", "a string"),
    ),
    (
        chat(web_search_options={"user_location": {"approximate": {"city": 75}}}),
        bad_type("web_search_options.user_location.approximate.city", "a string", "an integer"),
    ),
    (
        chat(tool_choice="sometimes"),
        bad_value("tool_choice", "sometimes", "none", "auto", "required"),
    ),
    (
        chat(tools=[FN], tool_choice={"type": "allowed_tools", "allowed_tools": {"tools": [FN]}}),
        missing("tool_choice.allowed_tools.mode"),
    ),
    (
        chat(
            tools=[FN],
            tool_choice={"type": "allowed_tools", "allowed_tools": {"mode": "any", "tools": [FN]}},
        ),
        bad_value("tool_choice.allowed_tools.mode", "any", "auto", "required"),
    ),
    (
        chat(
            tools=[FN],
            tool_choice={"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": [5]}},
        ),
        bad_type("tool_choice.allowed_tools.tools[0]", "an object", "an integer"),
    ),
    (
        chat(tools=[FN], tool_choice={"type": "mcp"}),
        bad_value("tool_choice.type", "mcp", "function", "custom", "allowed_tools"),
    ),
    (
        chat(functions=[{"name": "f"}], function_call="sometimes"),
        bad_value("function_call", "sometimes", "none", "auto"),
    ),
    (
        chat(stop=["a", "b", "c", "d", "e"]),
        ("stop", "invalid_value", "'stop' may hold at most 4 sequences, not 5."),
    ),
    (chat(stream="yes"), bad_type("stream", "a boolean", "a string")),
    (
        chat(stream_options={"include_usage": "yes"}),
        bad_type("stream_options.include_usage", "a boolean", "a string"),
    ),
    (chat(n="2"), bad_type("n", "an integer", "a string")),
    (chat(n=0), ("n", "invalid_value", "'n' must be at least 1.")),
    (
        chat(modalities=["text", "audio"]),
        (
            "modalities",
            "unsupported_parameter",
            "modalities containing 'audio' is not supported: the Responses API has no audio.",
        ),
    ),
    (chat(verbosity="loud"), bad_value("verbosity", "loud", "low", "medium", "high")),
    (
        chat(response_format={"type": "xml"}),
        bad_value("response_format.type", "xml", "text", "json_object", "json_schema"),
    ),
    (
        chat(
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "s", "description": 5, "schema": {}},
            }
        ),
        bad_type("response_format.json_schema.description", "a string", "an integer"),
    ),
    (
        chat(reasoning_effort="extreme"),
        bad_value(
            "reasoning_effort",
            "extreme",
            "none",
            "minimal",
            "low",
            "medium",
            "high",
            "xhigh",
            "max",
            "ultra",
        ),
    ),
    (messages({"role": 5}), bad_type("messages[0].role", "a string", "an integer")),
    (
        messages(USER_HI, {"role": "assistant", "tool_calls": {"id": "c"}}),
        bad_type("messages[1].tool_calls", "an array", "an object"),
    ),
    (
        messages(USER_HI, {"role": "assistant", "function_call": {"arguments": "{}"}}),
        missing("messages[1].function_call.name"),
    ),
    (
        messages(
            USER_HI,
            {"role": "assistant", "function_call": {"name": "f", "arguments": "{}"}},
            {"role": "function", "name": "f", "content": 5},
        ),
        bad_type("messages[2].content", "a string or an array of text parts", "an integer"),
    ),
    (
        messages(USER_HI, {"role": "function", "name": "lookup", "content": "x"}),
        (
            "messages[1].name",
            "invalid_value",
            "'messages[1].name' is 'lookup', but no earlier assistant message has a "
            "function_call to it.",
        ),
    ),
    (
        messages({"role": "system", "content": 5}),
        bad_type("messages[0].content", "a string or an array of text parts", "an integer"),
    ),
    (
        messages(USER_HI, {"role": "assistant", "content": 5}),
        bad_type("messages[1].content", "a string, an array or null", "an integer"),
    ),
    (
        messages({"role": "system", "content": ["x"]}),
        bad_type("messages[0].content[0]", "an object", "a string"),
    ),
    (
        messages({"role": "system", "content": [{"type": "image_url"}]}),
        bad_value("messages[0].content[0].type", "image_url", "text"),
    ),
    (
        messages({"role": "user", "content": [{"type": ["text"]}]}),
        bad_value(
            "messages[0].content[0].type", ["text"], "text", "image_url", "file", "input_audio"
        ),
    ),
    (
        messages(
            {
                "role": "user",
                "content": [{"type": "image_url", "image_url": {"url": "u", "detail": 5}}],
            }
        ),
        bad_type("messages[0].content[0].image_url.detail", "a string", "an integer"),
    ),
    (
        messages({"role": "user", "content": [{"type": "file"}]}),
        missing("messages[0].content[0].file"),
    ),
    (
        messages(USER_HI, {"role": "assistant", "tool_calls": [{"id": "c", "type": "custom"}]}),
        missing("messages[1].tool_calls[0].custom"),
    ),
    (
        messages(
            USER_HI,
            {
                "role": "assistant",
                "tool_calls": [{"id": "c", "type": "custom", "custom": {"input": "x"}}],
            },
        ),
        missing("messages[1].tool_calls[0].custom.name"),
    ),
    (
        messages(USER_HI, {"role": "assistant", "tool_calls": [{"id": "c", "type": "mcp"}]}),
        bad_value("messages[1].tool_calls[0].type", "mcp", "function", "custom"),
    ),
]


@pytest.mark.parametrize(("body", "expected"), ERRORS)
def test_a_client_error_says_exactly_what_is_wrong(
    body: dict[str, Any], expected: tuple[str, str, str]
) -> None:
    param, code, message = expected
    err = refused(body)
    assert isinstance(err, ClientError)
    assert (err.status, err.type, err.param, err.code, err.message) == (
        400,
        "invalid_request_error",
        param,
        code,
        message,
    )
