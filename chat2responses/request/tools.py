"""Chat tools → Responses tools: what the model may call, and which of it it must.

Owns the translation of `tools` (function and custom tools), the legacy `functions`,
`web_search_options` (a `web_search` tool), `tool_choice` and the legacy `function_call`
(reference/openai-protocols.md §3.6). Chat nests a function's fields under `function`; Responses
puts them on the tool itself, so every tool and named choice is flattened here.

Must not: look at any other parameter (request/translate.py owns the body), or do I/O.

Rule 1: a function tool's `strict` is always sent (Chat defaults to non-strict; Responses' default
        is not documented), and omitted `parameters` become an empty object schema.
Rule 2: `tool_choice` beats `function_call`; the loser is reported as dropped.
"""

from __future__ import annotations

from typing import Any

from chat2responses.protocol.params import (
    Item,
    as_bool,
    as_list,
    as_object,
    invalid_value,
    need_object,
    need_str,
    opt_str,
)


def translate_tools(body: dict[str, Any]) -> list[Item]:
    """`tools` for the body: chat `tools`, legacy `functions`, then `web_search_options`."""
    tools: list[Item] = []
    if (chat_tools := body.get("tools")) is not None:
        for i, tool in enumerate(as_list(chat_tools, "tools")):
            tools.append(_tool(as_object(tool, f"tools[{i}]"), f"tools[{i}]"))
    if (functions := body.get("functions")) is not None:
        for i, fn in enumerate(as_list(functions, "functions")):
            tools.append(_function_tool(as_object(fn, f"functions[{i}]"), f"functions[{i}]"))
    if (options := body.get("web_search_options")) is not None:
        tools.append(_web_search_tool(as_object(options, "web_search_options")))
    return tools


def _tool(tool: dict[str, Any], param: str) -> Item:
    kind = tool.get("type", "function")
    if kind == "function":
        return _function_tool(need_object(tool, "function", param), f"{param}.function")
    if kind == "custom":
        return _custom_tool(need_object(tool, "custom", param), f"{param}.custom")
    raise invalid_value(f"{param}.type", kind, ("function", "custom"))


def _function_tool(fn: dict[str, Any], param: str) -> Item:
    out: Item = {"type": "function", "name": need_str(fn, "name", param)}
    if (description := opt_str(fn, "description", param)) is not None:
        out["description"] = description
    parameters = fn.get("parameters")
    # Chat: omitted parameters mean "takes no arguments"; Responses wants a schema (or null).
    out["parameters"] = (
        {"type": "object", "properties": {}}
        if parameters is None
        else as_object(parameters, f"{param}.parameters")
    )
    # Sent explicitly: Chat defaults to non-strict, and Responses' default is not documented.
    strict = fn.get("strict")
    out["strict"] = False if strict is None else as_bool(strict, f"{param}.strict")
    return out


def _custom_tool(custom: dict[str, Any], param: str) -> Item:
    out: Item = {"type": "custom", "name": need_str(custom, "name", param)}
    if (description := opt_str(custom, "description", param)) is not None:
        out["description"] = description
    if (fmt := custom.get("format")) is not None:
        fmt = as_object(fmt, f"{param}.format")
        kind = fmt.get("type")
        if kind == "text":
            out["format"] = {"type": "text"}
        elif kind == "grammar":
            grammar = need_object(fmt, "grammar", f"{param}.format")
            where = f"{param}.format.grammar"
            out["format"] = {
                "type": "grammar",
                "syntax": need_str(grammar, "syntax", where),
                "definition": need_str(grammar, "definition", where),
            }
        else:
            raise invalid_value(f"{param}.format.type", kind, ("text", "grammar"))
    return out


def custom_tool_names(tools: list[Item]) -> frozenset[str]:
    """The names of the custom tools among translated `tools`: a client may replay a custom
    call as the `function` delta it was streamed as (request/messages.py, rule 3)."""
    return frozenset(tool["name"] for tool in tools if tool["type"] == "custom")


_LOCATION_KEYS = ("city", "country", "region", "timezone")


def _web_search_tool(options: dict[str, Any]) -> Item:
    out: Item = {"type": "web_search"}
    param = "web_search_options"
    if (size := opt_str(options, "search_context_size", param)) is not None:
        out["search_context_size"] = size
    if (location := options.get("user_location")) is not None:
        location = as_object(location, f"{param}.user_location")
        approximate = need_object(location, "approximate", f"{param}.user_location")
        where = f"{param}.user_location.approximate"
        flat: Item = {"type": "approximate"}
        for key in _LOCATION_KEYS:
            if (value := opt_str(approximate, key, where)) is not None:
                flat[key] = value
        out["user_location"] = flat
    return out


_CHOICE_MODES = ("none", "auto", "required")


def translate_tool_choice(body: dict[str, Any], dropped: list[str]) -> str | Item | None:
    """`tool_choice` for the body (None: not set); adds `function_call` to `dropped` when
    `tool_choice` overrides it."""
    choice = body.get("tool_choice")
    legacy = body.get("function_call")
    if choice is None:
        return None if legacy is None else _legacy_choice(legacy)
    if legacy is not None:
        dropped.append("function_call")  # tool_choice wins
    if isinstance(choice, str):
        if choice not in _CHOICE_MODES:
            raise invalid_value("tool_choice", choice, _CHOICE_MODES)
        return choice
    choice = as_object(choice, "tool_choice")
    if choice.get("type") == "allowed_tools":
        allowed = need_object(choice, "allowed_tools", "tool_choice")
        where = "tool_choice.allowed_tools"
        tools = as_list(allowed.get("tools"), f"{where}.tools")
        return {
            "type": "allowed_tools",
            "mode": _allowed_mode(need_str(allowed, "mode", where)),
            "tools": [_named_tool(t, f"{where}.tools[{i}]") for i, t in enumerate(tools)],
        }
    return _named_tool(choice, "tool_choice")


def _allowed_mode(mode: str) -> str:
    if mode not in ("auto", "required"):
        raise invalid_value("tool_choice.allowed_tools.mode", mode, ("auto", "required"))
    return mode


def _named_tool(tool: object, param: str) -> Item:
    """`{"type": "function", "function": {"name"}}` → `{"type": "function", "name"}` (or custom)."""
    obj = as_object(tool, param)
    kind = obj.get("type")
    if kind not in ("function", "custom"):
        raise invalid_value(f"{param}.type", kind, ("function", "custom", "allowed_tools"))
    inner = need_object(obj, kind, param)
    return {"type": kind, "name": need_str(inner, "name", f"{param}.{kind}")}


def _legacy_choice(legacy: object) -> str | Item:
    if isinstance(legacy, str):
        if legacy not in ("none", "auto"):
            raise invalid_value("function_call", legacy, ("none", "auto"))
        return legacy
    call = as_object(legacy, "function_call")
    return {"type": "function", "name": need_str(call, "name", "function_call")}
