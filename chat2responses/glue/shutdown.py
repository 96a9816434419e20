"""Stopping with calls in flight: each client reads why its answer ends, then the addon stops.

mitmproxy awaits what an addon's `done` returns when it stops, and cancels every connection once
`done` is over. So `stop` hands the calls still running a STOPPING error (an OpenAI error body
before the first byte, one error chunk after it: call.py rule 7) and returns a task that tears
the addon down only once their flows ended, or after GRACE seconds. Without calls in flight it
tears down at once, as it must when mitmproxy removes the script (it does not await `done` then).
Every flow still live is put back as the client sent it (display.restore), on every path.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from chat2responses.errors import ProxyError
from chat2responses.glue import display
from chat2responses.login_refresh import close_soon

if TYPE_CHECKING:
    from chat2responses.glue.hooks import Chat2Responses

GRACE = 2.0  # seconds, at most, for the answers to end and mitmproxy to relay their ends
STOPPING = ProxyError(
    "chat2responses is stopping, so this answer ends here; send the request again once it is back.",
    status=503,
    type="service_unavailable_error",
    code="proxy_stopping",
)


def stop(addon: Chat2Responses) -> asyncio.Task[None] | None:
    """The addon's `done`: a task to await while calls end their answers, or None (done)."""
    ending = addon.driver.stop_calls(STOPPING)
    if not ending:
        teardown(addon)
        return None
    return asyncio.ensure_future(_wind_down(addon, ending))


async def _wind_down(addon: Chat2Responses, ending: list[asyncio.Task[None]]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + GRACE
    try:
        await asyncio.wait(ending, timeout=GRACE)
        # The flows end in mitmproxy's own hooks once it relayed the answers' ends.
        while addon.calls and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    finally:
        teardown(addon)


def teardown(addon: Chat2Responses) -> None:
    for flow_id in list(addon.calls):
        call = addon.calls.pop(flow_id)
        display.restore(call.original)
    addon.driver.stop()
    addon.catalogs.stop()
    if addon.codex_login is not None:
        close_soon(addon.codex_login)
        addon.codex_login = None
