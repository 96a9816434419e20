"""A fresh socket to the upstream (`open_socket`): the handshake as the Codex CLI makes it, and
websockets' `connect` following a redirect only within the same origin.

Rule 1: the handshake carries the call's headers, the egress's hop mark, and the process's
        ChatGPT cookies (transports/sessions.py rule 1); what its answer sets is kept there, and
        its headers go to `on_handshake` (quota readings).
Rule 2: permessage-deflate is offered as Codex offers it, with smaller windows, and not to an
        upstream on this host (`deflate`); websockets' own handshake logging never goes below
        INFO (it would log the Authorization header).
Rule 3: the proxy is the one upstream/proxies.py chose, never websockets' own reading of the
        environment.
Rule 4: websockets follows a handshake's redirect to another origin itself, keeping every header
        but `Authorization` and cookies: the login's account id (and the conversation's frame
        after it) would go along. Here a redirect is followed only as upstream/redirects.py
        allows; any other is the 502 `upstream_redirect` it builds.
"""

from __future__ import annotations

import asyncio
import logging
import ssl as ssl_module
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

from chat2responses.protocol.errors import UpstreamError
from chat2responses.transports.sessions import handshake_cookie, keep_handshake_cookies
from chat2responses.transports.websocket.errors import (
    CLOSE_TIMEOUT,
    CONNECTING,
    MAX_MESSAGE_BYTES,
    upstream_errors,
)
from chat2responses.transports.websocket.pool import WebSocketPool
from chat2responses.transports.websocket.tls import ssl_argument
from chat2responses.upstream.proxies import DIRECT, Egress
from chat2responses.upstream.redirects import redirect_target
from chat2responses.upstream.routing import redacted_url

logger = logging.getLogger(__name__)


class SameOriginConnect(connect):
    """websockets' `connect`, following a redirect only within the same origin (rule 4)."""

    _hops = 0

    def process_redirect(self, exc: Exception) -> Exception | str:
        if not isinstance(exc, InvalidStatus) or exc.response.status_code not in _REDIRECTS:
            return super().process_redirect(exc)
        location = exc.response.headers.get("Location")
        try:
            redirect_target(self.uri, exc.response.status_code, location, "GET", self._hops)
        except UpstreamError as refused:
            return refused
        self._hops += 1
        return super().process_redirect(exc)


_REDIRECTS: Final = frozenset({300, 301, 302, 303, 307, 308})


class _Connection(ClientConnection):
    """websockets' connection, surviving a TLS handshake that fails through an HTTP proxy:
    asyncio then reports the loss to a connection that was never made, and websockets' own
    `connection_lost` raised AttributeError there (a traceback on the console per call; the
    call itself already had its 502)."""

    def connection_lost(self, exc: Exception | None) -> None:
        if hasattr(self, "recv_messages"):  # set by connection_made
            super().connection_lost(exc)


# websockets logs every handshake header (Authorization included) when its logger is at DEBUG, so
# it gets a logger of its own that never goes below INFO, whatever the root level.
_wire_logger = logging.getLogger("chat2responses.transports.websocket.wire")
_wire_logger.setLevel(logging.INFO)

USER_AGENT: Final = "chat2responses"

_DEFLATE: Final = ClientPerMessageDeflateFactory(
    server_max_window_bits=12,
    client_max_window_bits=12,
    compress_settings={"memLevel": 5},
)


@dataclass(frozen=True, slots=True)
class Target:
    """Where one response goes, and how long each step may take."""

    url: str
    headers: Mapping[str, str]
    ssl: ssl_module.SSLContext | None  # None for ws:// URLs
    connect_timeout: float
    idle_timeout: float
    pool: WebSocketPool | None
    on_handshake: Callable[[Mapping[str, str]], None] | None = None  # the 101's headers
    deflate: bool = True  # offer permessage-deflate (not to an upstream on this host)
    egress: Egress = DIRECT  # the proxy and the hop mark (upstream/proxies.py)

    @property
    def where(self) -> str:
        return redacted_url(self.url)


async def open_socket(target: Target) -> ClientConnection:
    """A fresh socket to `target` (rules 1-4), tracked by its pool when it has one."""
    where = target.where
    logger.debug("connecting WebSocket to %s", where)
    proxy = target.egress.proxy_for(target.url)
    started = asyncio.get_running_loop().time()
    with upstream_errors(where, CONNECTING, target.connect_timeout):
        ws = await SameOriginConnect(
            target.url,
            # The process's ChatGPT cookies, as the Codex CLI sends them on its handshakes
            # (transports/sessions.py rule 1); never part of the pool's key.
            additional_headers={
                **handshake_cookie(target.url),
                **target.headers,
                **target.egress.headers(),
            },
            user_agent_header=USER_AGENT,
            open_timeout=target.connect_timeout,
            close_timeout=CLOSE_TIMEOUT,
            max_size=MAX_MESSAGE_BYTES,
            # permessage-deflate as Codex offers it, with smaller windows: zlib's default
            # state is ~300 KB per socket, and the pool and conversations keep many open.
            # Not to an upstream on this host: there it saves no time, only spends CPU
            # (some 15 ms a 700 KB request, on each side).
            compression=None,
            extensions=[_DEFLATE] if target.deflate else None,
            # The proxy upstream/proxies.py chose (never websockets' own reading of the
            # environment); a loop back into this mitmproxy is caught by the hop mark.
            proxy=proxy.url_with_credentials() if proxy is not None else None,
            logger=_wire_logger,
            create_connection=_Connection,
            **ssl_argument(target.ssl),
        )
    if ws.response is not None:
        keep_handshake_cookies(target.url, ws.response.headers.get_all("set-cookie"))
    if target.on_handshake is not None and ws.response is not None:
        target.on_handshake(ws.response.headers)
    if target.pool is not None:
        handshake = asyncio.get_running_loop().time() - started
        target.pool.track(ws, target.url, target.headers, target.ssl, handshake=handshake)
    logger.debug("WebSocket to %s open", where)
    return ws
