"""What mitmweb, the console and saved flows show of a rewritten call.

The client's flow is left as the client saw it: its own request (put back by `restore` on every
path — answered, failed, or the proxy stopping) and the answer it received (for a stream, a
bounded copy stored for display only). The Responses request and the upstream's answer go into a
second flow addressed to the real upstream (`upstream_leg`): an HTTP flow, or a WebSocket flow
with its messages, showing exactly what was sent, with credential headers as `<redacted>`.

Must not: hold or show a credential (the driver records headers already redacted).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from mitmproxy import connection, ctx, http, websocket
from wsproto.frame_protocol import Opcode

from chat2responses.call.job import CallJob
from chat2responses.call.policy import Route
from chat2responses.call.report import MARKS, CallReport, conversation_text, route_shown
from chat2responses.protocol.transcript import DISPLAY_LIMIT


@dataclass(frozen=True, slots=True)
class Original:
    """The client's own request, kept to put back when the call ends: the fields the glue
    changes, as they were (mitmproxy's header fields are an immutable tuple: kept, not copied)."""

    flow: http.HTTPFlow
    target: tuple[bytes, str, int, bytes, bytes]  # scheme, host, port, authority, path
    fields: tuple[tuple[bytes, bytes], ...]
    content: bytes | None

    @classmethod
    def of(cls, flow: http.HTTPFlow) -> Original:
        data = flow.request.data
        target = (data.scheme, data.host, data.port, data.authority, data.path)
        return cls(flow, target, data.headers.fields, data.content)


def restore(original: Original) -> None:
    data = original.flow.request.data
    data.scheme, data.host, data.port, data.authority, data.path = original.target
    data.headers.fields = original.fields
    data.content = original.content


def report(flow: http.HTTPFlow, job: CallJob, started: float) -> CallReport:
    outcome, translation = job.outcome, job.translation
    route, reason, note = route_shown(
        job.plan, tuple(outcome.tried), learned=outcome.learned, planned_at=job.planned_at
    )
    error = outcome.error
    if flow.error is not None:
        error = flow.error.msg
    match = translation.match
    end = time.monotonic()
    status = outcome.status
    if status is None and flow.response is not None:
        status = flow.response.status_code
    return CallReport(
        requested=match.requested,
        sent=match.upstream_name,
        route=route,
        reason=reason,
        reason_note=note,
        stream=translation.stream,
        status=status,
        first_chunk_ms=None if job.times.first_byte is None else _ms(started, job.times.first_byte),
        duration_ms=_ms(started, end),
        usage=outcome.usage,
        error=error,
        dropped=translation.dropped,
        tried=tuple(outcome.tried),
        quota=outcome.quota,
        notes=job.quota.notes.text() if job.quota and job.quota.notes else "",
        removed=translation.removed,
        person=job.person,
        conversation=conversation_text(
            continued=outcome.continued,
            sent_items=outcome.sent_items,
            full_items=outcome.full_items,
            sent=len(outcome.sent.encode()),
            full=outcome.full_size,
            replayed=outcome.replayed,
        ),
    )


def show(flow: http.HTTPFlow, job: CallJob) -> None:
    """Store the streamed answer for display, and add the upstream leg where flows are kept."""
    if flow.response is not None and job.outcome.client:
        flow.response.content = job.outcome.client
    view = ctx.master.addons.get("view") if ctx.master else None  # type: ignore[no-untyped-call]
    if view is not None and job.outcome.tried:  # mitmweb and the console keep flows
        view.add([upstream_leg(flow, job)])


def upstream_leg(flow: http.HTTPFlow, job: CallJob) -> http.HTTPFlow:
    outcome, translation, upstream = job.outcome, job.translation, job.upstream
    route = outcome.route or job.plan.route
    parts = urlsplit(upstream.http_url)
    address = (parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
    leg = http.HTTPFlow(flow.client_conn, connection.Server(address=address), live=False)
    headers: dict[str | bytes, str | bytes] = {"content-type": "application/json"}
    headers.update(outcome.headers)
    shown = upstream.key
    if route is Route.WEBSOCKET:
        leg.request = http.Request.make("GET", shown, b"", {**headers, "upgrade": "websocket"})
        leg.response = http.Response.make(101, b"", {"upgrade": "websocket"})
        messages = [websocket.WebSocketMessage(Opcode.TEXT, True, outcome.sent.encode())]
        messages += [
            websocket.WebSocketMessage(Opcode.TEXT, False, f.encode()) for f in outcome.frames
        ]
        leg.websocket = websocket.WebSocketData(
            messages=messages, closed_by_client=True, close_code=1000
        )
        leg.comment = (
            f"upstream leg of {translation.match.requested} ({route.value}, {upstream.ws_shown})"
        )
    else:
        leg.request = http.Request.make("POST", shown, outcome.sent.encode(), headers)
        status = outcome.upstream_status or 502
        kind = "text/event-stream" if status == 200 else "application/json"
        leg.response = http.Response.make(status, outcome.upstream.value()[:DISPLAY_LIMIT])
        leg.response.headers["content-type"] = kind
        leg.comment = f"upstream leg of {translation.match.requested} ({route.value})"
    # The leg lasted as long as the call: mitmweb's Time column should say so.
    leg.request.timestamp_start = flow.request.timestamp_start
    leg.request.timestamp_end = flow.request.timestamp_end
    if flow.response is not None and leg.response is not None:
        leg.response.timestamp_start = flow.response.timestamp_start
        leg.response.timestamp_end = flow.response.timestamp_end or time.time()
    leg.marked = MARKS[route]
    return leg


def is_event_stream(headers: Any) -> bool:
    content_type = str(headers.get("content-type", ""))
    return content_type.split(";", maxsplit=1)[0].strip().lower() == "text/event-stream"


def _ms(start: float, end: float) -> float:
    return (end - start) * 1000
