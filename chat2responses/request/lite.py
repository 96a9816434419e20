"""The Responses-Lite request shape (request/translate.py rule 5, codex-backend-2026.md §2).

A model the catalog flags `use_responses_lite`, on a profile with a Lite marker, takes its tools
as a first `additional_tools` input item, its instructions as a developer message,
`parallel_tool_calls: false` and `reasoning.context: "all_turns"`; the marker goes in the HTTP
headers or the WebSocket frame's `client_metadata`.

Must not: decide whether a request is Lite (request/translate.py does, from the catalog and the
profile) or do I/O.

Rule 1: hosted tools and a forced `tool_choice` have no Lite form: a 400 naming the client's
        parameter, before anything goes upstream. What Lite takes: function and custom tools,
        client-executed tool search (`{"type": "tool_search", "execution": "client"}`), and
        `namespace` groups of those (the Codex CLI groups its tools so).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from chat2responses.protocol.errors import ClientError
from chat2responses.protocol.params import Item, shown
from chat2responses.upstream.profiles import LiteMarker


def lite_marker(lite: LiteMarker | None) -> dict[str, Mapping[str, Any]]:
    """What `Translation` carries for the marker: `http_headers` and `ws_extra` (none without
    one)."""
    if lite is None:
        return {}
    metadata = MappingProxyType({"client_metadata": dict(lite.ws_client_metadata)})
    return {"http_headers": lite.http_headers, "ws_extra": metadata}


# "Responses-Lite only supports function tools, custom tools, and client-executed tool search."
_LITE_TOOLS = frozenset({"function", "custom"})


def lite_tool(tool: object) -> bool:
    """Whether Responses-Lite takes `tool` (rule 1)."""
    if not isinstance(tool, dict):
        return False
    kind = tool.get("type")
    if kind == "tool_search":
        return tool.get("execution") == "client"
    if kind == "namespace":
        inner = tool.get("tools")
        return isinstance(inner, list) and all(lite_tool(t) for t in inner)
    return kind in _LITE_TOOLS


def to_responses_lite(out: dict[str, Any], body: dict[str, Any]) -> None:
    """Give `out`, a translated Responses body, the Lite shape; `body` is the client's (to name
    the parameter a 400 is about). Raises `ClientError` for a hosted tool or a forced choice."""
    tools = out.pop("tools", [])
    for i, tool in enumerate(tools):  # objects: request/translate.py built or checked them
        if not lite_tool(tool):
            kind = tool.get("type")
            from_chat = kind == "web_search" and body.get("web_search_options") is not None
            param = "web_search_options" if from_chat else f"tools[{i}]"
            raise ClientError(
                f"{out['model']} takes the Responses-Lite request shape, which supports only "
                "function tools, custom tools and client-executed tool search; "
                f"'{param}' asks for a hosted {shown(kind)} tool.",
                param=param,
                code="unsupported_value",
            )
    if _forced(out.get("tool_choice")):
        param = "tool_choice" if body.get("tool_choice") is not None else "function_call"
        raise ClientError(
            f"{out['model']} takes the Responses-Lite request shape, which cannot force a tool "
            f'call; send \'{param}\' as "auto" or "none".',
            param=param,
            code="unsupported_value",
        )
    first: list[Item] = []
    if tools:
        first.append({"type": "additional_tools", "role": "developer", "tools": tools})
    if instructions := out.pop("instructions", None):
        text = {"type": "input_text", "text": instructions}
        first.append({"type": "message", "role": "developer", "content": [text]})
    out["input"] = [*first, *out["input"]]  # a list: both body shapes make one
    out["parallel_tool_calls"] = False
    reasoning = out.get("reasoning")
    out["reasoning"] = {
        **(reasoning if isinstance(reasoning, dict) else {}),
        "context": "all_turns",
    }


def _forced(choice: object) -> bool:
    """Whether `tool_choice` forces a call: "required", a named tool, or allowed tools in
    "required" mode."""
    if isinstance(choice, str):
        return choice == "required"
    if isinstance(choice, dict):
        return choice.get("type") != "allowed_tools" or choice.get("mode") == "required"
    return False
