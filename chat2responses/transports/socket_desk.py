"""Where the driver keeps the clients' Responses WebSockets the glue took over (driver.py rule 6).

The glue registers a `SocketSession` for each client upgrade it takes over and re-points the
flow at `SOCKET_PREFIX + token` on this desk's port (127.0.0.1, websocket/server.py); when
mitmproxy opens that socket, the session's frames are served by client_socket.py, each call it
makes launched by the driver like any other (so `stop_calls` ends it too).

Rule 1: a token is served once, and only within `ttl` seconds of its registration; after that,
        or once used, the server refuses it (404 before the handshake completes).
Rule 2: `stop` closes the server and forgets every registration.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
from collections.abc import Callable
from typing import Any

from chat2responses.call.job import CallJob
from chat2responses.transports import client_socket
from chat2responses.transports.call import UpstreamCall
from chat2responses.transports.websocket.server import ClientSocket, serve_client_sockets

logger = logging.getLogger(__name__)

Launch = Callable[[CallJob], tuple[UpstreamCall, asyncio.Task[None]]]


class SocketDesk:
    """Registered client sockets, and the server mitmproxy opens them on."""

    def __init__(self, launch: Launch, *, ttl: float) -> None:
        self.port = 0
        self.sessions: dict[str, client_socket.SocketSession] = {}
        self._launch = launch  # the driver's: runs a call of a served socket
        self._ttl = ttl
        self._expiry: dict[str, asyncio.TimerHandle] = {}
        self._sock: socket.socket | None = None
        self._server: Any = None  # websockets' Server (only transports/websocket imports it)

    def start(self, sock: socket.socket) -> None:
        """Serve on `sock` (listening on 127.0.0.1 already) on the running event loop."""
        self.port, self._sock = sock.getsockname()[1], sock
        asyncio.get_running_loop().create_task(self._serve(sock))

    async def _serve(self, sock: socket.socket) -> None:
        try:
            self._server = await serve_client_sockets(
                sock, self._serve_socket, lambda token: token in self.sessions
            )
        except Exception:
            logger.exception("the driver's WebSocket server could not start")
            raise

    def register(self, session: client_socket.SocketSession) -> str:
        """Keep `session` for the client socket mitmproxy opens next at
        `SOCKET_PREFIX + token`; it expires after `ttl` seconds (rule 1)."""
        token = secrets.token_urlsafe(24)
        self.sessions[token] = session
        with contextlib.suppress(RuntimeError):
            loop = asyncio.get_running_loop()
            self._expiry[token] = loop.call_later(self._ttl, self._forget, token)
        return token

    def _forget(self, token: str) -> None:
        self.sessions.pop(token, None)
        timer = self._expiry.pop(token, None)
        if timer is not None:
            timer.cancel()

    async def _serve_socket(self, client: ClientSocket) -> None:
        session = self.sessions.get(client.token)
        self._forget(client.token)  # rule 1: once
        if session is not None:
            await client_socket.serve(client, session, self._launch)

    def stop(self) -> None:
        """Rule 2."""
        if self._server is not None:
            self._server.close()
        elif self._sock is not None:
            self._sock.close()
        self._server = self._sock = None
        for token in list(self.sessions):
            self._forget(token)
