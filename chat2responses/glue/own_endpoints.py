"""The addon's own endpoints, under `/_chat2responses/`: answered by the addon, never forwarded.

    GET /_chat2responses/status   the `chat2responses.status` text (what `chat2responses status`
                                  prints): every account's quota, by digest, and what upstreams
                                  taught; text/plain

The request hook calls `answer` first, before anything else looks at a flow.

Rule 1: a request whose path is under PREFIX is answered here, whatever its method, host or
        client: it never reaches an upstream (an unknown name is a 404, another method a 405).
Rule 2: only the user's own machine is answered: a client connected from a loopback address, not
        on behalf of a web page (a request with an `Origin`, or a `Sec-Fetch-Site` other than
        `none`, is a page's: browsers send one of them even for a DNS-rebound same-origin
        fetch); anyone else gets a 403. (The Host header cannot tell: in reverse mode mitmproxy
        has already set it to the target's.)
Rule 3: errors are OpenAI error bodies, as everywhere else.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from mitmproxy import http

from chat2responses.glue.flows import refuse
from chat2responses.glue.status import status_text
from chat2responses.protocol.errors import ClientError

if TYPE_CHECKING:
    from chat2responses.glue.hooks import Chat2Responses

PREFIX = "/_chat2responses/"


def _status(main: Chat2Responses) -> str:
    return status_text(main.state.quota, main.state.memory)


# name under PREFIX → what answers it (text/plain)
ENDPOINTS: Mapping[str, Callable[[Chat2Responses], str]] = {"status": _status}


def answer(flow: http.HTTPFlow, main: Chat2Responses) -> bool:
    """Answers `flow` when its path is one of ours (rule 1); False when it is not ours at all."""
    path = flow.request.path.partition("?")[0]
    if not path.startswith(PREFIX):
        return False
    name = path.removeprefix(PREFIX)
    endpoint = ENDPOINTS.get(name)
    if not from_this_machine(flow):
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
        text = endpoint(main) + "\n"
        headers = {"content-type": "text/plain; charset=utf-8", "cache-control": "no-store"}
        flow.response = http.Response.make(200, text.encode(), headers)
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
