"""Upstream bytes in, client bytes out: SSE decoding, event parsing, translation and encoding.

`ChatStreamPipeline` is what `flow.response.stream` calls for a streaming client on either
transport: it receives arbitrary splits of the upstream Responses SSE body and `b""` at the end,
and returns the chat-completion SSE chunks to send. Once an error chunk has been sent the stream
is over: nothing more is emitted, not even `[DONE]` (OpenAI ends a failed stream the same way).

`aggregate` turns a whole upstream body into one `chat.completion` JSON for a non-streaming
client, raising the project's errors so the glue can keep the upstream's status.

Pure: no I/O, no mitmproxy; ids and clock come from the caller.
"""

from __future__ import annotations

import json
from typing import Any

from .aggregate import ChatAggregator
from .chunks import ChunkContext
from .errors import ProxyError, UpstreamProtocolError, error_chunk
from .events import Event, EventType, parse_event
from .sse import DONE, SSEDecoder, encode_data
from .translate_stream import StreamTranslator

# ChunkContext is re-exported: it lived here.
__all__ = [
    "DISPLAY_LIMIT",
    "ChatStreamPipeline",
    "ChunkContext",
    "Transcript",
    "aggregate",
    "events_of_body",
    "stream_body",
]

DISPLAY_LIMIT = 2 * 1024 * 1024  # bytes of each side kept for mitmweb; the client gets all


class Transcript:
    """Bytes kept for display, bounded: a huge stream is truncated here, never for the client."""

    __slots__ = ("limit", "parts", "size", "truncated")

    def __init__(self, limit: int = DISPLAY_LIMIT) -> None:
        self.limit = limit
        self.parts: list[bytes] = []
        self.size = 0
        self.truncated = False

    def add(self, data: bytes) -> None:
        room = self.limit - self.size
        if len(data) > room:
            self.truncated = True
            data = data[: max(room, 0)]
        if data:
            self.parts.append(data)
            self.size += len(data)

    def value(self) -> bytes:
        note = b"\n: chat2responses: truncated for display\n\n" if self.truncated else b""
        return b"".join(self.parts) + note


# Built once: json.dumps re-creates an encoder per call when given options.
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class ChatStreamPipeline:
    """Responses SSE bytes → chat-completion SSE bytes, for a streaming client."""

    def __init__(self, ctx: ChunkContext, *, include_usage: bool) -> None:
        self._decoder = SSEDecoder()
        self.translator = StreamTranslator(ctx, include_usage=include_usage)
        self.error: ProxyError | None = None
        self.finished = False
        self.upstream = Transcript()  # what came from the upstream, for display
        self.client = Transcript()  # what the client was sent, for display

    def __call__(self, data: bytes) -> list[bytes]:
        # mitmproxy's stream-callable protocol: b"" marks the end of the upstream body.
        out = self.feed(data) if data else self.finish()
        if len(out) > 1:
            out = [b"".join(out)]  # one write (one HTTP/1 chunk, one h2 frame) per upstream read
        for piece in out:
            self.client.add(piece)
        return out

    def feed(self, data: bytes) -> list[bytes]:
        self.upstream.add(data)
        if self.finished:
            return []
        out: list[bytes] = []
        try:
            for message in self._decoder.feed(data):
                self._translate(message.data, out)
        except ProxyError as err:
            return self._fail(err, out)
        return out

    def finish(self) -> list[bytes]:
        if self.finished:
            return []
        out: list[bytes] = []
        try:
            for message in self._decoder.finish():
                self._translate(message.data, out)
            self._emit(self.translator.finish(), out)
        except ProxyError as err:
            return self._fail(err, out)
        self.finished = True
        out.append(DONE)
        return out

    def feed_events(self, events: list[Event]) -> list[bytes]:
        """Translate already-parsed events (an upstream that answered JSON, not SSE)."""
        out: list[bytes] = []
        try:
            for event in events:
                self._emit(self.translator.feed(event), out)
        except ProxyError as err:
            return self._fail(err, out)
        return out

    def fail(self, err: ProxyError) -> list[bytes]:
        """End the stream with `err` (used by the glue for faults outside the byte stream)."""
        if self.finished:
            return []
        out = self._fail(err, [])
        for piece in out:
            self.client.add(piece)
        return out

    def _translate(self, payload: str, out: list[bytes]) -> None:
        if not payload or payload == "[DONE]":
            return
        self._emit(self.translator.feed(parse_event(payload)), out)

    def _emit(self, chunks: list[Any], out: list[bytes]) -> None:
        for chunk in chunks:
            out.append(encode_data(_dumps(chunk)))

    def _fail(self, err: ProxyError, out: list[bytes]) -> list[bytes]:
        self.error = err
        self.finished = True
        out.append(error_chunk(err))
        return out


def events_of_body(body: bytes) -> list[Event]:
    """The events of a whole upstream body: an SSE stream, or one JSON `Response` object.

    Some upstreams ignore `stream: true` and answer the final Response as JSON; it is turned into
    the events a stream would have ended with, so one translator handles both.
    """
    stripped = body.lstrip()
    if stripped.startswith(b"{"):
        try:
            obj = json.loads(stripped)
        except ValueError:
            obj = None
        if isinstance(obj, dict) and obj.get("object") == "response":
            return _events_of_response(obj)
    decoder = SSEDecoder()
    messages = decoder.feed(body) + decoder.finish()
    return [parse_event(m.data) for m in messages if m.data and m.data != "[DONE]"]


def _events_of_response(response: dict[str, Any]) -> list[Event]:
    status = response.get("status")
    terminal = {
        "incomplete": EventType.INCOMPLETE,
        "failed": EventType.FAILED,
    }.get(str(status), EventType.COMPLETED)
    output = response.get("output")
    items = output if isinstance(output, list) else []
    events: list[Event] = [{"type": EventType.CREATED.value, "response": response}]
    events += [
        {"type": EventType.OUTPUT_ITEM_DONE.value, "output_index": i, "item": item}
        for i, item in enumerate(items)
    ]
    events.append({"type": terminal.value, "response": response})
    return events


def aggregate(body: bytes, ctx: ChunkContext) -> bytes:
    """A whole upstream body → one `chat.completion` JSON body. Raises ProxyError."""
    if not body.strip():
        raise UpstreamProtocolError("upstream answered with an empty body")
    aggregator = ChatAggregator(ctx)
    for event in events_of_body(body):
        aggregator.feed(event)
    return _dumps(aggregator.finish()).encode()


def stream_body(body: bytes, ctx: ChunkContext, *, include_usage: bool) -> bytes:
    """A whole upstream body → the chat SSE body a streaming client expects (non-SSE upstreams)."""
    pipeline = ChatStreamPipeline(ctx, include_usage=include_usage)
    try:
        events = events_of_body(body)
    except ProxyError as err:
        return b"".join(pipeline.fail(err))
    return b"".join(pipeline.feed_events(events) + pipeline.finish())
