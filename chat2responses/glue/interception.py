"""Which intercepted flows are the addon's at all: the hosts it serves, and its own calls come back.

Owns the flow-side reading of routing rules 1-3 (upstream/routing.py): the host a flow was
addressed to, whether its listener is a reverse proxy (whose target counts as ours), the Codex
backend's native paths, and the hop mark that tells the addon's own upstream call from a client's.

Must not: decide anything routing.py can decide on plain values, or keep a credential: a looped
flow is answered with one 508 and emptied of its body and credential headers, so that neither a
login's token nor a refresh token stays in a flow.
"""

from __future__ import annotations

import logging

from mitmproxy import http
from mitmproxy.proxy.mode_specs import ReverseMode

from chat2responses.call.job import SECRET_HEADERS
from chat2responses.glue.egress import HOP
from chat2responses.glue.flows import refuse
from chat2responses.protocol.errors import ProxyError
from chat2responses.upstream import routing

logger = logging.getLogger(__name__)


def admits(flow: http.HTTPFlow) -> bool:
    """Whether the request hook goes on with `flow`: live and unanswered, and not a loop
    (answered here with a 508)."""
    if flow.response or flow.error or not flow.live:
        return False
    if came_back(flow, HOP):
        stop_loop(flow)
        return False
    return True


def is_ours(flow: http.HTTPFlow, hosts: frozenset[str]) -> bool:
    """Whether the addon may rewrite or answer `flow` (routing rules 1 and 2)."""
    reverse = isinstance(flow.client_conn.proxy_mode, ReverseMode)
    req = flow.request
    return routing.host_is_ours(
        req.pretty_host, hosts, reverse=reverse
    ) and not routing.is_native_codex_path(req.path)


def came_back(flow: http.HTTPFlow, hop: str) -> bool:
    """Whether `flow` is one of this process's own upstream calls (routing rule 3)."""
    return bool(hop) and flow.request.headers.get(routing.HOP_HEADER) == hop


def stop_loop(flow: http.HTTPFlow) -> None:
    """Answer a looped call with one 508 at once, and keep nothing secret of it in the flow."""
    req = flow.request
    host = req.pretty_host
    for name in list(req.headers.keys()):
        if name.lower() in SECRET_HEADERS:
            req.headers[name] = "<redacted>"
    req.content = b""
    message = routing.loop_error_message(host)
    logger.error("%s", message)
    refuse(flow, ProxyError(message, status=508, code="loop_detected"))
