"""An agent's turn as the emulator plays it (`[scenario:agent]`, `[scenario:agent:N]`): the model
calls the client's own tool, once per response, until the client has sent back N tool outputs
after the last user message; then it answers from the last output.

An agent (the Codex CLI, opencode) runs the tool and sends its output in the next request, so a
scripted model that always calls a tool never lets a turn end, and placeholder arguments are
refused by real tools. So:

Rule 1 (which tool): the first shell-like function tool (by name, `SHELL_TOOLS` in order, else
        one with a `cmd` or `command` property), else the first function tool.
Rule 2 (arguments): the required properties only, each a value of its JSON type (an enum's first
        value, a whole number for `number`); the command property of a shell-like tool gets
        `COMMAND` (a string, or `["bash", "-lc", COMMAND]` for an array of strings).
Rule 3 (the answer): once N outputs came back, a message quoting the last one. `COMMAND` prints
        `MARK` only when a shell evaluated it: the arguments themselves never contain `MARK`.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chat2responses.emulator.tools import function_tools, placeholder, schema_type

SHELL_TOOLS = (
    "exec_command",
    "shell",
    "shell_command",
    "local_shell",
    "bash",
    "run_shell_command",
    "run_command",
    "terminal",
)
_COMMAND_KEYS = ("cmd", "command")
COMMAND = "echo c2r-agent-$((6*7))"
MARK = "c2r-agent-42"
_OUTPUTS = frozenset({"function_call_output", "custom_tool_call_output"})
_QUOTED = 2000  # characters of the tool's output the answer quotes, at most


@dataclass(frozen=True, slots=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]


def agent_call(body: Mapping[str, Any]) -> ToolCall | None:
    """The call this turn makes (rules 1 and 2), or None when the request declares no function
    tool."""
    tools = function_tools(body)
    shell = _shell_tool(tools)
    tool = shell or (tools[0] if tools else None)
    if tool is None:
        return None
    schema = tool.get("parameters")
    properties = schema.get("properties") if isinstance(schema, dict) else None
    properties = properties if isinstance(properties, dict) else {}
    required = schema.get("required") if isinstance(schema, dict) else None
    names = [name for name in required or () if isinstance(name, str) and name in properties]
    arguments = {name: placeholder(properties[name]) for name in names}
    if shell is not None:
        key = _command_key(properties)
        if key is not None:
            arguments[key] = _command(properties[key])
    return ToolCall(tool["name"], arguments)


def _shell_tool(tools: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    by_name = {tool["name"]: tool for tool in tools}
    for name in SHELL_TOOLS:
        if name in by_name and _command_key(_properties(by_name[name])) is not None:
            return by_name[name]
    return next((tool for tool in tools if _command_key(_properties(tool)) is not None), None)


def _properties(tool: Mapping[str, Any]) -> dict[str, Any]:
    schema = tool.get("parameters")
    properties = schema.get("properties") if isinstance(schema, dict) else None
    return properties if isinstance(properties, dict) else {}


def _command_key(properties: Mapping[str, Any]) -> str | None:
    for key in _COMMAND_KEYS:
        if schema_type(properties.get(key)) in ("string", "array"):
            return key
    return None


def _command(spec: Any) -> Any:
    return ["bash", "-lc", COMMAND] if schema_type(spec) == "array" else COMMAND


def outputs_since_user(items: object) -> list[str]:
    """The texts of the tool outputs that follow the last user message of `items`."""
    outputs: list[str] = []
    for item in reversed(items if isinstance(items, list) else []):
        if not isinstance(item, dict):
            continue
        if item.get("role") == "user":
            break
        if item.get("type") in _OUTPUTS:
            outputs.append(output_text(item.get("output")))
    return outputs[::-1]


def output_text(output: object) -> str:
    """A tool output as text: a string, or its text parts joined."""
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        return "".join(
            part["text"]
            for part in output
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def answer(outputs: Sequence[str]) -> str:
    """Rule 3: the turn's last words, quoting the last output."""
    last = outputs[-1].strip() if outputs else ""
    return f"The tool answered:\n{last[:_QUOTED]}" if last else "The tool answered nothing."
