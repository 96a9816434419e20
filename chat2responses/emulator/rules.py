"""What the emulated Codex backend refuses before it produces a single event.

The real backend answers a malformed request with HTTP 400 and a bare `{"detail": "…"}` body
("Store must be set to false", "Unsupported parameter: <name>"; reference/cliproxyapi.md §3),
and refuses a model that must use WebSocket over HTTP with an OpenAI error body whose code is
`routing_unsupported` (DESIGN.md, "The problem").
`previous_response_id` over HTTP is `previous_response_not_found` (nothing is stored with
`store: false`); over WebSocket the session resolves it (session.py). The prompt-cache fields
the public API takes (`prompt_cache_options`, `prompt_cache_retention`, `prompt_cache_breakpoint`
on content parts) and `cache_control` are refused wherever they appear (codex-backend-2026.md
§8), and a `compaction_trigger` item anywhere but last is a 400.

A `Rejection` is transport-neutral: the HTTP front end sends it as a status and a JSON body, a
WebSocket front end as one `error` frame (reference/openai-protocols.md §4.6).

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Transport(StrEnum):
    HTTP = "http"
    WEBSOCKET = "websocket"


class BodyShape(StrEnum):
    DETAIL = "detail"  # {"detail": message}: the Codex backend's own request validation
    ERROR = "error"  # {"error": {message, type, param, code}}: OpenAI's error body


@dataclass(frozen=True, slots=True)
class Rejection:
    """A refusal sent instead of a stream: an HTTP status and body, or a WebSocket error frame."""

    status: int
    message: str
    shape: BodyShape = BodyShape.ERROR
    type: str = "invalid_request_error"
    code: str | None = None
    param: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    extra: tuple[tuple[str, Any], ...] = ()  # more fields of the error object (usage limits)

    def error(self) -> dict[str, Any]:
        error = {"type": self.type, "code": self.code, "message": self.message, "param": self.param}
        return error | dict(self.extra)

    def http_body(self) -> dict[str, Any]:
        if self.shape is BodyShape.DETAIL:
            return {"detail": self.message}
        return {"error": self.error()}

    def ws_frame(self) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": "error", "status": self.status, "error": self.error()}
        if self.headers:
            frame["headers"] = dict(self.headers)
        return frame


def detail(message: str, *, status: int = 400) -> Rejection:
    return Rejection(status, message, shape=BodyShape.DETAIL)


NOT_JSON = detail("Request body must be valid JSON")
NOT_AN_OBJECT = detail("Request body must be a JSON object")

_ANY = frozenset(Transport)
_HTTP = frozenset({Transport.HTTP})

# Parameters the backend refuses, and over which transports. Codex never sends them; the
# backend answers {"detail": "Unsupported parameter: <name>"} (cliproxyapi.md §3).
UNSUPPORTED: Mapping[str, frozenset[Transport]] = {
    "max_output_tokens": _ANY,
    "max_completion_tokens": _ANY,
    "temperature": _ANY,
    "top_p": _ANY,
    "truncation": _ANY,
    "context_management": _ANY,
    "user": _ANY,
    "safety_identifier": _ANY,
    "prompt_cache_retention": _ANY,
    "prompt_cache_options": _ANY,
    "cache_control": _ANY,
    "stream_options": _ANY,
    "background": _ANY,
    "conversation": _ANY,
    "generate": _HTTP,
}


@dataclass(frozen=True, slots=True)
class Required:
    """A field the backend insists on: its value must pass `ok`, else `message` with a 400."""

    name: str
    ok: Callable[[Any], bool]
    message: str
    transports: frozenset[Transport] = _ANY
    lite: bool = True  # whether a Responses-Lite request must have it too (lite.py)


# Checked in this order; the first failure is the answer. A missing key reads as None.
REQUIRED: tuple[Required, ...] = (
    Required("store", lambda v: v is False, "Store must be set to false"),
    # Once required ("Instructions are required", cliproxyapi.md §3); the Codex CLI 0.171 sends
    # none, its instructions being developer messages (tests/fixtures/codex_cli_0.171.0.json).
    Required(
        "instructions",
        lambda v: v is None or isinstance(v, str),
        "Instructions must be a string",
        lite=False,
    ),
    # Over WebSocket streaming is implicit, so `stream` is not checked there.
    Required("stream", lambda v: v is True, "Stream must be set to true", _HTTP),
    Required("model", lambda v: isinstance(v, str) and bool(v.strip()), "Model is required"),
    Required("input", lambda v: isinstance(v, list), "Input must be a list"),
)


def check_request(
    body: Mapping[str, Any],
    transport: Transport,
    *,
    ws_only: Collection[str],
    http_ok: Collection[str] = (),
    lite: bool = False,
) -> Rejection | None:
    """The backend's refusal of `body` over `transport`, or None when it would be served.

    `lite`: the model uses Responses-Lite, whose own shape lite.py checks afterwards; here it
    only waives the rules a Lite request does not follow (top-level `instructions`)."""
    for name in body:
        if transport in UNSUPPORTED.get(name, ()):
            return detail(f"Unsupported parameter: {name}")
    for rule in REQUIRED:
        applies = transport in rule.transports and (rule.lite or not lite)
        if applies and not rule.ok(body.get(rule.name)):
            return detail(rule.message)
    refused = nested_refusal(body["input"], body.get("tools"))
    if refused is not None:
        return refused
    if transport is Transport.HTTP:
        # Over HTTP nothing is stored (`store` must be false), so no earlier response exists.
        if body.get("previous_response_id") is not None:
            return previous_not_found(body["previous_response_id"])
        return check_http_routing(body["model"], ws_only=ws_only, http_ok=http_ok)
    return None


# Refused wherever they appear (prompt_cache_breakpoint sits on content parts).
NESTED_REFUSED = frozenset(
    {"prompt_cache_breakpoint", "cache_control", "prompt_cache_options", "prompt_cache_retention"}
)
TRIGGER = "compaction_trigger"


def _refused_key(obj: object, where: str) -> Rejection | None:
    if isinstance(obj, dict) and (found := NESTED_REFUSED & obj.keys()):
        return detail(f"Unsupported parameter: {where}.{sorted(found)[0]}")
    return None


def nested_refusal(items: list[Any], tools: object) -> Rejection | None:
    """The 400 for a refused field inside an input item, a content part or a tool, or for a
    `compaction_trigger` that is not the last input item."""
    for i, item in enumerate(items):
        if isinstance(item, dict) and item.get("type") == TRIGGER and i != len(items) - 1:
            return Rejection(
                400,
                "The 'compaction_trigger' item must be the final input item.",
                code="invalid_value",
                param=f"input[{i}]",
            )
        found = _refused_key(item, f"input[{i}]")
        for key in ("content", "tools"):
            nested = item.get(key) if isinstance(item, dict) else None
            for j, part in enumerate(nested if isinstance(nested, list) else ()):
                found = found or _refused_key(part, f"input[{i}].{key}[{j}]")
        if found is not None:
            return found
    for k, tool in enumerate(tools if isinstance(tools, list) else ()):
        if (found := _refused_key(tool, f"tools[{k}]")) is not None:
            return found
    return None


def previous_not_found(previous: object) -> Rejection:
    return Rejection(
        400,
        f"Previous response with id '{previous}' not found.",
        code="previous_response_not_found",
        param="previous_response_id",
    )


def model_family(model: str, families: Collection[str]) -> str | None:
    """The longest family in `families` that names `model`, or None.

    Case-insensitive, provider prefix (`openai/`) ignored. A family matches the model itself or
    a dated snapshot of it (`gpt-5.5` matches `gpt-5.5-2026-04-23`); a family ending in `-` is a
    plain prefix (`ws-only-` matches `ws-only-anything`).
    """
    name = model.strip().lower().rsplit("/", 1)[-1]
    matches = [
        family
        for family in (f.lower() for f in families)
        if name == family or name.startswith(family if family.endswith("-") else f"{family}-")
    ]
    return max(matches, key=len, default=None)


def check_http_routing(
    model: str, *, ws_only: Collection[str], http_ok: Collection[str] = ()
) -> Rejection | None:
    """Refuse, over HTTP, a model whose family must use the WebSocket transport."""
    family = model_family(model, ws_only)
    if family is None or model_family(model, http_ok) is not None:
        return None
    named = model.strip().rsplit("/", 1)[-1] if family.endswith("-") else family
    display = f"GPT-{named[4:]}" if named.lower().startswith("gpt-") else named
    return Rejection(
        400,
        f"routing_unsupported: {display} routing only supports Responses-compatible requests",
        code="routing_unsupported",
        param="model",
    )
