"""The upstream legs mitmweb shows beside each rewritten call: what went to the real upstream.

An HTTP call's leg is its own flow: the Responses request and the upstream's events. A WebSocket
is one flow across its turns: a kept socket (a continued conversation, or one the pool reused)
gets each new turn's `response.create` and events appended to the leg it already has, so one
socket reads as one socket, not as a handshake per turn; its comment says which socket it is and
how many turns it carried. Must not show a credential (the machine records headers redacted).

Rule 1: a leg is addressed to the real upstream (never the loopback driver), and lasts as long
        as its calls did (mitmweb's Time column).
Rule 2: a socket's leg keeps at most DISPLAY_LIMIT bytes of messages: past that its oldest turns
        go, whole, and its comment says how many.
Rule 3: at most MAX_SOCKET_LEGS sockets are remembered; a socket whose leg was removed from
        mitmweb (or forgotten) starts a new one.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any
from urllib.parse import urlsplit

from mitmproxy import connection, ctx, http, websocket
from wsproto.frame_protocol import Opcode

from chat2responses.call.job import CallJob
from chat2responses.call.record import CallRecord
from chat2responses.call.report import continuation_text
from chat2responses.protocol.transcript import DISPLAY_LIMIT

MAX_SOCKET_LEGS = 64
_META = "chat2responses"


class Legs:
    """Adds each finished call's upstream leg where flows are kept (mitmweb, the console)."""

    def __init__(self) -> None:
        self._sockets: OrderedDict[int, http.HTTPFlow] = OrderedDict()

    def show(self, flow: http.HTTPFlow, job: CallJob, record: CallRecord) -> None:
        view: Any = ctx.master.addons.get("view") if ctx.master else None  # type: ignore[no-untyped-call]
        if view is None or not job.outcome.tried:
            return
        if record.route != "websocket":
            view.add([http_leg(flow, job)])
            return
        socket = record.socket  # None: the handshake failed, no socket to share a leg with
        leg = self._sockets.pop(socket, None) if socket is not None else None
        if leg is not None and view.get_by_id(leg.id) is not None and record.socket_turn > 1:
            add_turn(leg, flow, job, record)
            view.update([leg])
        else:
            leg = websocket_leg(flow, job, record)
            view.add([leg])
        if socket is not None:
            self._sockets[socket] = leg
            while len(self._sockets) > MAX_SOCKET_LEGS:
                self._sockets.popitem(last=False)


def _leg(flow: http.HTTPFlow, job: CallJob) -> http.HTTPFlow:
    parts = urlsplit(job.upstream.http_url)
    address = (parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
    return http.HTTPFlow(flow.client_conn, connection.Server(address=address), live=False)


def _headers(job: CallJob) -> dict[str | bytes, str | bytes]:
    headers: dict[str | bytes, str | bytes] = {"content-type": "application/json"}
    headers.update(job.outcome.headers)
    return headers


def http_leg(flow: http.HTTPFlow, job: CallJob) -> http.HTTPFlow:
    """The Responses request and the upstream's answer of an HTTP call."""
    outcome = job.outcome
    leg = _leg(flow, job)
    leg.request = http.Request.make("POST", job.upstream.key, outcome.sent.encode(), _headers(job))
    status = outcome.upstream_status or 502
    leg.response = http.Response.make(status, outcome.upstream.value()[:DISPLAY_LIMIT])
    leg.response.headers["content-type"] = (
        "text/event-stream" if status == 200 else ("application/json")
    )
    leg.comment = f"http · upstream leg of {job.translation.match.requested}"
    _span(leg, flow, start=True)
    return leg


def websocket_leg(flow: http.HTTPFlow, job: CallJob, record: CallRecord) -> http.HTTPFlow:
    """A socket's leg, with this call's turn on it."""
    leg = _leg(flow, job)
    shown = job.upstream.key
    leg.request = http.Request.make("GET", shown, b"", {**_headers(job), "upgrade": "websocket"})
    leg.response = http.Response.make(101, b"", {"upgrade": "websocket"})
    leg.websocket = websocket.WebSocketData(messages=[], closed_by_client=True, close_code=1000)
    leg.metadata[_META] = {"socket": record.socket, "turns": [], "dropped": 0}
    add_turn(leg, flow, job, record, start=True)
    return leg


def add_turn(
    leg: http.HTTPFlow,
    flow: http.HTTPFlow,
    job: CallJob,
    record: CallRecord,
    *,
    start: bool = False,
) -> None:
    """Append this call's `response.create` and events to its socket's leg (rule 2)."""
    outcome, data = job.outcome, leg.websocket
    assert data is not None
    now = time.time()
    data.messages.append(websocket.WebSocketMessage(Opcode.TEXT, True, outcome.sent.encode(), now))
    data.messages += [
        websocket.WebSocketMessage(Opcode.TEXT, False, f.encode(), now) for f in outcome.frames
    ]
    meta = leg.metadata[_META]
    meta["turns"].append(
        {"flow": flow.id, "turn": record.socket_turn, "how": continuation_text(record)}
    )
    _trim(data, meta)
    turns = meta["turns"]
    continued = sum(1 for t in turns if t["how"].startswith("continued"))
    count = record.socket_turn
    how = f"{count} turn{'s' if count != 1 else ''} on this socket"
    if continued:
        how += f", {continued} continued"
    if meta["dropped"]:
        how += f" (the first {meta['dropped']} no longer shown)"
    name = f"websocket {record.socket} · {how}" if record.socket is not None else "websocket"
    leg.comment = (
        f"{name} · upstream leg of {job.translation.match.requested} · {job.upstream.ws_shown}"
    )
    _span(leg, flow, start=start)


def _trim(data: websocket.WebSocketData, meta: dict[str, Any]) -> None:
    """Rule 2: drop the oldest turns, whole, while the messages pass DISPLAY_LIMIT."""
    size = sum(len(m.content) for m in data.messages)
    while size > DISPLAY_LIMIT and len(meta["turns"]) > 1:
        starts = [i for i, m in enumerate(data.messages) if m.from_client]
        cut = starts[1] if len(starts) > 1 else len(data.messages)
        size -= sum(len(m.content) for m in data.messages[:cut])
        del data.messages[:cut]
        meta["turns"].pop(0)
        meta["dropped"] += 1


def _span(leg: http.HTTPFlow, flow: http.HTTPFlow, *, start: bool) -> None:
    """Rule 1: the leg starts with its first call and ends with its last."""
    if start:
        leg.request.timestamp_start = flow.request.timestamp_start
        leg.request.timestamp_end = flow.request.timestamp_end
    if flow.response is not None and leg.response is not None:
        if start:
            leg.response.timestamp_start = flow.response.timestamp_start
        leg.response.timestamp_end = flow.response.timestamp_end or time.time()
