"""Stopping with calls in flight: each client reads why its answer ends, then the addon stops.

mitmproxy awaits what an addon's `done` returns when it stops, and cancels every connection once
`done` is over. So `stop` hands the calls still running a STOPPING error (an OpenAI error body
before the first byte, one error chunk after it: transports/call.py rule 4) and returns what
tears the addon down once their flows ended, or after the driver's STOP_GRACE seconds. Without
calls in flight it tears down at once, as it must when mitmproxy removes the script (it does not
await `done` then). Every flow still live is put back as the client sent it (display.restore).

A client that keeps its connection open (an IDE does) has that connection's task cancelled when
mitmproxy exits, and Python before 3.12.2 then logs "Exception in callback
StreamReaderProtocol.connection_made…" with a `CancelledError` traceback (a bug in asyncio's
streams.py, CPython gh-113538): `stop` drops exactly that record, so Ctrl-C stays quiet.
"""

from __future__ import annotations

import asyncio
import logging
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
    asyncio_logger = logging.getLogger("asyncio")
    if not any(isinstance(f, CancelledAtExit) for f in asyncio_logger.filters):
        asyncio_logger.addFilter(CancelledAtExit())
    return addon.driver.wind_down(
        STOPPING, flows_done=lambda: not addon.calls, then=lambda: teardown(addon)
    )


def teardown(addon: Chat2Responses) -> None:
    for flow_id in list(addon.calls):
        call = addon.calls.pop(flow_id)
        display.restore(call.original)
    for flow_id in list(addon.sockets):
        display.restore(addon.sockets.pop(flow_id).original)
    addon.driver.stop()
    addon.team.stop()
    addon.catalogs.stop()
    addon.insight.stop()
    if addon.codex_login is not None:
        close_soon(addon.codex_login)
        addon.codex_login = None


class CancelledAtExit(logging.Filter):
    """Drops asyncio's report of a cancelled connection task, which is not an error (gh-113538:
    fixed in Python 3.12.2, where the callback closes the transport and logs nothing)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        bug = "StreamReaderProtocol.connection_made" in record.getMessage()
        return not (bug and isinstance(exc, asyncio.CancelledError))
