"""Chat `messages` → Responses `instructions` + `input` items.

Owns: one walk over the client's message list (reference/openai-protocols.md §3.2, §3.6); a wrong
shape is a 400 naming the exact parameter (`messages[2].content`), built by params.py.

Must not: look at anything but `messages` (models, tools and options are translate_request's), or
copy client objects it does not change.

Rule 1: leading system and developer text goes to `instructions`, in order, joined by a blank
        line; one after the conversation began stays in place as a message item (role
        `developer` for developer, the profile's `system_role` for system), not hoisted.
Rule 2: an assistant message becomes an output message only when it has text (an empty one
        before `function_call` items breaks tool replay, CLIProxyAPI #2132), then one item per call.
Rule 3: a tool call is a `custom_tool_call` when it says `type: "custom"` or its name is a tool
        the request declares custom (a client replays what it streamed, a `function` delta);
        a tool result answers a custom tool call with `custom_tool_call_output`, anything else
        with `function_call_output`; a legacy `function` result answers the latest legacy call
        of the same name, whose `call_id` was synthesised from its message index.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from chat2responses.protocol.errors import ClientError, UnsupportedParameter
from chat2responses.protocol.params import (
    Item,
    as_object,
    invalid_type,
    invalid_value,
    missing,
    need_object,
    need_str,
    opt_str,
    shown,
)

# --- the walk ----------------------------------------------------------------------------------


class ChatRole(StrEnum):
    SYSTEM = "system"
    DEVELOPER = "developer"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"
    FUNCTION = "function"


@dataclass(slots=True)
class _Walk:
    instructions: list[str] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    custom_call_ids: set[str] = field(default_factory=set)
    custom_tools: frozenset[str] = frozenset()  # names of the request's custom tools
    system_role: str = "system"  # role of a system message that stays in place
    started: bool = False  # a non-system message was seen: system text stays in place
    legacy_calls: list[tuple[str, str]] = field(default_factory=list)  # (name, call_id), unanswered
    index: int = 0  # of the message being translated

    @property
    def param(self) -> str:
        """The message's parameter name; built only when needed (errors are the rare path)."""
        return f"messages[{self.index}]"


def translate_messages(
    messages: object, *, system_role: str = "system", custom_tools: frozenset[str] = frozenset()
) -> tuple[str | None, list[Item]]:
    """`instructions` (None when there is no leading system/developer text) and the `input`
    items. `system_role`: the role a system message in the middle gets (the profile's);
    `custom_tools`: the names of the request's custom tools (rule 3)."""
    if not isinstance(messages, list):
        if messages is None:
            raise missing("messages")
        raise invalid_type("messages", "an array", messages)
    if not messages:
        raise ClientError(
            "'messages' must contain at least one message.", param="messages", code="invalid_value"
        )
    walk = _Walk(custom_tools=custom_tools, system_role=system_role)
    for index, message in enumerate(messages):
        walk.index = index
        msg = as_object(message, walk.param) if type(message) is not dict else message
        role = msg.get("role")
        handler = _BY_ROLE.get(role) if type(role) is str else None
        if handler is None:
            raise _bad_role(role, f"{walk.param}.role")
        handler(walk, msg)
        walk.started = walk.started or handler is not _system
    instructions = "\n\n".join(walk.instructions) if walk.instructions else None
    return instructions, walk.items


def _bad_role(role: object, param: str) -> ClientError:
    if role is None:
        return missing(param)
    if not isinstance(role, str):
        return invalid_type(param, "a string", role)
    return invalid_value(param, role, ChatRole)


def _system(walk: _Walk, msg: dict[str, Any]) -> None:
    text = _joined_text(msg, walk)
    if not text:
        return
    if not walk.started:
        walk.instructions.append(text)
        return
    role = ChatRole.DEVELOPER.value if msg["role"] == ChatRole.DEVELOPER else walk.system_role
    part = {"type": "input_text", "text": text}
    walk.items.append({"type": "message", "role": role, "content": [part]})


def _user(walk: _Walk, msg: dict[str, Any]) -> None:
    content = msg.get("content")
    if type(content) is str:
        parts = [{"type": "input_text", "text": content}]
    elif type(content) is list:
        parts = [_user_part(walk, part, j) for j, part in enumerate(content)]
    elif content is None:
        raise missing(f"{walk.param}.content")
    else:
        raise invalid_type(f"{walk.param}.content", "a string or an array", content)
    walk.items.append({"type": "message", "role": "user", "content": parts})


def _assistant(walk: _Walk, msg: dict[str, Any]) -> None:
    texts = _assistant_texts(walk, msg.get("content"))
    if not texts and (refusal := opt_str(msg, "refusal", walk.param)):
        texts = [refusal]
    if texts:
        content = [{"type": "output_text", "text": t, "annotations": []} for t in texts]
        walk.items.append({"type": "message", "role": "assistant", "content": content})
    calls = msg.get("tool_calls")
    if calls is not None:
        if type(calls) is not list:
            raise invalid_type(f"{walk.param}.tool_calls", "an array", calls)
        walk.items.extend(_tool_call(walk, call, j) for j, call in enumerate(calls))
    legacy = msg.get("function_call")
    if legacy is not None:
        where = f"{walk.param}.function_call"
        call = as_object(legacy, where)
        name = need_str(call, "name", where)
        arguments = need_str(call, "arguments", where)
        # Legacy calls carry no id: synthesise one from the message's position (deterministic,
        # unique), and remember it for the `function` message that answers it.
        call_id = f"call_legacy_{walk.index}"
        walk.legacy_calls.append((name, call_id))
        walk.items.append(_function_call(call_id, name, arguments))


def _tool(walk: _Walk, msg: dict[str, Any]) -> None:
    call_id = msg.get("tool_call_id")
    if type(call_id) is not str:
        call_id = need_str(msg, "tool_call_id", walk.param)
    output = _joined_text(msg, walk)
    kind = "custom_tool_call_output" if call_id in walk.custom_call_ids else "function_call_output"
    walk.items.append({"type": kind, "call_id": call_id, "output": output})


def _function(walk: _Walk, msg: dict[str, Any]) -> None:
    name = need_str(msg, "name", walk.param)
    output = _joined_text(msg, walk, allow_null=True)
    for k in range(len(walk.legacy_calls) - 1, -1, -1):
        if walk.legacy_calls[k][0] == name:
            call_id = walk.legacy_calls.pop(k)[1]
            break
    else:
        raise ClientError(
            f"'{walk.param}.name' is {shown(name)}, but no earlier assistant message has a "
            "function_call to it.",
            param=f"{walk.param}.name",
            code="invalid_value",
        )
    walk.items.append({"type": "function_call_output", "call_id": call_id, "output": output})


_BY_ROLE: dict[str, Callable[[_Walk, dict[str, Any]], None]] = {
    ChatRole.SYSTEM: _system,
    ChatRole.DEVELOPER: _system,
    ChatRole.USER: _user,
    ChatRole.ASSISTANT: _assistant,
    ChatRole.TOOL: _tool,
    ChatRole.FUNCTION: _function,
}


# --- content -----------------------------------------------------------------------------------


def _joined_text(msg: dict[str, Any], walk: _Walk, *, allow_null: bool = False) -> str:
    """A string content, or an array of text parts joined by newlines."""
    content = msg.get("content")
    if type(content) is str:
        return content
    if content is None:
        if allow_null:
            return ""
        raise missing(f"{walk.param}.content")
    if type(content) is not list:
        raise invalid_type(f"{walk.param}.content", "a string or an array of text parts", content)
    return "\n".join([_text_of(walk, part, j, _TEXT_ONLY) for j, part in enumerate(content)])


def _assistant_texts(walk: _Walk, content: object) -> list[str]:
    """The non-empty texts of an assistant's content (refusal parts count as text)."""
    if content is None or content == "":
        return []
    if type(content) is str:
        return [content]
    if type(content) is not list:
        raise invalid_type(f"{walk.param}.content", "a string, an array or null", content)
    texts = [_text_of(walk, part, j, _ASSISTANT_PARTS) for j, part in enumerate(content)]
    return [text for text in texts if text]


# Part type → the key holding its text.
_TEXT_ONLY = {"text": "text"}
_ASSISTANT_PARTS = {"text": "text", "refusal": "refusal"}


def _text_of(walk: _Walk, part: object, j: int, kinds: dict[str, str]) -> str:
    if type(part) is dict and type(kind := part.get("type")) is str and (key := kinds.get(kind)):
        text = part.get(key)
        if type(text) is str:
            return text
    where = f"{walk.param}.content[{j}]"
    obj = as_object(part, where)
    kind = obj.get("type")
    if not isinstance(kind, str) or kind not in kinds:
        raise invalid_value(f"{where}.type", kind, kinds)
    return need_str(obj, kinds[kind], where)


def _user_part(walk: _Walk, part: object, j: int) -> Item:
    if type(part) is dict and part.get("type") == "text" and type(text := part.get("text")) is str:
        return {"type": "input_text", "text": text}
    param = f"{walk.param}.content[{j}]"
    obj = as_object(part, param)
    kind = obj.get("type")
    convert = _USER_PARTS.get(kind) if isinstance(kind, str) else None
    if convert is None:
        raise invalid_value(f"{param}.type", kind, _USER_PARTS)
    return convert(obj, param)


def _text_part(obj: dict[str, Any], param: str) -> Item:
    return {"type": "input_text", "text": need_str(obj, "text", param)}


_IMAGE_DETAILS = ("auto", "low", "high", "original")


def _image_part(obj: dict[str, Any], param: str) -> Item:
    image = obj.get("image_url")
    if isinstance(image, str):  # some clients send the URL bare
        return {"type": "input_image", "image_url": image, "detail": "auto"}
    image = need_object(obj, "image_url", param)
    url = need_str(image, "url", f"{param}.image_url")
    detail = opt_str(image, "detail", f"{param}.image_url") or "auto"
    if detail not in _IMAGE_DETAILS:
        raise invalid_value(f"{param}.image_url.detail", detail, _IMAGE_DETAILS)
    return {"type": "input_image", "image_url": url, "detail": detail}


def _file_part(obj: dict[str, Any], param: str) -> Item:
    file = need_object(obj, "file", param)
    out: Item = {"type": "input_file"}
    for key in ("file_data", "file_id", "filename"):
        value = opt_str(file, key, f"{param}.file")
        if value is not None:
            out[key] = value
    if "file_data" not in out and "file_id" not in out:
        raise missing(f"{param}.file.file_data")
    return out


def _audio_part(obj: dict[str, Any], param: str) -> Item:
    raise UnsupportedParameter(
        param, f"{param}: audio input (input_audio) has no Responses API counterpart."
    )


_USER_PARTS: dict[str, Callable[[dict[str, Any], str], Item]] = {
    "text": _text_part,
    "image_url": _image_part,
    "file": _file_part,
    "input_audio": _audio_part,
}


# --- tool calls --------------------------------------------------------------------------------


def _function_call(call_id: str, name: str, arguments: str) -> Item:
    return {"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments}


def _tool_call(walk: _Walk, call: object, j: int) -> Item:
    if type(call) is dict:
        fn = call.get("function")
        if (
            type(fn) is dict
            and call.get("type", "function") == "function"
            and type(call_id := call.get("id")) is str
            and type(name := fn.get("name")) is str
            and type(arguments := fn.get("arguments")) is str
            and name not in walk.custom_tools
        ):
            return _function_call(call_id, name, arguments)
    return _checked_tool_call(walk, call, f"{walk.param}.tool_calls[{j}]")


def _checked_tool_call(walk: _Walk, call: object, param: str) -> Item:
    """The slow path: any tool call, with a precise error for a malformed one."""
    obj = as_object(call, param)
    call_id = need_str(obj, "id", param)
    kind = obj.get("type", "function")
    if kind == "function":
        fn = need_object(obj, "function", param)
        name = need_str(fn, "name", f"{param}.function")
        arguments = need_str(fn, "arguments", f"{param}.function")
        if name in walk.custom_tools:
            return _custom_call(walk, call_id, name, arguments)
        return _function_call(call_id, name, arguments)
    if kind == "custom":
        custom = need_object(obj, "custom", param)
        name = need_str(custom, "name", f"{param}.custom")
        return _custom_call(walk, call_id, name, need_str(custom, "input", f"{param}.custom"))
    raise invalid_value(f"{param}.type", kind, ("function", "custom"))


def _custom_call(walk: _Walk, call_id: str, name: str, text: str) -> Item:
    walk.custom_call_ids.add(call_id)
    return {"type": "custom_tool_call", "call_id": call_id, "name": name, "input": text}
