"""The calls a tool scenario makes: to the tools the request declares, with placeholder
arguments built from each tool's JSON schema.

A request declares function tools in its top-level `tools`, or (Responses-Lite, lite.py) in the
leading `additional_tools` input item; without any, the calls go to `get_weather` and
`get_time`.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chat2responses.emulator.lite import additional_tools

_DEFAULT_CALLS = (("get_weather", {"city": "Paris"}), ("get_time", {"timezone": "Europe/Paris"}))

# A placeholder value per JSON-schema type, for arguments of tools the request declares.
_PLACEHOLDERS: Mapping[str, Any] = {
    "string": "emulator",
    "integer": 1,
    "number": 1.5,
    "boolean": True,
    "array": [],
    "object": {},
    "null": None,
}


def tool_calls(body: Mapping[str, Any], count: int) -> list[tuple[str, dict[str, Any]]]:
    """`count` calls to the request's first function tools (repeating the last one if fewer),
    or to `get_weather` / `get_time` when it declares none."""
    declared = [
        tool
        for tool in [*(body.get("tools") or ()), *additional_tools(body)]
        if isinstance(tool, dict) and tool.get("type") == "function" and tool.get("name")
    ]
    if not declared:
        return [(name, dict(args)) for name, args in _DEFAULT_CALLS[:count]]
    chosen = [declared[min(i, len(declared) - 1)] for i in range(count)]
    return [(tool["name"], _arguments(tool.get("parameters"))) for tool in chosen]


def _arguments(schema: Any) -> dict[str, Any]:
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return {}
    return {name: _placeholder(spec) for name, spec in properties.items()}


def _placeholder(spec: Any) -> Any:
    if not isinstance(spec, dict):
        return "emulator"
    if isinstance(spec.get("enum"), list) and spec["enum"]:
        return spec["enum"][0]
    kind = spec.get("type")
    if isinstance(kind, list):  # ["string", "null"]: take the first type
        kind = kind[0] if kind else "string"
    return _PLACEHOLDERS.get(kind, "emulator") if isinstance(kind, str) else "emulator"


def custom_tool(body: Mapping[str, Any]) -> str | None:
    """The name of the request's first custom (freeform) tool, when it declares no function
    tool: a tool scenario then calls it with a raw text input."""
    tools = [
        t for t in [*(body.get("tools") or ()), *additional_tools(body)] if isinstance(t, dict)
    ]
    if any(t.get("type") == "function" for t in tools):
        return None
    names = [t.get("name") for t in tools if t.get("type") == "custom"]
    return names[0] if names and isinstance(names[0], str) else None
