"""An agent's turn as the emulator plays it (agent.py): which tool it calls, with which arguments,
and the answer once the client sent the tool's output back; and the tools it finds (tools.py)."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from chat2responses.emulator.agent import (
    COMMAND,
    MARK,
    ToolCall,
    agent_call,
    answer,
    output_text,
    outputs_since_user,
)
from chat2responses.emulator.scenarios import play
from chat2responses.emulator.steps import Emit
from chat2responses.emulator.tools import declared_tools, placeholder, tool_calls
from tests.emulator.test_emulator import check_stream, request

# The Codex CLI 0.171's shell tool (trimmed): `number`s it reads as integers, one required key.
EXEC_COMMAND = {
    "type": "function",
    "name": "exec_command",
    "parameters": {
        "type": "object",
        "properties": {
            "cmd": {"type": "string"},
            "workdir": {"type": "string"},
            "yield_time_ms": {"type": "number"},
            "sandbox_permissions": {"type": "string", "enum": ["use_default", "x"]},
        },
        "required": ["cmd"],
        "additionalProperties": False,
    },
}
# opencode 1.18's (trimmed): a second required property.
BASH = {
    "type": "function",
    "name": "bash",
    "parameters": {
        "type": "object",
        "properties": {
            "command": {"type": "string"},
            "timeout": {"type": "integer"},
            "description": {"type": "string"},
        },
        "required": ["command", "description"],
    },
}
# A legacy shell tool whose command is an argv.
SHELL = {
    "type": "function",
    "name": "shell",
    "parameters": {
        "type": "object",
        "properties": {"command": {"type": "array", "items": {"type": "string"}}},
        "required": ["command"],
    },
}
READ = {
    "type": "function",
    "name": "read",
    "parameters": {
        "type": "object",
        "properties": {"filePath": {"type": "string"}, "limit": {"type": "number"}},
        "required": ["filePath", "limit"],
    },
}
PATCH = {"type": "custom", "name": "apply_patch"}


def namespace(name: str, *tools: dict[str, Any]) -> dict[str, Any]:
    return {"type": "namespace", "name": name, "description": "", "tools": list(tools)}


@pytest.mark.parametrize(
    ("tools", "expected"),
    [
        ([READ, EXEC_COMMAND], ToolCall("exec_command", {"cmd": COMMAND})),
        ([READ, BASH], ToolCall("bash", {"command": COMMAND, "description": "emulator"})),
        ([SHELL], ToolCall("shell", {"command": ["bash", "-lc", COMMAND]})),
        ([READ], ToolCall("read", {"filePath": "emulator", "limit": 1})),
        ([namespace("functions", PATCH, BASH)],
         ToolCall("bash", {"command": COMMAND, "description": "emulator"})),
        ([PATCH], None),
        ([], None),
    ],
)  # fmt: skip
def test_the_agent_calls_a_shell_like_tool_with_its_required_arguments(
    tools: list[dict[str, Any]], expected: ToolCall | None
) -> None:
    assert agent_call(request(tools=tools)) == expected


def test_the_command_prints_the_mark_only_when_a_shell_runs_it() -> None:
    assert MARK not in COMMAND
    ran = subprocess.run(["bash", "-c", COMMAND], capture_output=True, text=True, check=True)
    assert ran.stdout.strip() == MARK


@pytest.mark.parametrize(
    ("spec", "value"),
    [
        ({"type": "number"}, 1),
        ({"type": "integer"}, 1),
        ({"type": ["null", "string"]}, "emulator"),
        ({"type": "boolean"}, True),
        ({"enum": ["a", "b"], "type": "string"}, "a"),
        ({}, "emulator"),
    ],
)
def test_placeholders_have_the_schema_type(spec: dict[str, Any], value: Any) -> None:
    assert placeholder(spec) == value
    assert type(placeholder(spec)) is type(value)


def test_namespace_members_count_as_declared_tools() -> None:
    body = request(tools=[namespace("functions", READ, PATCH), BASH])
    assert [tool["name"] for tool in declared_tools(body)] == ["read", "apply_patch", "bash"]
    assert tool_calls(body, 1) == [("read", {"filePath": "emulator", "limit": 1})]


def _turn(text: str, *after: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": [{"type": "input_text", "text": "earlier"}]},
        {"type": "function_call_output", "call_id": "c0", "output": "stale"},
        {"role": "user", "content": [{"type": "input_text", "text": text}]},
        *after,
    ]


def _call(call_id: str) -> dict[str, Any]:
    return {"type": "function_call", "call_id": call_id, "name": "bash", "arguments": "{}"}


def _output(call_id: str, output: Any) -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": output}


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        (_turn("go"), []),
        (_turn("go", _call("c1"), _output("c1", "one")), ["one"]),
        (_turn("go", _call("c1"), _output("c1", [{"type": "input_text", "text": "a"},
                                                 {"type": "input_text", "text": "b"}])), ["ab"]),
        (_turn("go", _output("c1", "one"), _output("c2", "two")), ["one", "two"]),
        ("not a list", []),
    ],
)  # fmt: skip
def test_outputs_count_from_the_last_user_message(items: Any, expected: list[str]) -> None:
    assert outputs_since_user(items) == expected


def test_output_text_and_answer() -> None:
    assert output_text({"not": "text"}) == ""
    assert answer(["x", "  printed c2r-agent-42\n"]) == "The tool answered:\nprinted c2r-agent-42"
    assert answer([]) == "The tool answered nothing."


def _played(body: dict[str, Any]) -> list[dict[str, Any]]:
    steps = play(body, response_id="resp_agent", created_at=1)
    return check_stream(body, steps)


def test_an_agent_turn_calls_the_tool_n_times_then_answers_from_its_output() -> None:
    body = request("[scenario:agent:2] run it", tools=[READ, BASH])
    first = _played(body)
    calls = [e["item"] for e in first if e["type"] == "response.output_item.done"]
    assert [item["type"] for item in calls] == ["reasoning", "function_call"]
    assert json.loads(calls[1]["arguments"]) == {"command": COMMAND, "description": "emulator"}

    body["input"] += [calls[1], _output(calls[1]["call_id"], "c2r-agent-42\n")]
    second = _played(body)
    assert [e["item"]["type"] for e in second if e["type"] == "response.output_item.done"] == [
        "reasoning",
        "function_call",
    ]
    body["input"] += [_output("c9", "Output:\nc2r-agent-42\n")]
    third = _played(body)
    text = next(e["text"] for e in third if e["type"] == "response.output_text.done")
    assert text == "The tool answered:\nOutput:\nc2r-agent-42"


def test_an_agent_turn_without_a_function_tool_answers_at_once() -> None:
    events = _played(request("[scenario:agent]", tools=[PATCH]))
    assert not any(
        isinstance(e.get("item"), dict) and e["item"]["type"] == "function_call" for e in events
    )
    assert isinstance(play(request("[scenario:agent]"), response_id="r", created_at=1)[0], Emit)
