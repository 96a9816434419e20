"""A client's Responses WebSocket on `…/responses`, taken over: the upgrade is re-pointed at the
driver's socket server, which serves each `response.create` frame as a call
(transports/client_socket.py); mitmproxy relays the frames both ways, so the client's flow shows
them. This module only reads the flow, registers the socket with the driver and annotates.

Rule 1: taken over only under `responses_rewrite=all` (the model is known only from the frames,
        so there is no catalog to judge by before the upgrade); otherwise the upgrade passes
        through untouched, to an upstream that may serve it itself.
Rule 2: each frame is planned by the addon like a `POST …/responses` with the handshake's
        headers (call/plan.py rule 6); each call ends like a flow's (the addon's `ended`: its
        record `<flow id>.<n>` in the conversation ledger and the flow's metadata, its console
        line, its upstream leg), and the client's flow is put back and annotated with every
        call's summary when the socket ends.
Rule 3: nothing written into the flow is a credential (as for every call: display.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from mitmproxy import http

from chat2responses.call.job import CallJob
from chat2responses.call.plan import ClientRequest
from chat2responses.call.record import CallRecord
from chat2responses.call.report import summary
from chat2responses.glue import display
from chat2responses.glue.flows import client_request, original_of, redirect
from chat2responses.protocol.client_frames import Create
from chat2responses.transports.client_socket import SocketSession
from chat2responses.transports.driver import SOCKET_PATH_PREFIX, Driver
from chat2responses.upstream.routing import CallKind

logger = logging.getLogger(__name__)

MAX_SHOWN = 50  # call summaries kept in a socket flow's comment


def is_websocket_upgrade(req: http.Request) -> bool:
    upgrade = req.headers.get("upgrade", "")
    return req.method == "GET" and "websocket" in upgrade.lower()


@dataclass(slots=True)
class SocketCall:
    """What the addon keeps about one client socket it took over, from upgrade to end."""

    token: str
    original: display.Original
    summaries: list[str] = field(default_factory=list)
    calls: int = 0


Plan = Callable[[ClientRequest], CallJob | None]
Ended = Callable[[http.HTTPFlow, CallJob, str], CallRecord]  # the addon's `ended`


def take_over(
    flow: http.HTTPFlow, driver: Driver, plan: Plan, ended: Ended, person: str = ""
) -> SocketCall:
    """Register `flow`'s socket with the driver and re-point the upgrade at it (rule 2);
    `person` is the caller's name from responses_client_keys, checked at the upgrade."""
    handshake = client_request(flow.request, CallKind.RESPONSES, person=person)
    original = original_of(flow)
    socket = SocketCall("", original)

    def planned(frame: Create) -> CallJob | None:
        request = ClientRequest(
            CallKind.RESPONSES,
            handshake.path,
            handshake.origin,
            frame.raw,
            handshake.header_fields,
            frame=frame.body,
            person=handshake.person,
        )
        return plan(request)

    def call_ended(job: CallJob, started: float) -> None:
        _ended(flow, socket, job, ended)

    socket.token = driver.sockets.register(SocketSession(planned, call_ended))
    redirect(flow, driver.sockets.port, SOCKET_PATH_PREFIX + socket.token)
    flow.metadata["chat2responses"] = {"route": "client websocket"}
    return socket


def _ended(flow: http.HTTPFlow, socket: SocketCall, job: CallJob, ended: Ended) -> None:
    """One call on the socket is over: its record, its line in the console, its leg."""
    try:
        socket.calls += 1
        record = ended(flow, job, f"{flow.id}.{socket.calls}")
        if len(socket.summaries) < MAX_SHOWN:
            socket.summaries.append(summary(record))
    except Exception:  # display only: never let it disturb the proxy
        logger.exception("chat2responses: reporting a WebSocket call failed")


def finished(flow: http.HTTPFlow, socket: SocketCall) -> None:
    """The socket ended: the flow put back as the client sent it, and annotated (rule 2)."""
    display.restore(socket.original)
    more = socket.calls - len(socket.summaries)
    lines = [f"client websocket · chat2responses served {socket.calls} response(s) on it"]
    lines += socket.summaries + ([f"… and {more} more"] if more > 0 else [])
    flow.comment = "\n".join(lines)
    flow.metadata.setdefault("chat2responses", {})["responses"] = socket.calls
