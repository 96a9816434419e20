"""Responses-Lite: the request shape the backend demands for models whose catalog entry sets
`use_responses_lite` (reference/codex-backend-2026.md §2).

- Rule 1 (marker): the request says it is Lite: over HTTP the header
  `X-OpenAI-Internal-Codex-Responses-Lite: true`, over WebSocket (no per-message headers)
  `client_metadata.ws_request_header_x_openai_internal_codex_responses_lite: "true"` in the
  `response.create`. A Lite model asked for without it gets a 400 saying so.
- Rule 2 (shape), checked in this order, each a 400 naming its parameter:
  no top-level `tools` (tools travel as the first input item
  `{"type": "additional_tools", "role": "developer", "tools": [...]}`); no top-level
  `instructions` beyond "" (send a developer message); `parallel_tool_calls: false`; no forced
  `tool_choice` (only absent, "auto" or "none"); `additional_tools` only as the first item; and
  only function tools, custom tools and client-executed tool search (`"execution": "client"`),
  alone or in `namespace` groups as the Codex CLI sends them (`unsupported_value`).
- Models without `use_responses_lite` ignore the marker and accept the classic shape.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chat2responses.emulator.rules import Rejection

LITE_HEADER = "X-OpenAI-Internal-Codex-Responses-Lite"
LITE_METADATA = "ws_request_header_x_openai_internal_codex_responses_lite"
ADDITIONAL_TOOLS = "additional_tools"
LITE_TOOL_TYPES = frozenset({"function", "custom"})
UNFORCED_CHOICES = (None, "auto", "none")
HOSTED_MESSAGE = (
    f"{LITE_HEADER} only supports function tools, custom tools, and client-executed tool search."
)


def slugs_with(catalog: Mapping[str, Any], flag: str) -> frozenset[str]:
    """The catalog's slugs whose entry sets `flag` (`use_responses_lite`, `prefer_websockets`)."""
    return frozenset(
        model["slug"]
        for model in catalog.get("models", ())
        if isinstance(model, dict)
        and model.get(flag) is True
        and isinstance(model.get("slug"), str)
    )


def lite_slugs(catalog: Mapping[str, Any]) -> frozenset[str]:
    """The catalog's slugs whose entry sets `use_responses_lite`."""
    return slugs_with(catalog, "use_responses_lite")


def is_true(value: object) -> bool:
    return isinstance(value, str | bool) and str(value).strip().lower() == "true"


def websocket_marker(body: Mapping[str, Any]) -> bool:
    """Rule 1 over WebSocket: the marker in `client_metadata`."""
    metadata = body.get("client_metadata")
    return isinstance(metadata, dict) and is_true(metadata.get(LITE_METADATA))


def additional_tools(body: Mapping[str, Any]) -> list[Any]:
    """The tools of the input's leading `additional_tools` item (none without one)."""
    items = body.get("input")
    first = items[0] if isinstance(items, list) and items else None
    if isinstance(first, dict) and first.get("type") == ADDITIONAL_TOOLS:
        tools = first.get("tools")
        return list(tools) if isinstance(tools, list) else []
    return []


def _bad(message: str, param: str | None, code: str = "invalid_value") -> Rejection:
    return Rejection(400, message, code=code, param=param)


def check_lite(body: Mapping[str, Any], *, marked: bool) -> Rejection | None:
    """Rule 1 and Rule 2 for a request to a Lite model; None when it is well formed."""
    model = body.get("model")
    if not marked:
        return _bad(
            f"Model {model!r} only supports Responses-Lite requests: send the header "
            f"'{LITE_HEADER}: true' (over WebSocket: client_metadata.{LITE_METADATA} = "
            "'true') with tools in an additional_tools input item.",
            None,
            "responses_lite_required",
        )
    if body.get("tools") is not None:
        return _bad(
            "Responses-Lite does not take a top-level 'tools' array; send the tools as the "
            "first input item {'type': 'additional_tools', 'role': 'developer', 'tools': [...]}.",
            "tools",
            "unsupported_parameter",
        )
    if body.get("instructions"):
        return _bad(
            "Responses-Lite does not take top-level 'instructions'; send them as a developer "
            "message in the input.",
            "instructions",
            "unsupported_parameter",
        )
    if body.get("parallel_tool_calls") is not False:
        return _bad("Responses-Lite requires 'parallel_tool_calls': false.", "parallel_tool_calls")
    if body.get("tool_choice") not in UNFORCED_CHOICES:
        return _bad("Responses-Lite does not support a forced 'tool_choice'.", "tool_choice")
    return _check_items(body)


def _check_items(body: Mapping[str, Any]) -> Rejection | None:
    for index, item in enumerate(body.get("input") or ()):
        if isinstance(item, dict) and item.get("type") == ADDITIONAL_TOOLS and index > 0:
            return _bad("The additional_tools item must be the first input item.", "input")
    for tool in additional_tools(body):
        if not _lite_tool(tool):
            return _bad(HOSTED_MESSAGE, "tools", "unsupported_value")
    return None


def _lite_tool(tool: object) -> bool:
    if not isinstance(tool, dict):
        return False
    kind = tool.get("type")
    if kind == "tool_search":
        return tool.get("execution") == "client"
    if kind == "namespace":
        inner = tool.get("tools")
        return isinstance(inner, list) and all(_lite_tool(t) for t in inner)
    return kind in LITE_TOOL_TYPES
