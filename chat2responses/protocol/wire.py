"""Wire shapes, typed: the JSON this project reads and writes, as TypedDicts and enums.

Parsing happens at the boundary (translate_request for the client's body, events for upstream
events); past it, code uses these names instead of ad-hoc dict literals. Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from typing import Any, Literal, NotRequired, TypedDict

# The JSON text this project writes (chunks, events, request bodies): compact, UTF-8 as is.
# Built once: json.dumps makes a new encoder per call when given options.
dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def utf8(text: str) -> bytes:
    """JSON text (or an SSE line of it) as UTF-8. A lone surrogate, which an upstream can send
    as an escape (half of an emoji split across two deltas, say), has no UTF-8 form: it goes out
    as the `\\uXXXX` escape it came in as. In JSON text it can only sit inside a string, where
    the escape means the same."""
    try:
        return text.encode()
    except UnicodeEncodeError:
        return _escaped(text).encode()


def printable(text: str) -> str:
    """`text` with each lone surrogate written as its `\\uXXXX` escape: what a message quoting
    an upstream's text must be before a log line or a terminal takes it (mitmproxy's console
    refuses a lone surrogate, and the call that logged it would fail)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return _escaped(text)
    return text


def _escaped(text: str) -> str:
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class ReasoningMode(StrEnum):
    """How reasoning summaries reach the client (option `responses_reasoning`)."""

    REASONING_CONTENT = "reasoning_content"  # DeepSeek-style `delta.reasoning_content`
    THINK = "think"  # inside `<think>…</think>` in `content`
    NONE = "none"


class FinishReason(StrEnum):
    STOP = "stop"
    LENGTH = "length"
    TOOL_CALLS = "tool_calls"
    CONTENT_FILTER = "content_filter"
    FUNCTION_CALL = "function_call"


class FunctionDelta(TypedDict, total=False):
    name: str
    arguments: str


class ToolCallDelta(TypedDict):
    index: int
    id: NotRequired[str]
    type: NotRequired[Literal["function"]]
    function: NotRequired[FunctionDelta]


class ChunkDelta(TypedDict, total=False):
    role: Literal["assistant"]
    content: str | None
    refusal: str | None
    reasoning_content: str
    tool_calls: list[ToolCallDelta]
    function_call: FunctionDelta  # the legacy `functions` shape


class ChunkChoice(TypedDict):
    index: int
    delta: ChunkDelta
    logprobs: None
    finish_reason: str | None


class ChatChunk(TypedDict):
    id: str
    object: Literal["chat.completion.chunk"]
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: NotRequired[dict[str, Any] | None]


class ChatUsage(TypedDict):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: NotRequired[dict[str, int]]
    completion_tokens_details: NotRequired[dict[str, int]]


# The Responses request body is built key by key from a table in translate_request; it is a
# plain JSON object on the wire.
ResponsesBody = dict[str, Any]
