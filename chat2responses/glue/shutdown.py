"""Stopping with calls in flight: each client reads why its answer ends, then the addon stops.

mitmproxy awaits what an addon's `done` returns when it stops, and cancels every connection once
`done` is over. So `stop` hands the calls still running a STOPPING error (an OpenAI error body
before the first byte, one error chunk after it: transports/call.py rule 4) and returns what
tears the addon down once their flows ended, or after the driver's STOP_GRACE seconds. Without
calls in flight it tears down at once, as it must when mitmproxy removes the script (it does not
await `done` then). Every flow still live is put back as the client sent it (display.restore).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING

from chat2responses.glue import display
from chat2responses.protocol.errors import ProxyError
from chat2responses.transports.login_refresh import close_soon

if TYPE_CHECKING:
    from chat2responses.glue.hooks import Chat2Responses

STOPPING = ProxyError(
    "chat2responses is stopping, so this answer ends here; send the request again once it is back.",
    status=503,
    type="service_unavailable_error",
    code="proxy_stopping",
)


def stop(addon: Chat2Responses) -> Awaitable[None] | None:
    """The addon's `done`: something to await while calls end their answers, or None (done)."""
    return addon.driver.wind_down(
        STOPPING, flows_done=lambda: not addon.calls, then=lambda: teardown(addon)
    )


def teardown(addon: Chat2Responses) -> None:
    for flow_id in list(addon.calls):
        call = addon.calls.pop(flow_id)
        display.restore(call.original)
    addon.driver.stop()
    addon.catalogs.stop()
    if addon.codex_login is not None:
        close_soon(addon.codex_login)
        addon.codex_login = None
