"""Upstream items shaped like the emulator's, and chat tool calls as a client replays them, for the
tests of call/units.py and call/replay.py."""

from __future__ import annotations

from typing import Any

from chat2responses.request.messages import translate_messages


def msg(text: str, *, kind: str = "output_text", phase: str | None = None) -> dict[str, Any]:
    part: dict[str, Any] = {"type": kind, kind if kind == "refusal" else "text": text}
    if kind == "output_text":
        part |= {"annotations": [], "logprobs": []}
    item = {"id": "msg_t01", "type": "message", "role": "assistant", "status": "completed"}
    return item | {"content": [part]} | ({"phase": phase} if phase else {})


def fc(call_id: str, arguments: str = '{"city": "Paris"}', name: str = "get_weather") -> dict:
    item = {"id": f"fc_{call_id}", "type": "function_call", "call_id": call_id, "name": name}
    return item | {"arguments": arguments, "status": "completed"}


def rs(blob: str = "sealed") -> dict[str, Any]:
    summary = [{"type": "summary_text", "text": "**Thinking**"}]
    return {"id": "rs_t00", "type": "reasoning", "summary": summary, "encrypted_content": blob}


CUSTOM = {
    "id": "ctc_t02",
    "type": "custom_tool_call",
    "call_id": "call_p",
    "name": "apply_patch",
    "input": "*** Begin Patch",
    "status": "completed",
}
WEB_SEARCH = {"id": "ws_t01", "type": "web_search_call", "status": "completed"}


def call(call_id: str, arguments: str = '{"city": "Paris"}', name: str = "get_weather") -> dict:
    """A chat tool call as a client replays it."""
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def client(*assistant: dict[str, Any], custom: frozenset[str] = frozenset()) -> list[Any]:
    """What the addon sends for these chat assistant messages (after one user message)."""
    messages = [{"role": "user", "content": "hi"}, *assistant]
    _, items = translate_messages(messages, custom_tools=custom)
    return items[1:]
