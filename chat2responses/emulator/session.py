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
  leave the remembered response as it was. A chained request's effective input is the
  remembered response's effective input, then its output items, then the new input: the
  backend judges, caches and plays that.
- Rule 4: a frame that cannot be served (not JSON, not an object, binary, an unknown `type`)
  gets one `error` frame with a `status`, and the connection stays open (§4.6).
- Rule 5: a connection serves for `EmulatorConfig.ws_max_age` seconds (60 minutes, as the real
  one); the first `response.create` after that gets the `websocket_connection_limit_reached`
  error frame, then a close frame (1000).
- Rule 6: with `EmulatorConfig.rate_limits_event` (`--rate-limits-event`), every response that
  is not refused starts with the `codex.rate_limits` event (quota.py), before `response.created`,
  as the Codex backend sends it. The handshake's headers give the caller's credential;
  the Responses-Lite marker comes from the frame's `client_metadata` (lite.py), and the client
  version from the handshake's headers too.

Out go only `Emit`, `Sleep`, `Drop` and `Close` steps: a `Reject` becomes its wrapped `error` frame
(`{"type":"error","status":N,"error":{…}}`), and a mid-stream `error` event (the SSE shape) takes
the wrapped shape without `status`, as the SDK's `ResponseWsError` models it; every other event
is sent exactly as over SSE (§4.3).

Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from chat2responses.emulator.backend import Caller, Emulator, EmulatorConfig
from chat2responses.emulator.lite import websocket_marker
from chat2responses.emulator.rules import (
    NOT_AN_OBJECT,
    NOT_JSON,
    Rejection,
    Transport,
    previous_not_found,
)
from chat2responses.emulator.steps import Close, Drop, Emit, Reject, Sleep, Step
from chat2responses.protocol.events import Event, EventType

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
_ERROR_TYPES: Mapping[str, str] = {
    "rate_limit_exceeded": "rate_limit_error",
    "server_is_overloaded": "service_unavailable_error",
}


def handshake_refusal(config: EmulatorConfig, refuse_header: str | None) -> Rejection | None:
    """The 426 that refuses a WebSocket handshake, or None to accept it.

    The model is only known from the first frame, so the refusal is per server
    (`EmulatorConfig.refuse_websocket`) or per handshake (the `REFUSE_HEADER` header set to 1).
    """
    asked = refuse_header is not None and refuse_header.strip().lower() in {"1", "true", "yes"}
    return WEBSOCKET_REFUSED if config.refuse_websocket or asked else None


@dataclass(frozen=True, slots=True)
class Reply:
    """What one frame gets: the steps to perform (`Emit`, `Sleep`, `Drop`, `Close`) as `frames`
    gives them, and for the log, what the frame was and how its answer ends once every step has
    run. `inserted` is Rule 6's event and its place among the steps."""

    played: list[Step]
    what: str
    outcome: str
    inserted: tuple[int, Step] | None = None

    def frames(self) -> Iterator[Step]:
        """The steps in their WebSocket shapes, each shaped as it is sent: a long answer's first
        frame does not wait for a pass over its thousands of steps."""
        inserted = self.inserted
        for i, step in enumerate(self.played):
            if inserted is not None and i == inserted[0]:
                yield inserted[1]
            yield _for_websocket(step)
        if inserted is not None and inserted[0] == len(self.played):
            yield inserted[1]

    @property
    def steps(self) -> list[Step]:
        """All of `frames()` at once."""
        return list(self.frames())


@dataclass(frozen=True, slots=True)
class Completed:
    """The last response a connection completed: its id, effective input and output items."""

    response_id: str
    input: list[Any]
    output: list[Any]


def connection_limit(max_age: float) -> Rejection:
    minutes = max_age / 60
    span = f"{minutes:g} minutes" if minutes == int(minutes) else f"{max_age:g} seconds"
    return Rejection(
        400,
        f"Responses websocket connection limit reached ({span}). "
        "Create a new websocket connection to continue.",
        code="websocket_connection_limit_reached",
    )


class WebSocketSession:
    """One connection's state: the last response it completed (Rule 3), when it opened (Rule 5)
    and who is calling (the handshake's credential digest, signing.py)."""

    def __init__(
        self,
        emulator: Emulator,
        *,
        credential: str = "",
        client_version: tuple[int, int, int] | None = None,
    ) -> None:
        self._emulator = emulator
        self._credential = credential
        self._client_version = client_version  # the handshake's (catalog_rules.py rule 1)
        self.opened_at = emulator.now()
        self._last: Completed | None = None
        self._played: tuple[dict[str, Any], list[Step]] | None = None  # the last reply's

    @property
    def last(self) -> Completed | None:
        """The last response this connection completed (Rule 3). Worked out from the previous
        reply's steps after they have run (`settle`), not before its first frame: that would be
        one more pass over a long answer's thousands of steps."""
        self.settle()
        return self._last

    def settle(self) -> None:
        """Work out the remembered response from the last reply's steps, once they have all run:
        the front end calls it after sending them, outside any answer's way; otherwise the next
        frame or `last` does."""
        if self._played is not None:
            body, steps = self._played
            self._played = None
            self._last = _completed(body, steps) or self._last

    @property
    def last_response_id(self) -> str | None:
        return self.last.response_id if self.last is not None else None

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
        max_age = self._emulator.config.ws_max_age
        if self._emulator.now() - self.opened_at >= max_age:
            limit = connection_limit(max_age)
            steps: list[Step] = [Emit(limit.ws_frame()), Close(1000, "connection limit reached")]
            return Reply(steps, what, "error 400, closed")
        previous = body.get("previous_response_id")
        if previous is not None:
            if self.last is None or previous != self.last.response_id:
                return _refused(what, previous_not_found(previous))
            if isinstance(body.get("input"), list):
                body["input"] = [*self.last.input, *self.last.output, *body["input"]]
        caller = Caller(
            self._credential, websocket_marker(body), len(text.encode()), self._client_version
        )
        self._emulator.stats.websocket_requests += 1
        steps = self._emulator.respond(body, Transport.WEBSOCKET, caller)
        self.settle()  # the previous reply's response, if the front end did not settle it
        self._played = (body, steps)
        return Reply(steps, what, _outcome(steps), self._rate_limits(steps))

    def _rate_limits(self, steps: list[Step]) -> tuple[int, Step] | None:
        """Rule 6: the `codex.rate_limits` event and its place (after a leading `Sleep`), unless
        the reply is a refusal or the emulator sends none."""
        lead = 1 if steps and isinstance(steps[0], Sleep) else 0
        refused = lead < len(steps) and isinstance(steps[lead], Reject)
        if refused or not self._emulator.config.rate_limits_event:
            return None
        return lead, Emit(self._emulator.rate_limits_event())

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


# Looked up once: these run over every step of an answer (thousands), before its first frame.
_ITEM_DONE = EventType.OUTPUT_ITEM_DONE.value
_ERROR = EventType.ERROR.value


def _completed(body: Mapping[str, Any], steps: list[Step]) -> Completed | None:
    last = steps[-1] if steps else None
    if not (isinstance(last, Emit) and last.event["type"] == EventType.COMPLETED):
        return None
    output = [
        step.event["item"]
        for step in steps
        if type(step) is Emit and step.event["type"] == _ITEM_DONE
    ]
    return Completed(last.event["response"]["id"], list(body["input"]), output)


def _outcome(steps: list[Step]) -> str:
    last = steps[-1] if steps else None
    match last:
        case Reject(rejection):
            return f"error {rejection.status}"
        case Drop():
            return "dropped"
        case Close(code):
            return f"closed {code}"
        case Emit(event):
            return str(event["type"])
    return "no events"


def _for_websocket(step: Step) -> Step:
    if type(step) is Emit and step.event["type"] != _ERROR:
        return step  # nearly every step: thousands per long stream, before its first frame
    match step:
        case Reject(rejection):
            return Emit(rejection.ws_frame())
        case Emit(event) if event["type"] == EventType.ERROR and "status" not in event:
            return Emit(wrapped_error(event))
    return step


def wrapped_error(event: Event) -> dict[str, Any]:
    """A mid-stream SSE `error` event in the WebSocket shape (§4.6), without `status`: its
    nested `error` object when it has one (`server_is_overloaded`), else one built from it."""
    code = event.get("code")
    kind = _ERROR_TYPES.get(code, "server_error") if isinstance(code, str) else "server_error"
    error = {"type": kind, "code": code, "message": event["message"], "param": event.get("param")}
    nested = event.get("error")
    if isinstance(nested, dict):
        error = {"param": None} | nested
    return {"type": "error", "error": error, "sequence_number": event["sequence_number"]}
