"""The browser check (request/callers.py) applied to a flow the addon would answer.

It runs first in the `request` hook, before anything is planned or sent upstream. In reverse
mode mitmproxy replaces the client's `Host` with the target's before any addon sees it (unless
`keep_host_header` is set), so the Host rule applies there only with `keep_host_header`; the
Origin and Sec-Fetch-Site rules, which every browser that can be rebound honours, apply always.
"""

from __future__ import annotations

from mitmproxy import ctx, http
from mitmproxy.proxy.mode_specs import ReverseMode

from chat2responses.glue.flows import refuse
from chat2responses.request.callers import caller_refusal
from chat2responses.settings import Settings

# Every host (an empty set): in reverse mode without keep_host_header, where the Host is the
# target's. When intercepting, the request hook passes responses_hosts instead.
EVERY_HOST: frozenset[str] = frozenset()
_READ = ("origin", "sec-fetch-site")  # what request/callers.py reads besides the Host


def refuse_caller(flow: http.HTTPFlow, settings: Settings, rewritten: frozenset[str]) -> bool:
    """Answer `flow` with a 403 when a web page made it (request/callers.py); True if so."""
    req = flow.request
    reverse = isinstance(flow.client_conn.proxy_mode, ReverseMode)
    if reverse and not getattr(ctx.options, "keep_host_header", False):
        hosts: frozenset[str] | None = EVERY_HOST  # the Host is the target's, not the client's
    else:
        hosts = None if reverse else rewritten
    # The headers the rules read, only: a walk over all of them costs more than the rest.
    headers = {name: value for name in _READ if (value := req.headers.get(name)) is not None}
    headers["host"] = req.host_header or ""
    err = caller_refusal(
        headers,
        settings.callers,
        listen_host=str(getattr(ctx.options, "listen_host", "")),
        rewritten_hosts=hosts,
    )
    if err is None:
        return False
    refuse(flow, err)
    return True
