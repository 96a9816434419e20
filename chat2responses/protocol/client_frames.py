"""The Responses WebSocket as a client speaks it to the proxy: what each frame it sends asks for,
and the error frame that answers one the proxy cannot serve (reference/openai-protocols.md §4).

A client (the Codex CLI with `supports_websockets = true`, the openai SDK's Responses connection)
opens the WebSocket on `…/responses` and sends one `response.create` frame per response: the
body of a `POST …/responses` plus `"type": "response.create"`. Each is served like that POST
(call/plan.py, with the client's handshake headers); its events go back one per text frame.

Rule 1: a `response.create` frame is a request body: the body checks of protocol/body.py apply
        to its text (size, UTF-8, JSON, finite numbers, surrogates, depth), and its body is the
        frame without `type`.
Rule 2: `response.processed` (the Codex CLI's acknowledgement of a response, behind a feature
        flag) needs no answer.
Rule 3: anything else (a binary frame, not JSON, another `type`) gets one error frame, and the
        connection stays open, as OpenAI's server does (§4.6): `{"type": "error", "status": N,
        "error": {…}}`.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chat2responses.protocol.body import parse_json_body
from chat2responses.protocol.errors import ClientError, ProxyError
from chat2responses.protocol.wire import dumps

CREATE = "response.create"
PROCESSED = "response.processed"


@dataclass(frozen=True, slots=True)
class Create:
    """A `response.create`: `body` is the request (the frame without `type`), `raw` its text."""

    body: dict[str, Any]
    raw: bytes


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """A frame that needs no answer (rule 2)."""


Frame = Create | Acknowledged


def read_frame(data: str | bytes) -> Frame:
    """What a client's frame asks for; raises the `ClientError` its error frame says (rule 3)."""
    if isinstance(data, bytes):
        raise ClientError(
            "Binary frames are not supported; send JSON events as text frames.", param="type"
        )
    raw = data.encode("utf-8", "surrogatepass")
    frame = parse_json_body(raw)
    kind = frame.get("type")
    if kind == PROCESSED:
        return Acknowledged()
    if kind != CREATE:
        shown = str(kind)[:40]
        raise ClientError(
            f"Invalid value: {shown!r}. Supported values are: {CREATE!r}.",
            code="invalid_value",
            param="type",
        )
    return Create({key: value for key, value in frame.items() if key != "type"}, raw)


def error_frame(err: ProxyError) -> dict[str, Any]:
    """The frame that answers a failure (rule 3): OpenAI's error object, with the status the HTTP
    answer would have had."""
    return {"type": "error", "status": err.status, **err.to_dict()}


def error_frame_text(err: ProxyError) -> str:
    return dumps(error_frame(err))
