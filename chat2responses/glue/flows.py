"""A rewritten flow, from the glue's side: what the client asked (`client_request`), the call it
became (`Call`), the flow re-pointed at the driver (`point_at_driver`), or refused (`refuse`).

Rule 1: the flow keeps the client's Host and authority (mitmweb shows what the client asked for);
        only its target changes, to the loopback driver, reached directly even in
        upstream-proxy mode, with an empty body (the client's is put back when the flow ends).
Rule 2: nothing written into a flow is a credential: the metadata holds model, route and the
        upstream's URL without userinfo or query.
Rule 3: a flow the addon answers itself (rewritten, refused, or one of its own endpoints) loses
        the Basic credentials mitmproxy's `upstream_auth` put on it for the next hop
        (`Proxy-Authorization` in upstream mode, `Authorization` in reverse mode): it never
        takes that hop, and a saved flow, an export or mitmweb would show them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from mitmproxy import connection, ctx, http
from mitmproxy.addons.upstream_auth import parse_upstream_auth
from mitmproxy.proxy import mode_specs

from chat2responses.call.job import CallJob
from chat2responses.call.plan import ClientRequest
from chat2responses.glue import display
from chat2responses.protocol.body import MAX_BODY_BYTES
from chat2responses.protocol.content_coding import decode_content, needs_thread
from chat2responses.protocol.errors import ProxyError, error_body
from chat2responses.transports.driver import PATH_PREFIX
from chat2responses.upstream.routing import CallKind

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Call:
    """What the addon keeps about one rewritten flow, from request to end."""

    token: str
    job: CallJob
    started: float  # monotonic, when the request hook began
    original: display.Original

    def relay(self, data: bytes) -> bytes:
        """mitmproxy's stream callable: the bytes pass as they are; the first tell the call."""
        relayed = self.job.relayed
        if relayed is not None and not relayed.is_set():
            relayed.set()
        return data


def let_go(flow: http.HTTPFlow, call: Call) -> None:
    """The flow of a call that ended no longer leads to it: its relay was a cycle (flow → relay
    → call → flow), which kept the call's objects (request, translation, transcript) until a
    full collection. The response stays marked as streamed."""
    resp = flow.response
    if resp is not None and getattr(resp.stream, "__self__", None) is call:
        resp.stream = True


def client_request(
    req: http.Request, kind: CallKind, decoded: bytes | None = None, person: str = ""
) -> ClientRequest:
    """What plan_call needs of the client's request: its body's content-encoding undone
    (gzip, deflate, br, zstd), never past MAX_BODY_BYTES (protocol/content_coding.py), unless
    `decoded` is that already (`decode_off_loop`)."""
    body = decoded
    if body is None and req.raw_content is not None:
        coding = req.headers.get("content-encoding", "")
        body = decode_content(req.raw_content, coding, MAX_BODY_BYTES)
    return ClientRequest(kind, req.path, origin_of(req), body, req.headers.fields, person=person)


def decodes_slowly(req: http.Request) -> bool:
    """Whether the body's decoding belongs off the event loop (content_coding.needs_thread)."""
    return needs_thread(req.raw_content, req.headers.get("content-encoding", ""))


async def decode_off_loop(req: http.Request) -> bytes | None:
    """The body decoded in a thread: a hostile one is refused while the proxy serves others."""
    raw, coding = req.raw_content, req.headers.get("content-encoding", "")
    if raw is None:
        return None
    return await asyncio.to_thread(decode_content, raw, coding, MAX_BODY_BYTES)


def origin_of(req: http.Request) -> str:
    default_port = {"http": 80, "https": 443}.get(req.scheme)
    port = "" if req.port == default_port else f":{req.port}"
    return f"{req.scheme}://{req.pretty_host}{port}"


def forget_upstream_auth(flow: http.HTTPFlow) -> None:
    """Rule 3: take off the header mitmproxy's `upstream_auth` added, when it holds just that."""
    try:
        auth = ctx.options.upstream_auth
    except (AttributeError, KeyError):  # no master, or no such option (a test of the glue)
        return
    if not auth:
        return
    mode = flow.client_conn.proxy_mode
    if isinstance(mode, mode_specs.UpstreamMode):
        name = "proxy-authorization"
    elif isinstance(mode, mode_specs.ReverseMode):
        name = "authorization"
    else:
        return
    headers = flow.request.headers
    if headers.get(name, "").encode() == parse_upstream_auth(auth):
        del headers[name]


def original_of(flow: http.HTTPFlow) -> display.Original:
    """The client's request as the flow will show it again when its call ends (rule 3)."""
    forget_upstream_auth(flow)
    return display.Original.of(flow)


def refuse(flow: http.HTTPFlow, err: ProxyError) -> None:
    """Answer `flow` with `err` at once (nothing goes upstream), and say so in mitmweb."""
    forget_upstream_auth(flow)
    if err.status < 500:
        logger.info("request refused (%d): %s", err.status, err.message)
    flow.response = http.Response.make(
        err.status, error_body(err), {"content-type": "application/json", **err.headers}
    )
    # Like a call's comment (call/report.py rules 1, 2): what happened first, and no emoji mark.
    flow.comment = f"refused · {err.status} · {err.message}"


# Request headers that describe the client's body: the driver's request has none.
_BODY_HEADERS = frozenset({b"content-length", b"content-encoding", b"transfer-encoding"})


def point_at_driver(flow: http.HTTPFlow, call: Call, port: int) -> None:
    """Send the flow to the loopback driver, which holds the whole call (rule 1)."""
    redirect(flow, port, PATH_PREFIX + call.token)
    job = call.job
    flow.metadata["chat2responses"] = {
        "model": job.translation.model,
        "route": job.plan.route.value,
        "reason": job.plan.reason.value,
        "upstream_url": job.upstream.key,
        "dropped": list(job.translation.dropped),
        "person": job.person,  # responses_client_keys' name for the caller ("" without keys)
    }


def redirect(flow: http.HTTPFlow, port: int, path: str) -> None:
    """Re-point the flow's request at `path` on the driver's `port` (rule 1), body-less."""
    data = flow.request.data
    data.scheme, data.host, data.port = b"http", "127.0.0.1", port
    data.path = path.encode()
    fields = data.headers.fields
    data.headers.fields = (
        *(field for field in fields if field[0].lower() not in _BODY_HEADERS),
        (b"content-length", b"0"),
    )
    data.content = b""
    if flow.server_conn.via is not None:  # never through an upstream proxy (`--mode upstream`)
        flow.server_conn = connection.Server(address=("127.0.0.1", port))


def holder(flow: http.HTTPFlow) -> Callable[[], bool] | None:
    """What tells the driver whether `flow` is held (its rule 5), when it may be: only with
    mitmproxy's intercept on, since that addon decides after this one. With it off the call
    starts in the request hook itself, while mitmproxy makes the loopback hop (waiting for the
    hook to end cost the first byte about 1 ms)."""
    try:
        intercepting = bool(ctx.options.intercept_active)
    except (AttributeError, KeyError):  # no master or no intercept addon (a test of the glue)
        intercepting = False
    return (lambda: flow.intercepted) if intercepting else None
