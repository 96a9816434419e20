"""The chat request view: a Chat Completions request body summarised (model, the other parameters,
each message by role with its tool calls, the tools offered).

Must not read past the bounds of `reading` and `writer`, nor raise on any input. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable

from chat2responses.views.fields import Json, compact, obj, seq, string
from chat2responses.views.reading import request_json
from chat2responses.views.writer import Writer, clip

_PART_LABELS: dict[str, Callable[[Json], str]] = {
    "text": lambda part: string(part.get("text")),
    "image_url": lambda part: f"[image {string(obj(part.get('image_url')).get('url'))[:120]}]",
    "input_audio": lambda part: f"[audio {string(obj(part.get('input_audio')).get('format'))}]",
    "file": lambda part: f"[file {string(obj(part.get('file')).get('filename'))}]",
}
_SUMMARISED_KEYS = frozenset({"model", "stream", "messages", "tools"})


def _content_text(content: object) -> str:
    if isinstance(content, str):
        return content
    lines = []
    for part in seq(content):
        fields = obj(part)
        kind = string(fields.get("type"))
        label = _PART_LABELS.get(kind)
        lines.append(label(fields) if label else f"[{kind or compact(part, 80)}]")
    return "\n".join(lines)


def _render_message(out: Writer, message: Json) -> None:
    name = string(message.get("name"))
    call_id = string(message.get("tool_call_id"))
    extra = "".join((f" {name}" if name else "", f" ({call_id})" if call_id else ""))
    out.section(
        f"{string(message.get('role')) or '?'}{extra}", _content_text(message.get("content"))
    )
    for call in seq(message.get("tool_calls")):
        fields = obj(call)
        function = obj(fields.get("function"))
        head = f"→ tool call {string(function.get('name')) or '?'} ({string(fields.get('id'))})"
        out.add(f"{head}: {clip(string(function.get('arguments')), 2000)}")


def _tool_line(tool: Json) -> str:
    # Chat tools nest the function; Responses-style (flat) tools are accepted too.
    function = obj(tool.get("function")) or tool
    name = string(function.get("name"))
    description = string(function.get("description")).strip().split("\n", 1)[0][:100]
    kind = string(tool.get("type")) or "?"
    return f"{name or '?'} ({kind})" + (f" — {description}" if description else "")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def render_chat_request(data: bytes) -> str | None:
    """A chat request summarised: model, other parameters, each message by role, the tools.
    None when `data` is not a chat request body (a JSON object with a `messages` list)."""
    body = request_json(data)
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        return None
    messages, tools = body["messages"], seq(body.get("tools"))
    stream = "stream" if body.get("stream") is True else "no stream"
    model = string(body.get("model")) or "?"
    out = Writer()
    out.add(
        f"chat request · model {model} · {stream} · {_plural(len(messages), 'message')} · "
        f"{_plural(len(tools), 'tool')}"
    )
    params = [f"{k}={compact(v, 200)}" for k, v in body.items() if k not in _SUMMARISED_KEYS]
    out.add(*(("params: " + " · ".join(params),) if params else ()))
    for message in messages:
        _render_message(out, obj(message))
    if tools:
        out.add("── tools ──", *(_tool_line(obj(tool)) for tool in tools))
    return out.text()
