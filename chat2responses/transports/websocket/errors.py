"""websockets' failures (and the socket layer's) as the project's `UpstreamError` tree, and
closing a socket in bounded time. The one place these exceptions are translated."""

from __future__ import annotations

import asyncio
import logging
import ssl as ssl_module
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import (
    ConnectionClosed,
    InvalidProxyStatus,
    InvalidStatus,
    InvalidURI,
    ProxyError,
    WebSocketException,
)
from websockets.frames import CloseCode
from websockets.protocol import State

from chat2responses.protocol.errors import (
    HandshakeRefused,
    UpstreamError,
    UpstreamProtocolError,
    WebSocketClosed,
    tls_error,
)
from chat2responses.protocol.events import MAX_EVENT_BYTES

logger = logging.getLogger(__name__)

# One event is one frame; the same cap as one SSE event (a `response.completed` repeats the whole
# output, which is still far below it).
MAX_MESSAGE_BYTES: Final = MAX_EVENT_BYTES
# Closing must not hang on an upstream that no longer answers: the socket is gone within this,
# inside the one second DESIGN.md allows between a client leaving and the upstream closing.
CLOSE_TIMEOUT: Final = 0.8
WAITING: Final = "waiting for an event from"  # what `upstream_errors` says of a stall
CONNECTING: Final = "connecting to"  # … and of the handshake


@contextmanager
def upstream_errors(where: str, doing: str, timeout: float) -> Iterator[None]:
    """Map websockets' and the socket layer's exceptions to the project's error tree."""
    try:
        yield
    except InvalidStatus as exc:
        response = exc.response
        raise HandshakeRefused.from_response(
            response.status_code, bytes(response.body), dict(response.headers.raw_items())
        ) from None
    except InvalidProxyStatus as exc:
        status = exc.response.status_code
        raise UpstreamError(
            f"the proxy refused the tunnel {doing} {where}: HTTP {status}",
            status=502,
            code="proxy_refused",
        ) from None
    except ProxyError as exc:
        raise UpstreamError(
            f"proxy failure {doing} {where}: {exc}", status=502, code="proxy_failure"
        ) from None
    except ConnectionClosed as exc:
        ours_first = exc.rcvd is None or exc.rcvd_then_sent is False
        if exc.sent is not None and exc.sent.code == CloseCode.MESSAGE_TOO_BIG and ours_first:
            raise UpstreamProtocolError(
                f"upstream {where} sent a WebSocket message over {MAX_MESSAGE_BYTES} bytes, "
                "the most chat2responses accepts for one event"
            ) from None
        # §4.6: a Close frame or EOF before the terminal event is a failure, never a success.
        code = exc.rcvd.code if exc.rcvd is not None else CloseCode.ABNORMAL_CLOSURE
        raise WebSocketClosed(
            f"upstream closed the WebSocket before response.completed ({exc})", code
        ) from None
    except TimeoutError:
        if doing == WAITING:
            raise UpstreamError(
                f"upstream {where} stalled: no event for {timeout:g} s (responses_idle_timeout)",
                status=504,
                code="upstream_stalled",
            ) from None
        raise UpstreamError(
            f"timed out after {timeout:g} s {doing} {where}", status=504, code="upstream_timeout"
        ) from None
    except ssl_module.SSLError as exc:
        detail = getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or str(exc)
        raise tls_error(f"{doing} {where}", str(detail)) from None
    except OSError as exc:
        if doing == CONNECTING:  # worded and coded as the HTTP route's (http.py)
            reason = exc.strerror or type(exc).__name__
            raise UpstreamError(
                f"cannot reach upstream {where}: {reason}", status=502, code="upstream_unreachable"
            ) from None
        raise UpstreamError(f"network failure {doing} {where}: {exc}") from None
    except InvalidURI:
        # Its message repeats the URL verbatim, credentials included.
        raise UpstreamError(f"not a valid WebSocket URL: {where}") from None
    except WebSocketException as exc:
        raise UpstreamProtocolError(f"WebSocket failure {doing} {where}: {exc}") from None


async def close_socket(ws: ClientConnection, code: int) -> None:
    """Close the socket within CLOSE_TIMEOUT, even if this task is cancelled again meanwhile."""
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await ws.close(code)
    except TimeoutError:
        logger.debug("closing handshake timed out; dropping the socket")
    finally:
        if ws.state is not State.CLOSED:
            ws.transport.abort()
