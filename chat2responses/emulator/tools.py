"""The tools a request declares, and arguments for them built from each tool's JSON schema.

A request declares tools in its top-level `tools`, or (Responses-Lite, lite.py) in the leading
`additional_tools` input item; either may group them in `namespace` entries (`{"type":
"namespace", "name": …, "tools": [...]}`, as the Codex CLI 0.171 sends its Lite body), whose
members count as declared. The tool scenarios call the first function tools with a placeholder
for every property (without any function tool, `get_weather` and `get_time`); an agent's turn
(agent.py) fills the required properties only, with values of the right JSON type.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chat2responses.emulator.lite import additional_tools

NAMESPACE = "namespace"
_DEFAULT_CALLS = (("get_weather", {"city": "Paris"}), ("get_time", {"timezone": "Europe/Paris"}))

# A placeholder value per JSON-schema type. A `number` gets a whole one: a client may read it
# into an integer (the Codex CLI's `yield_time_ms` is a `number` in the schema, a usize in Rust).
_PLACEHOLDERS: Mapping[str, Any] = {
    "string": "emulator",
    "integer": 1,
    "number": 1,
    "boolean": True,
    "array": [],
    "object": {},
    "null": None,
}


def declared_tools(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every tool the request declares, namespace members in their group's place."""
    out: list[dict[str, Any]] = []
    for tool in [*(body.get("tools") or ()), *additional_tools(body)]:
        if not isinstance(tool, dict):
            continue
        if tool.get("type") == NAMESPACE and isinstance(tool.get("tools"), list):
            out.extend(member for member in tool["tools"] if isinstance(member, dict))
        else:
            out.append(tool)
    return out


def function_tools(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        tool
        for tool in declared_tools(body)
        if tool.get("type") == "function" and isinstance(tool.get("name"), str) and tool["name"]
    ]


def tool_calls(body: Mapping[str, Any], count: int) -> list[tuple[str, dict[str, Any]]]:
    """`count` calls to the request's first function tools (repeating the last one if fewer),
    or to `get_weather` / `get_time` when it declares none."""
    declared = function_tools(body)
    if not declared:
        return [(name, dict(args)) for name, args in _DEFAULT_CALLS[:count]]
    chosen = [declared[min(i, len(declared) - 1)] for i in range(count)]
    return [(tool["name"], _arguments(tool.get("parameters"))) for tool in chosen]


def _arguments(schema: Any) -> dict[str, Any]:
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return {}
    return {name: placeholder(spec) for name, spec in properties.items()}


def schema_type(spec: Any) -> str | None:
    """A property's JSON type (the first of a list such as `["string", "null"]`)."""
    kind = spec.get("type") if isinstance(spec, dict) else None
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), kind[0] if kind else None)
    return kind if isinstance(kind, str) else None


def placeholder(spec: Any) -> Any:
    """A value `spec` accepts: its first enum value, else one of its type."""
    if isinstance(spec, dict) and isinstance(spec.get("enum"), list) and spec["enum"]:
        return spec["enum"][0]
    kind = schema_type(spec)
    return _PLACEHOLDERS.get(kind, "emulator") if kind is not None else "emulator"


def custom_tool(body: Mapping[str, Any]) -> str | None:
    """The name of the request's first custom (freeform) tool, when it declares no function
    tool: a tool scenario then calls it with a raw text input."""
    tools = declared_tools(body)
    if any(t.get("type") == "function" for t in tools):
        return None
    names = [t.get("name") for t in tools if t.get("type") == "custom"]
    return names[0] if names and isinstance(names[0], str) else None
