"""The driver's end of a client's Responses WebSocket (the package's only server side).

The glue takes over a client's `GET …/responses` upgrade and re-points it at this server on
127.0.0.1 (`/socket/<token>`); mitmproxy completes the handshake here and relays the frames both
ways, so the client's flow shows them. This module only accepts, reads and sends: what a frame
means and what answers it is transports/client_socket.py's.

Rule 1: bound to 127.0.0.1; a path that is not a token `is_known` accepts gets a 404 before the
        handshake completes.
Rule 2: no compression and no pings of our own (the hop is loopback; the client's pings pass
        through mitmproxy); a frame may be as large as a request body may (protocol/body.py).
Rule 3: websockets logs handshake headers (a client's credentials) at DEBUG and every connection
        at INFO: it gets a logger that says only warnings (mitmproxy logs the connections).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any, Final

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from chat2responses.protocol.body import MAX_BODY_BYTES

SOCKET_PREFIX: Final = "/socket/"

_wire_logger = logging.getLogger("chat2responses.transports.websocket.server_wire")
_wire_logger.setLevel(logging.WARNING)  # rule 3


class ClientSocket:
    """One client's socket, as the session reads and writes it."""

    def __init__(self, connection: ServerConnection) -> None:
        self._connection = connection

    @property
    def token(self) -> str:
        path = self._connection.request.path if self._connection.request else ""
        return path.removeprefix(SOCKET_PREFIX)

    async def recv(self) -> str | bytes | None:
        """The next frame, or None once the client has gone."""
        try:
            return await self._connection.recv()
        except ConnectionClosed:
            return None

    async def send(self, text: str) -> None:
        """One text frame; `ConnectionResetError` once the client has gone."""
        try:
            await self._connection.send(text)
        except ConnectionClosed as exc:
            raise ConnectionResetError("the client's WebSocket is closed") from exc

    async def closed(self) -> None:
        """Until the client has gone."""
        await self._connection.wait_closed()

    async def close(self, code: int = 1000) -> None:
        await self._connection.close(code)


async def serve_client_sockets(
    sock: Any,  # a listening socket.socket (the driver's; this package imports no socket)
    handle: Callable[[ClientSocket], Awaitable[None]],
    is_known: Callable[[str], bool],
) -> Server:
    """Serve client sockets on `sock` (bound to 127.0.0.1 already), each by `handle`."""

    def check(connection: ServerConnection, request: Request) -> Response | None:
        token = request.path.removeprefix(SOCKET_PREFIX)
        if request.path.startswith(SOCKET_PREFIX) and is_known(token):
            return None
        return connection.respond(HTTPStatus.NOT_FOUND, "unknown or expired socket\n")

    async def handler(connection: ServerConnection) -> None:
        await handle(ClientSocket(connection))

    return await serve(
        handler,
        sock=sock,
        process_request=check,
        compression=None,
        ping_interval=None,
        max_size=MAX_BODY_BYTES,
        logger=_wire_logger,
    )
