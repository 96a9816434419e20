"""Upstream events in, the client's bytes out: one sink per client format.

The driver feeds every upstream event (parsed once, from an SSE `data:` value or a WebSocket text
frame) to the call's sink, and writes what it returns. `ChatStreamSink` answers a streaming chat
client (chat-completion SSE, `data: [DONE]`); `ChatJsonSink` folds the same events into one
`chat.completion` for a non-streaming client, capped in size. Both run the one `StreamTranslator`
once per event. `UpstreamSSE` turns the raw bytes of an HTTP upstream into events.

Pure: no I/O, no mitmproxy; ids and clock come from the caller.

Rule 1: once an error chunk has been sent the stream is over: nothing more is emitted, not even
        `[DONE]` (OpenAI ends a failed stream the same way).
Rule 2: what is kept for display is bounded (`Transcript`); the client always gets everything.
"""

from __future__ import annotations

from typing import Any, Protocol

from chat2responses.protocol.errors import ProxyError, UpstreamError, error_body, error_chunk
from chat2responses.protocol.events import Event, EventType, parse_event
from chat2responses.protocol.sse import DONE, SSEDecoder, SSEMessage
from chat2responses.protocol.wire import dumps, utf8
from chat2responses.response.aggregate import ChatAggregator
from chat2responses.response.chunk_frames import ChunkFrames
from chat2responses.response.chunks import ChunkContext
from chat2responses.response.translate import StreamTranslator

DISPLAY_LIMIT = 2 * 1024 * 1024  # bytes of each side kept for mitmweb; the client gets all
# A non-streaming client's answer is built in memory: this many bytes of upstream events at most.
MAX_AGGREGATED_BYTES = 32 * 1024 * 1024
# One upstream event (an SSE event or a WebSocket frame) at most.
MAX_EVENT_BYTES = 16 * 1024 * 1024

SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"
JSON_CONTENT_TYPE = "application/json"


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


class ChatStreamSink:
    """Events → chat-completion SSE bytes, for a streaming client."""

    streaming = True
    content_type = SSE_CONTENT_TYPE

    def __init__(self, ctx: ChunkContext, *, include_usage: bool) -> None:
        self.translator = StreamTranslator(ctx, include_usage=include_usage)
        self._frame = ChunkFrames()
        self.error: ProxyError | None = None
        self.finished = False
        self.client = Transcript()  # what the client was sent, for display

    @property
    def done(self) -> bool:
        """Whether the answer is complete: the upstream may be closed."""
        return self.finished or self.translator.done

    @property
    def started(self) -> bool:
        """Whether any output was produced: from then on an error is an error chunk."""
        return self.translator.started

    @property
    def stopped(self) -> bool:
        """Whether a stop sequence ended the answer: the upstream is to be closed."""
        return self.translator.stopped

    def feed(self, event: Event) -> bytes:
        """The bytes this event produces (often one chunk, possibly none). Raises the upstream's
        error (an error event, a malformed event): the caller ends the stream with `fail`."""
        if self.finished:
            return b""
        chunks = self.translator.feed(event)
        if not chunks:
            return b""
        out = self._frame(chunks)
        self.client.add(out)
        return out

    def finish(self) -> bytes:
        """End of the upstream's events: the last chunks and `[DONE]` (raises like `feed`)."""
        if self.finished:
            return b""
        chunks = self.translator.finish()
        self.finished = True
        out = self._frame(chunks) + DONE
        self.client.add(out)
        return out

    def fail(self, err: ProxyError) -> bytes:
        """End the stream with `err` (rule 1)."""
        if self.finished:
            return b""
        self.error, self.finished = err, True
        out = error_chunk(err)
        self.client.add(out)
        return out

    def check_size(self, received: int) -> None:
        """A streaming client's answer is not buffered: no cap."""

    @property
    def usage(self) -> dict[str, Any] | None:
        usage = self.translator.usage
        return dict(usage) if usage else None


def check_buffered(received: int, limit: int) -> None:
    """A non-streaming client's answer is buffered: past `limit` bytes the call fails (502)."""
    if received > limit:
        raise UpstreamError(
            f"the upstream's answer exceeds {limit} bytes, the most chat2responses buffers "
            "for a non-streaming client; ask with stream: true",
            status=502,
            code="answer_too_large",
        )


class ChatJsonSink:
    """Events → one `chat.completion` JSON body, for a non-streaming client (capped)."""

    streaming = False
    content_type = JSON_CONTENT_TYPE

    def __init__(self, ctx: ChunkContext, *, limit: int = MAX_AGGREGATED_BYTES) -> None:
        self._aggregator = ChatAggregator(ctx)
        self._limit = limit
        self._done = False
        self.usage: dict[str, Any] | None = None
        self.error: ProxyError | None = None

    @property
    def done(self) -> bool:
        """Whether the answer is complete (a terminal event, or a stop sequence)."""
        return self._done or self._aggregator.stopped

    @property
    def started(self) -> bool:
        return self._aggregator.started

    @property
    def stopped(self) -> bool:
        return self._aggregator.stopped

    def check_size(self, received: int) -> None:
        """`received` bytes of upstream events so far; past the cap the call fails (502)."""
        check_buffered(received, self._limit)

    def feed(self, event: Event) -> bytes:
        """Fold `event` in (may raise the upstream's error); nothing is sent until `finish`."""
        self._aggregator.feed(event)
        if event["type"] in _TERMINAL_TYPES:
            self._done = True
        return b""

    def finish(self) -> bytes:
        body = self._aggregator.finish()
        usage = body.get("usage")
        self.usage = usage if isinstance(usage, dict) else None
        return utf8(dumps(body))

    def fail(self, err: ProxyError) -> bytes:
        self.error = err
        return error_body(err)


_TERMINAL_TYPES = frozenset(
    t.value for t in (EventType.COMPLETED, EventType.INCOMPLETE, EventType.FAILED, EventType.DONE)
)


class Sink(Protocol):
    """What the driver feeds: one per client format (these chat sinks, responses_sinks.py)."""

    @property
    def streaming(self) -> bool: ...
    @property
    def content_type(self) -> str: ...
    @property
    def started(self) -> bool: ...  # output was produced: no retry, errors are in-band
    @property
    def done(self) -> bool: ...  # the answer is complete: the upstream may be closed
    @property
    def stopped(self) -> bool: ...  # a stop sequence ended it: close the upstream
    @property
    def error(self) -> ProxyError | None: ...
    @property
    def usage(self) -> dict[str, Any] | None: ...

    def feed(self, event: Event) -> bytes: ...
    def finish(self) -> bytes: ...
    def fail(self, err: ProxyError) -> bytes: ...
    def check_size(self, received: int) -> None: ...


class UpstreamSSE:
    """Raw bytes of an upstream SSE body → events (`feed`/`finish`), any split."""

    __slots__ = ("_decoder",)

    def __init__(self) -> None:
        self._decoder = SSEDecoder(max_event_bytes=MAX_EVENT_BYTES)

    def feed(self, data: bytes) -> list[Event]:
        return [parse_event(raw) for raw in self.feed_raw(data)]

    def finish(self) -> list[Event]:
        return [parse_event(raw) for raw in self.finish_raw()]

    def feed_raw(self, data: bytes) -> list[str]:
        """The events' JSON texts, not parsed yet (`parse_event` each when it is its turn)."""
        return _texts(self._decoder.feed(data))

    def finish_raw(self) -> list[str]:
        return _texts(self._decoder.finish())


def _texts(messages: list[SSEMessage]) -> list[str]:
    return [m.data for m in messages if m.data and m.data != "[DONE]"]


def events_of_response(response: dict[str, Any]) -> list[Event]:
    """The events a stream would have carried for a final JSON `Response` object.

    Some upstreams ignore `stream: true` and answer the final Response as JSON; it becomes the
    events a stream would have ended with, so one translator handles both.
    """
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
