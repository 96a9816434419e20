"""Readable views of this project's traffic, for the contentviews the mitmproxy glue registers:
a chat SSE stream reassembled into a transcript (`chat_stream`), a Responses event stream, an HTTP
SSE body or the texts of a WebSocket's messages, grouped by output item (`responses_events`), and
a chat request summarised (`chat_request`).

Owns how these bodies are shown, nothing else: it never changes a flow, and it must not import
mitmproxy (glue/contentviews.py wraps these functions in Contentview classes). Its input is whatever
crossed the wire, so nothing in it is trusted:
1. Every JSON field is read through an accessor that yields an empty value for a wrong shape; a
   payload that is not JSON, or not an object, is counted and shown, never fatal (`fields`).
2. No function here raises on any input: invalid UTF-8, truncated SSE, an event over the SSE
   decoder's limit (decoding stops there; what came before is shown) (`reading`).
3. Output is bounded: each text block is clipped to MAX_BLOCK_CHARS, the whole view to
   MAX_OUTPUT_CHARS (`writer`), and only the first MAX_INPUT_BYTES of a body are read (`reading`).

Pure: no I/O.
"""

from chat2responses.views.chat_request import render_chat_request
from chat2responses.views.chat_stream import is_chat_stream, render_chat_stream
from chat2responses.views.reading import MAX_EVENT_BYTES, MAX_INPUT_BYTES
from chat2responses.views.responses_events import is_responses_events, render_responses_events
from chat2responses.views.writer import MAX_BLOCK_CHARS, MAX_OUTPUT_CHARS

__all__ = [
    "MAX_BLOCK_CHARS",
    "MAX_EVENT_BYTES",
    "MAX_INPUT_BYTES",
    "MAX_OUTPUT_CHARS",
    "is_chat_stream",
    "is_responses_events",
    "render_chat_request",
    "render_chat_stream",
    "render_responses_events",
]
