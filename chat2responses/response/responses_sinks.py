"""Upstream events in, a Responses client's bytes out: the Responses stream itself, or its Response.

For `POST …/responses` from Responses-native clients (LangChain, LiteLLM, aider and the openai
SDK's `responses.create` send codex models there) the addon does everything it does for a chat
call — profile rules, auth, transport, retries — but the answer stays in the Responses format:
`ResponsesStreamSink` re-frames each event as SSE (`event:` + `data:`), `ResponsesFrameSink` as
WebSocket frames, `ResponsesJsonSink` keeps the final `Response` object for a non-streaming
client. Same verbs as the chat sinks.

Pure: no I/O.

Rule 1: an `error` or `response.failed` before any output raises (the call keeps its HTTP status
        or retries); after that it is passed on as it came: the client reads it natively. The
        preamble (`response.created`, `response.in_progress`, `response.queued`) is held back
        and goes out with the first event after it, so an error right after it raises too.
Rule 2: a stream that ends without a terminal event ends with one `error` event of our own.
Rule 3: when `response.completed` carries an empty `output` (the Codex backend does), the
        non-streamed Response gets the items from `response.output_item.done`.
Rule 4: a late `error` is passed on in OpenAI's shape (`ResponseErrorEvent`: code, message,
        param at the top): a WebSocket error frame, which nests them in `error` beside an HTTP
        `status` and `headers`, is reshaped; one in that shape already goes as it came.
Rule 5: vendor events (`codex.*`, `response.metadata`: the Codex backend's quota and safety
        notes) reach only a client that identifies as a Codex client (`vendor_events`), which
        reads them natively; other clients' streams leave them out (their SDKs know no such
        event). Before the first output they are held back with the preamble: not output.
Rule 6: a client of the Responses WebSocket (`ResponsesFrameSink`) gets every event as one frame
        (one line here), and a failure of ours as the WebSocket's error frame (it has no HTTP
        status).
"""

from __future__ import annotations

from typing import Any

from chat2responses.protocol.client_frames import error_frame_text
from chat2responses.protocol.errors import OVERLOADED, ProxyError, UpstreamProtocolError, error_body
from chat2responses.protocol.events import (
    PREAMBLE,
    RESPONSE_END,
    TERMINAL,
    Event,
    EventType,
    error_of_event,
)
from chat2responses.protocol.sse import encode_event
from chat2responses.protocol.transcript import Transcript
from chat2responses.protocol.wire import dumps, utf8
from chat2responses.response.chat_sinks import (
    JSON_CONTENT_TYPE,
    MAX_AGGREGATED_BYTES,
    SSE_CONTENT_TYPE,
    check_buffered,
)

METADATA_EVENT = "response.metadata"


def is_vendor_event(kind: str) -> bool:
    """A Codex backend event outside the Responses API (rule 5)."""
    return kind.startswith("codex.") or kind == METADATA_EVENT


class ResponsesStreamSink:
    """Events → Responses SSE, as the upstream sent them."""

    streaming = True
    content_type = SSE_CONTENT_TYPE
    always_in_band = False  # an error before the head goes out keeps its HTTP status

    def __init__(self, *, vendor_events: bool = False) -> None:
        self.started = False
        self.done = False
        self.stopped = False  # Responses clients apply their own stop sequences
        self.error: ProxyError | None = None
        self.usage: dict[str, Any] | None = None
        self.client = Transcript()
        self.vendor_events = vendor_events  # rule 5
        self._sequence = 0
        self._preamble = b""  # held back until an event after it (rule 1)
        self._response_id: str | None = None  # from the preamble

    def feed(self, event: Event) -> bytes:
        if self.done:
            return b""
        kind = event["type"]
        if not self.started:
            err = error_of_event(event)
            if err is not None:
                raise err  # rule 1
        elif kind == EventType.ERROR:
            event = _openai_error_event(event)  # rule 4
        vendor = is_vendor_event(kind)
        if vendor and not self.vendor_events:
            return b""  # rule 5
        out = self._encode(kind, dumps(event))
        if not self.started and (kind in PREAMBLE or vendor):
            self._note(event)
            self._preamble += out
            return b""
        self.started = True
        self.done = kind in TERMINAL
        self._note(event)
        if self._preamble:
            out, self._preamble = self._preamble + out, b""
        self.client.add(out)
        return out

    def finish(self) -> bytes:
        if not self.done:
            raise UpstreamProtocolError("upstream closed the stream before response.completed")
        return b""

    def fail(self, err: ProxyError) -> bytes:
        """One `error` event (the shape of OpenAI's `ResponseErrorEvent`), and the end; nothing
        once the stream has ended (its terminal event went out already)."""
        if self.done:
            return b""
        self.error, self.done = err, True
        event = {
            "type": "error",
            "code": err.code,
            "message": err.message,
            "param": err.param,
            "sequence_number": self._sequence + 1,
        }
        out = self._encode("error", dumps(event))
        self.client.add(out)
        return out

    def fail_overloaded(self, err: ProxyError) -> bytes:
        """The whole answer of a call that gave up before any output, for a client that retries
        every other failure (the Codex CLI, call/giving_up.py rule 3): one `response.failed`
        whose error code is `server_is_overloaded`, with `err`'s message."""
        self.error, self.done = err, True
        event = {
            "type": "response.failed",
            "sequence_number": self._sequence + 1,
            "response": {
                "id": self._response_id or "resp_chat2responses",
                "object": "response",
                "status": "failed",
                "error": {"code": OVERLOADED, "message": err.message},
            },
        }
        out = self._encode("response.failed", dumps(event))
        self.client.add(out)
        return out

    def check_size(self, received: int) -> None:
        """A streaming client's answer is not buffered: no cap."""

    def _encode(self, kind: str, payload: str) -> bytes:
        return encode_event(kind, payload)

    def _note(self, event: Event) -> None:
        number = event.get("sequence_number")
        if isinstance(number, int):
            self._sequence = number
        response = event.get("response")
        if isinstance(response, dict) and isinstance(response.get("id"), str):
            self._response_id = response["id"]
        if self.done and (err := error_of_event(event)) is not None:
            self.error = err  # passed on as it came; the call's outcome still says it failed
        if event["type"] in RESPONSE_END and isinstance(response, dict):
            usage = response.get("usage")
            self.usage = usage if isinstance(usage, dict) else None


class ResponsesFrameSink(ResponsesStreamSink):
    """Events → one line of JSON per event, each a text frame of the client's Responses WebSocket
    (protocol/client_frames.py); an error is an error frame, before any output too (rule 6)."""

    content_type = "application/jsonl"
    always_in_band = True

    def fail(self, err: ProxyError) -> bytes:
        if self.done:
            return b""
        self.error, self.done = err, True
        out = self._encode("error", error_frame_text(err))
        self.client.add(out)
        return out

    def _encode(self, kind: str, payload: str) -> bytes:
        return utf8(payload) + b"\n"


class ResponsesJsonSink:
    """Events → the final `Response` object, for a client that asked for `stream: false`."""

    streaming = False
    always_in_band = False
    content_type = JSON_CONTENT_TYPE

    def __init__(self, *, limit: int = MAX_AGGREGATED_BYTES) -> None:
        self.started = False
        self.done = False
        self.stopped = False
        self.error: ProxyError | None = None
        self.usage: dict[str, Any] | None = None
        self._limit = limit
        self._items: dict[int, Any] = {}
        self._final: dict[str, Any] | None = None

    def feed(self, event: Event) -> bytes:
        err = error_of_event(event)
        if err is not None:
            raise err
        kind = event["type"]
        if kind == EventType.OUTPUT_ITEM_DONE:
            index = event.get("output_index")
            position = index if isinstance(index, int) else len(self._items)
            self._items[position] = event.get("item")
            self.started = True
        elif kind in RESPONSE_END:
            response = event.get("response")
            if not isinstance(response, dict):
                raise UpstreamProtocolError(f"upstream sent {kind} without a response object")
            self._final, self.done, self.started = response, True, True
        elif kind not in PREAMBLE:
            self.started = True  # output began: an advisory error frame no longer ends it
        return b""

    def finish(self) -> bytes:
        if self._final is None:
            raise UpstreamProtocolError("upstream closed the stream before response.completed")
        response = dict(self._final)
        if not response.get("output") and self._items:  # rule 3
            response["output"] = [self._items[i] for i in sorted(self._items)]
        usage = response.get("usage")
        self.usage = usage if isinstance(usage, dict) else None
        return utf8(dumps(response))

    def fail(self, err: ProxyError) -> bytes:
        self.error = err
        return error_body(err)

    def check_size(self, received: int) -> None:
        check_buffered(received, self._limit)


_WEBSOCKET_ONLY = ("error", "status", "status_code", "headers")


def _openai_error_event(event: Event) -> Event:
    """`event` (an `error`) in OpenAI's shape (rule 4)."""
    if not any(key in event for key in _WEBSOCKET_ONLY):
        return event
    err = error_of_event(event)
    assert err is not None  # every `error` event stands for one
    shaped: Event = {"type": "error", "code": err.code, "message": err.message, "param": err.param}
    if "sequence_number" in event:
        shaped["sequence_number"] = event["sequence_number"]
    return shaped
