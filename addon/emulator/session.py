"""One Responses WebSocket connection, without I/O: the handshake's verdict, then frames in and
steps out (reference/openai-protocols.md §4).

- Rule 1: frames are answered one at a time, in arrival order. A `response.create` that arrives
  while a response streams waits its turn rather than being refused: §4.4 says a connection
  "processes responses sequentially (one at a time)"; `response_already_in_flight` is one
  gateway's invention (§4.5). The front end enforces this by not handing over the next frame
  before the previous one's steps have run.
- Rule 2: a `response.create` body is the frame minus `type`, judged and played by
  `Emulator.respond(body, Transport.WEBSOCKET)`: `stream` is ignored, `background` refused.
- Rule 3: `previous_response_id` may name only the last response this connection completed
  (state is connection-local, §4.4), so an older id, an unknown one, or any id after a reconnect
  gets a 400 `previous_response_not_found` (§4.6). Failed, incomplete and refused responses
  leave the remembered id as it was.
- Rule 4: a frame that cannot be served (not JSON, not an object, binary, an unknown `type`)
  gets one `error` frame with a `status`, and the connection stays open (§4.6).

Out go only `Emit`, `Sleep` and `Drop` steps: a `Reject` becomes its wrapped `error` frame
(`{"type":"error","status":N,"error":{…}}`), and a mid-stream `error` event (the SSE shape) takes
the wrapped shape without `status`, as the SDK's `ResponseWsError` models it; every other event
is sent exactly as over SSE (§4.3).

Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from addon.events import Event, EventType

from .backend import Emulator, EmulatorConfig
from .builder import Drop, Emit, Reject, Step
from .rules import NOT_AN_OBJECT, NOT_JSON, Rejection, Transport

# A handshake carrying this header (value `1`) is refused with 426, whatever the config says.
REFUSE_HEADER = "x-emulator-refuse-websocket"

WEBSOCKET_REFUSED = Rejection(
    426,
    "This upstream does not serve the Responses WebSocket transport; "
    "POST /responses over HTTP instead.",
    code="websocket_not_supported",
)
NOT_AN_UPGRADE = Rejection(
    400, "Expected a WebSocket upgrade; POST /responses for HTTP.", code="websocket_expected"
)
BINARY_FRAME = Rejection(
    400, "Binary frames are not supported; send JSON events as text frames.", param="type"
)

CREATE = "response.create"
# Sent by codex after it consumed a response (behind a feature flag, §4.2): no answer due.
PROCESSED = "response.processed"

# The wrapped error's `type` for the codes a scripted `error` event uses.
_ERROR_TYPES: Mapping[str, str] = {"rate_limit_exceeded": "rate_limit_error"}


def handshake_refusal(config: EmulatorConfig, refuse_header: str | None) -> Rejection | None:
    """The 426 that refuses a WebSocket handshake, or None to accept it.

    The model is only known from the first frame, so the refusal is per server
    (`EmulatorConfig.refuse_websocket`) or per handshake (the `REFUSE_HEADER` header set to 1).
    """
    asked = refuse_header is not None and refuse_header.strip().lower() in {"1", "true", "yes"}
    return WEBSOCKET_REFUSED if config.refuse_websocket or asked else None


@dataclass(frozen=True, slots=True)
class Reply:
    """What one frame gets: the steps to perform (`Emit`, `Sleep`, `Drop`), and for the log,
    what the frame was and how its answer ends once every step has run."""

    steps: list[Step]
    what: str
    outcome: str


class WebSocketSession:
    """One connection's state: the id of the last response it completed (Rule 3)."""

    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator
        self.last_response_id: str | None = None

    def receive_text(self, text: str) -> Reply:
        """The reply to one text frame. Call again only after its steps have all run (Rule 1)."""
        try:
            frame = json.loads(text)
        except ValueError:
            return _refused("text frame", NOT_JSON)
        if not isinstance(frame, dict):
            return _refused("text frame", NOT_AN_OBJECT)
        kind = frame.get("type")
        if kind == PROCESSED:
            return Reply([], PROCESSED, "acknowledged")
        if kind != CREATE:
            return _refused(f"frame type={str(kind)[:40]!r}", _unknown_type(kind))
        body = {key: value for key, value in frame.items() if key != "type"}
        model = body.get("model")
        what = f"{CREATE} model={model if isinstance(model, str) else None}"
        previous = body.get("previous_response_id")
        if previous is not None and previous != self.last_response_id:
            return _refused(what, _previous_not_found(previous))
        steps = self._emulator.respond(body, Transport.WEBSOCKET)
        completed = _completed_id(steps)
        if completed is not None:
            self.last_response_id = completed
        return Reply([_for_websocket(step) for step in steps], what, _outcome(steps))

    def receive_binary(self) -> Reply:
        """The reply to a binary frame: Responses events are JSON text (§4.3)."""
        return _refused("binary frame", BINARY_FRAME)


def _refused(what: str, rejection: Rejection) -> Reply:
    return Reply([Emit(rejection.ws_frame())], what, f"error {rejection.status}")


def _unknown_type(kind: object) -> Rejection:
    return Rejection(
        400,
        f"Invalid value: {kind!r}. Supported values are: {CREATE!r}.",
        code="invalid_value",
        param="type",
    )


def _previous_not_found(previous: object) -> Rejection:
    return Rejection(
        400,
        f"Previous response with id '{previous}' not found.",
        code="previous_response_not_found",
        param="previous_response_id",
    )


def _completed_id(steps: list[Step]) -> str | None:
    last = steps[-1] if steps else None
    if isinstance(last, Emit) and last.event["type"] == EventType.COMPLETED:
        response_id: str = last.event["response"]["id"]
        return response_id
    return None


def _outcome(steps: list[Step]) -> str:
    last = steps[-1] if steps else None
    match last:
        case Reject(rejection):
            return f"error {rejection.status}"
        case Drop():
            return "dropped"
        case Emit(event):
            return str(event["type"])
    return "no events"


def _for_websocket(step: Step) -> Step:
    match step:
        case Reject(rejection):
            return Emit(rejection.ws_frame())
        case Emit(event) if event["type"] == EventType.ERROR and "error" not in event:
            return Emit(wrapped_error(event))
    return step


def wrapped_error(event: Event) -> dict[str, Any]:
    """A mid-stream SSE `error` event in the WebSocket shape (§4.6), without `status`."""
    code = event.get("code")
    kind = _ERROR_TYPES.get(code, "server_error") if isinstance(code, str) else "server_error"
    error = {"type": kind, "code": code, "message": event["message"], "param": event.get("param")}
    return {"type": "error", "error": error, "sequence_number": event["sequence_number"]}
