"""The input side of every view (rule 2 of the package): only the first MAX_INPUT_BYTES of a body
are read, an SSE event over MAX_EVENT_BYTES stops decoding (what came before is kept), and
nothing raises on any input (invalid UTF-8, truncated SSE, bad JSON).

Owns turning a body into payload texts (an SSE body's event data, a WebSocket's message texts,
a request's JSON value) and the cheap look at a body's first event that the `is_*` sniffers
use. Must not interpret a payload: that is each view's. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from chat2responses.protocol.errors import UpstreamProtocolError
from chat2responses.protocol.sse import SSEDecoder
from chat2responses.views.fields import INVALID, loads

MAX_INPUT_BYTES = 16 << 20  # about a second of parsing: mitmproxy renders views inline
MAX_EVENT_BYTES = 8 << 20

_SNIFF_BYTES = 1 << 16  # how much of a body the is_* sniffers read
_FEED_BYTES = 1 << 16  # SSE is fed in slices, so an oversized event loses only what follows it
DONE_DATA = "[DONE]"


def sse_payloads(data: bytes) -> tuple[list[str], list[str]]:
    """The `data` of every event of an SSE body, and notes on what could not be read."""
    notes = []
    if len(data) > MAX_INPUT_BYTES:
        notes.append(f"only the first {MAX_INPUT_BYTES} of {len(data)} bytes are shown")
        data = data[:MAX_INPUT_BYTES]
    decoder = SSEDecoder(MAX_EVENT_BYTES)
    payloads: list[str] = []
    try:
        for start in range(0, len(data), _FEED_BYTES):
            payloads += [m.data for m in decoder.feed(data[start : start + _FEED_BYTES])]
        payloads += [m.data for m in decoder.finish()]
    except UpstreamProtocolError as exc:
        notes.append(f"SSE decoding stopped: {exc}")
    return payloads, notes


def message_texts(messages: Sequence[str | bytes]) -> tuple[list[str], list[str]]:
    """WebSocket message texts, up to MAX_INPUT_BYTES in all (binary ones decoded leniently)."""
    texts: list[str] = []
    left = MAX_INPUT_BYTES
    for message in messages:
        text = message if isinstance(message, str) else bytes(message).decode("utf-8", "replace")
        left -= len(text)
        if left < 0:
            return texts, [f"only the first {len(texts)} of {len(messages)} messages are shown"]
        texts.append(text)
    return texts, []


def first_event(data: bytes) -> tuple[str | None, str] | None:
    """(event name, data) of the first event other than `[DONE]`, from the body's start only."""
    decoder = SSEDecoder(_SNIFF_BYTES)
    try:
        messages = decoder.feed(data[:_SNIFF_BYTES]) + decoder.finish()
    except UpstreamProtocolError:
        return None
    first = next((m for m in messages if m.data.strip() != DONE_DATA), None)
    return None if first is None else (first.event, first.data)


def request_json(data: bytes) -> object:
    """The JSON value of a request body, or `INVALID` (also when over MAX_INPUT_BYTES)."""
    return loads(data) if len(data) <= MAX_INPUT_BYTES else INVALID
