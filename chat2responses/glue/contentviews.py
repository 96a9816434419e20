"""The pure renderers of chat2responses/views, as mitmproxy 12 content views.

Chat stream (a chat-completion SSE body as a transcript), Responses events (a Responses SSE body,
or a Responses WebSocket leg, grouped by output item) and Chat request (a chat request summarised).
Each says how well it fits a body (`render_priority`) so mitmweb picks it by itself.
"""

from __future__ import annotations

import json

from mitmproxy import contentviews, http

from chat2responses.protocol.events import TERMINAL
from chat2responses.views import (
    is_chat_stream,
    is_responses_events,
    render_chat_request,
    render_chat_stream,
    render_responses_events,
)


def register_views() -> None:
    """Add the views once (a script reload must not register them twice)."""
    for view in (ChatStreamView, ResponsesEventsView, ChatRequestView):
        if view().name.lower() not in contentviews.registry.available_views():
            contentviews.add(view)


class ChatStreamView(contentviews.Contentview):
    """A chat-completion SSE body as a transcript: reasoning, text, tool calls, usage."""

    @property
    def name(self) -> str:
        return "Chat stream"

    def prettify(self, data: bytes, metadata: contentviews.Metadata) -> str:
        return render_chat_stream(data)

    def render_priority(self, data: bytes, metadata: contentviews.Metadata) -> float:
        return 2 if is_chat_stream(data) else -1


class ResponsesEventsView(contentviews.Contentview):
    """A Responses SSE body, or a Responses WebSocket leg, grouped by output item.

    On a WebSocket flow each message is one event: it is shown as pretty JSON, and the flow's
    terminal event shows the whole conversation's transcript.
    """

    @property
    def name(self) -> str:
        return "Responses events"

    @property
    def syntax_highlight(self) -> contentviews.SyntaxHighlight:
        return "none"

    def prettify(self, data: bytes, metadata: contentviews.Metadata) -> str:
        if metadata.websocket_message is None:
            return render_responses_events(data)
        event = _event_type(data)
        flow = metadata.flow
        if event in TERMINAL and isinstance(flow, http.HTTPFlow) and flow.websocket:
            return render_responses_events([m.content for m in flow.websocket.messages])
        try:
            return json.dumps(json.loads(data), indent=2, ensure_ascii=False)
        except (ValueError, RecursionError):
            return data.decode("utf-8", "replace")

    def render_priority(self, data: bytes, metadata: contentviews.Metadata) -> float:
        if metadata.websocket_message is not None:
            event = _event_type(data)
            return 2 if event and (event.startswith("response.") or event == "error") else -1
        return 2 if is_responses_events(data) else -1


class ChatRequestView(contentviews.Contentview):
    """A chat request summarised: model, messages by role, tools (the JSON view shows it raw)."""

    @property
    def name(self) -> str:
        return "Chat request"

    def prettify(self, data: bytes, metadata: contentviews.Metadata) -> str:
        rendered = render_chat_request(data)
        if rendered is None:
            raise ValueError("not a chat completions request")
        return rendered

    def render_priority(self, data: bytes, metadata: contentviews.Metadata) -> float:
        is_request = isinstance(metadata.http_message, http.Request)
        return 0.5 if is_request and b'"messages"' in data[:65536] else -1


def _event_type(data: bytes) -> str | None:
    try:
        event = json.loads(data)
    except (ValueError, RecursionError):
        return None
    kind = event.get("type") if isinstance(event, dict) else None
    return kind if isinstance(kind, str) else None
