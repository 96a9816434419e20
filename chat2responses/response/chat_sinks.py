"""Upstream events in, the client's bytes out: one sink per client format.

The driver feeds every upstream event (parsed once, from an SSE `data:` value or a WebSocket text
frame) to the call's sink, and writes what it returns. `ChatStreamSink` answers a streaming chat
client (chat-completion SSE, `data: [DONE]`); `ChatJsonSink` folds the same events into one
`chat.completion` for a non-streaming client, capped in size. Both run the one `StreamTranslator`
once per event.

Pure: no I/O, no mitmproxy; ids and clock come from the caller.

Rule 1: once an error chunk has been sent the stream is over: nothing more is emitted, not even
        `[DONE]` (OpenAI ends a failed stream the same way).
Rule 2: what is kept for display is bounded (protocol/transcript.py); the client always gets
        everything.
"""

from __future__ import annotations

from typing import Any, Protocol

from chat2responses.protocol.errors import ProxyError, UpstreamError, error_body, error_chunk
from chat2responses.protocol.events import Event
from chat2responses.protocol.sse import DONE
from chat2responses.protocol.transcript import Transcript
from chat2responses.protocol.wire import dumps, utf8
from chat2responses.response.aggregate import ChatAggregator
from chat2responses.response.chunk_frames import ChunkFrames
from chat2responses.response.chunks import ChunkContext
from chat2responses.response.translate import StreamTranslator

# A non-streaming client's answer is built in memory: this many bytes of upstream events at most.
MAX_AGGREGATED_BYTES = 32 * 1024 * 1024

SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"
JSON_CONTENT_TYPE = "application/json"


class ChatStreamSink:
    """Events → chat-completion SSE bytes, for a streaming client."""

    streaming = True
    always_in_band = False
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
    always_in_band = False
    content_type = JSON_CONTENT_TYPE

    def __init__(self, ctx: ChunkContext, *, limit: int = MAX_AGGREGATED_BYTES) -> None:
        self._aggregator = ChatAggregator(ctx)
        self._limit = limit
        self.usage: dict[str, Any] | None = None
        self.error: ProxyError | None = None

    @property
    def done(self) -> bool:
        """Whether the answer is complete (a terminal event, after a stop sequence too)."""
        return self._aggregator.done

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
        return b""

    def finish(self) -> bytes:
        body = self._aggregator.finish()
        usage = body.get("usage")
        self.usage = usage if isinstance(usage, dict) else None
        return utf8(dumps(body))

    def fail(self, err: ProxyError) -> bytes:
        self.error = err
        return error_body(err)


class Sink(Protocol):
    """What the driver feeds: one per client format (these chat sinks, responses_sinks.py)."""

    @property
    def streaming(self) -> bool: ...
    @property
    def always_in_band(self) -> bool: ...  # errors go in the stream, before its head too
    @property
    def content_type(self) -> str: ...
    @property
    def started(self) -> bool: ...  # output was produced: no retry, errors are in-band
    @property
    def done(self) -> bool: ...  # the answer is complete: the upstream may be closed
    @property
    def stopped(self) -> bool: ...  # a stop sequence ended its text: only its usage is awaited
    @property
    def error(self) -> ProxyError | None: ...
    @property
    def usage(self) -> dict[str, Any] | None: ...

    def feed(self, event: Event) -> bytes: ...
    def finish(self) -> bytes: ...
    def fail(self, err: ProxyError) -> bytes: ...
    def check_size(self, received: int) -> None: ...
