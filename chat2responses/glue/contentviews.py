"""The pure renderers of chat2responses/views, as mitmproxy 12 content views.

Chat stream (a chat-completion SSE body as a transcript), Responses events (a Responses SSE body,
or a Responses WebSocket leg, grouped by output item), Chat request (a chat request summarised)
and Conversation (a rewritten call's conversation up to it, from glue/insight.py). Each says how
well it fits a body (`render_priority`): mitmweb's "auto" shows the highest (mitmproxy's
`ContentviewRegistry.get_view`; JSON says 1 for application/json), so a rewritten call's request
tab opens on Chat request; Conversation is picked by hand.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from mitmproxy import contentviews, ctx, http

from chat2responses.protocol.events import TERMINAL
from chat2responses.views import (
    is_chat_stream,
    is_responses_events,
    render_chat_request,
    render_chat_stream,
    render_responses_events,
)
from chat2responses.views.conversation import render_conversation

if TYPE_CHECKING:
    from chat2responses.glue.insight import Insight

META = "chat2responses"


def register_views(insight: Insight | None = None) -> None:
    """Add the views once (a script reload must not register them twice); the Conversation view,
    given the addon's records, reads them (replaced on a reload, so it reads the new addon's)."""
    for view in (ChatStreamView, ResponsesEventsView, ChatRequestView):
        if view().name.lower() not in contentviews.registry.available_views():
            contentviews.add(view)
    if insight is not None:
        contentviews.add(ConversationView(insight))


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
            return render_responses_events(_turn_of(flow, metadata.websocket_message))
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
        if not is_request or b'"messages"' not in data[:65536]:
            return -1
        # A rewritten call's request opens here, over the JSON view (1); another stays JSON.
        flow = metadata.flow
        return 2 if flow is not None and META in flow.metadata else 0.5


class ConversationView(contentviews.Contentview):
    """A rewritten call's conversation up to it, one row per turn (views/conversation.py)."""

    def __init__(self, insight: Insight) -> None:
        self._insight = insight

    @property
    def name(self) -> str:
        return "Conversation"

    @property
    def syntax_highlight(self) -> contentviews.SyntaxHighlight:
        return "none"

    def prettify(self, data: bytes, metadata: contentviews.Metadata) -> str:
        flow = metadata.flow
        if not isinstance(flow, http.HTTPFlow):
            raise ValueError("not an HTTP flow")
        view: Any = ctx.master.addons.get("view") if ctx.master else None  # type: ignore[no-untyped-call]
        others = list(view) if view is not None else []  # the flows shown (as filtered)
        turns = self._insight.conversation(flow, others)  # ends with this flow's (last) call
        return render_conversation(turns, turns[-1].id if turns else flow.id)

    def render_priority(self, data: bytes, metadata: contentviews.Metadata) -> float:
        return -1  # chosen by hand: the body's own view comes first


def _turn_of(flow: http.HTTPFlow, message: Any) -> list[bytes]:
    """The messages of `message`'s turn on a socket's leg (glue/legs.py: one leg holds every
    turn of its socket): from the `response.create` before it up to it."""
    assert flow.websocket is not None
    messages = flow.websocket.messages
    end = next((i for i, m in enumerate(messages) if m is message), len(messages) - 1)
    start = next((i for i in range(end, -1, -1) if messages[i].from_client), 0)
    return [m.content for m in messages[start : end + 1]]


def _event_type(data: bytes) -> str | None:
    try:
        event = json.loads(data)
    except (ValueError, RecursionError):
        return None
    kind = event.get("type") if isinstance(event, dict) else None
    return kind if isinstance(kind, str) else None
