"""The addon's own endpoints, under `/_chat2responses/`: answered by the addon, never forwarded.

    GET /_chat2responses/status   the `chat2responses.status` text (what `chat2responses status`
                                  prints): every account's quota, by digest, what upstreams
                                  taught, calls per person; text/plain; this machine only
    GET /_chat2responses/health   whether this instance can serve calls (call/health.py): 200
                                  or 503 with a small JSON body; any client (a load balancer)

The request hook calls `answer` first, before anything else looks at a flow (the keys file too:
a load balancer's check carries no key).

Rule 1: a request whose path is under PREFIX is answered here, whatever its method, host or
        client: it never reaches an upstream (an unknown name is a 404, another method a 405).
Rule 2: an endpoint marked `local` is answered only for the user's own machine: a client
        connected from a loopback address, not on behalf of a web page (a request with an
        `Origin`, or a `Sec-Fetch-Site` other than `none`, is a page's: browsers send one of them
        even for a DNS-rebound same-origin fetch); anyone else gets a 403. (The Host header
        cannot tell: in reverse mode mitmproxy has already set it to the target's.) The health
        answer is for any client, a load balancer on another host included: it names no
        account, key or path (call/health.py rule 3).
Rule 3: errors are OpenAI error bodies, as everywhere else.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mitmproxy import http

from chat2responses.glue.flows import forget_upstream_auth, refuse
from chat2responses.protocol.errors import ClientError

if TYPE_CHECKING:
    from chat2responses.glue.hooks import Chat2Responses

PREFIX = "/_chat2responses/"
_TEXT = "text/plain; charset=utf-8"
_JSON = "application/json"


def _status(main: Chat2Responses) -> tuple[int, str, bytes]:
    return 200, _TEXT, (main.team.status() + "\n").encode()


def _health(main: Chat2Responses) -> tuple[int, str, bytes]:
    status, body = main.team.health(main.settings, main.codex_login)
    return status, _JSON, json.dumps(body).encode() + b"\n"


@dataclass(frozen=True, slots=True)
class Endpoint:
    answer: Callable[[Chat2Responses], tuple[int, str, bytes]]  # status, content type, body
    local: bool  # rule 2


ENDPOINTS: Mapping[str, Endpoint] = {
    "status": Endpoint(_status, local=True),
    "health": Endpoint(_health, local=False),
}


def answer(flow: http.HTTPFlow, main: Chat2Responses) -> bool:
    """Answers `flow` when its path is one of ours (rule 1); False when it is not ours at all."""
    path = flow.request.path.partition("?")[0]
    if not path.startswith(PREFIX):
        return False
    name = path.removeprefix(PREFIX)
    endpoint = ENDPOINTS.get(name)
    if (endpoint is None or endpoint.local) and not from_this_machine(flow):
        message = f"{PREFIX}{name} answers only this machine's own programs."
        refuse(flow, ClientError(message, status=403, type="permission_error"))
    elif endpoint is None:
        known = ", ".join(PREFIX + n for n in ENDPOINTS)
        message = f"no such chat2responses endpoint: {path} (known: {known})"
        refuse(flow, ClientError(message, status=404, code="unknown_url"))
    elif flow.request.method != "GET":
        message = f"{flow.request.method} is not allowed here; use GET."
        refuse(flow, ClientError(message, status=405, headers={"allow": "GET"}))
    else:
        status, content_type, body = endpoint.answer(main)
        headers = {"content-type": content_type, "cache-control": "no-store"}
        forget_upstream_auth(flow)
        flow.response = http.Response.make(status, body, headers)
        flow.comment = f"chat2responses answered {PREFIX}{name} itself"
    return True


def from_this_machine(flow: http.HTTPFlow) -> bool:
    """Rule 2: a loopback client, and no web page behind the request."""
    peer = flow.client_conn.peername
    if not peer or not is_loopback(str(peer[0])):
        return False
    headers = flow.request.headers
    return "origin" not in headers and headers.get("sec-fetch-site", "none") == "none"


def is_loopback(address: str) -> bool:
    """Whether the IP address `address` (v4, v6, or v4 mapped into v6) is this machine's."""
    try:
        ip = ipaddress.ip_address(address.partition("%")[0])
    except ValueError:
        return False
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return (mapped or ip).is_loopback
