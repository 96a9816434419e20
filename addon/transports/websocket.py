"""The Responses WebSocket client: one upstream socket carries one response, start to terminal.

Owns the upstream side of the WebSocket route (reference/openai-protocols.md §4): the handshake,
the single `response.create` text frame, reading event frames until the first terminal event, and
closing the socket. It is the only module that imports `websockets`, and `_upstream_errors` is the
only place its exceptions (and the socket layer's) become the project's `UpstreamError` tree.

It must not interpret events beyond the cheap `parse_event` check and the terminal test, must not
reuse sockets across responses, and must never log handshake header values (they carry
credentials): only the URL, with any userinfo and query removed.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import ssl as ssl_module
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI, WebSocketException
from websockets.frames import CloseCode
from websockets.protocol import State

from addon.errors import UpstreamError, UpstreamProtocolError, upstream_error_from_body
from addon.events import TERMINAL, parse_event

logger = logging.getLogger(__name__)

# mitmproxy verifies upstreams against certifi's bundle (it depends on certifi); without it, the
# system store.
_CA_BUNDLE: str | None
try:
    import certifi

    _CA_BUNDLE = certifi.where()
except ImportError:  # pragma: no cover
    _CA_BUNDLE = None

# websockets logs every handshake header (Authorization included) when its logger is at DEBUG, so
# it gets a logger of its own that never goes below INFO, whatever the root level.
_wire_logger = logging.getLogger(f"{__name__}.wire")
_wire_logger.setLevel(logging.INFO)

USER_AGENT: Final = "chat2responses"
# One event is one frame; a `response.completed` repeats the whole output, so allow long answers.
MAX_MESSAGE_BYTES: Final = 64 * 1024 * 1024
# Closing must not hang on an upstream that no longer answers: the socket is gone within this,
# inside the one second DESIGN.md allows between a client leaving and the upstream closing.
CLOSE_TIMEOUT: Final = 0.8
# §4.2: "`stream` is implicit over WebSocket and should not be sent" (OpenAI's API). The Codex
# backend accepts `stream: true` (Codex itself sends it), so it is kept for every other host.
_STREAMLESS_HOSTS: Final = frozenset({"api.openai.com"})
# §4.2: "`background` is not supported over WebSocket". `type` is the frame's own field.
_NEVER_SENT: Final = frozenset({"type", "background"})


class HandshakeRefused(UpstreamError):
    """The upstream answered the WebSocket upgrade with an HTTP status instead of 101.

    The status is kept; 426 means: use HTTP (§4.1, and what Codex and CLIProxyAPI do).
    """

    @classmethod
    def from_response(cls, status: int, body: bytes, headers: dict[str, str]) -> HandshakeRefused:
        parsed = upstream_error_from_body(status, body, headers)
        return cls(
            parsed.message,
            status=parsed.status,
            type=parsed.type,
            code=parsed.code,
            param=parsed.param,
            headers=parsed.headers,
        )


def response_create_frame(url: str, body: Mapping[str, Any]) -> str:
    """The one text frame that starts a response: `{"type": "response.create", **body}`.

    `background` is always dropped; `stream` is dropped when the host is api.openai.com.
    """
    dropped = _NEVER_SENT
    if urlsplit(url).hostname in _STREAMLESS_HOSTS:
        dropped = dropped | {"stream"}
    frame: dict[str, Any] = {"type": "response.create"}
    frame.update((key, value) for key, value in body.items() if key not in dropped)
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


@asynccontextmanager
async def open_response_stream(
    url: str,
    *,
    headers: Mapping[str, str],
    body: Mapping[str, Any],
    ssl: ssl_module.SSLContext | None = None,
    connect_timeout: float = 15.0,
    idle_timeout: float = 300.0,
) -> AsyncIterator[AsyncIterator[str]]:
    """Connect to `url`, send `body` as `response.create`, and yield the event texts.

    The yielded iterator ends after (and including) the first terminal event, or raises an
    `UpstreamError`: `HandshakeRefused` for a non-101 answer, `UpstreamProtocolError` for a binary
    frame or a close before the terminal event, status 504 when no frame comes within
    `idle_timeout`. The socket is closed on exit, within `CLOSE_TIMEOUT`, even when the caller
    stops early or is cancelled.
    """
    frame = response_create_frame(url, body)
    where = redacted_url(url)
    logger.debug("connecting WebSocket to %s", where)
    with _upstream_errors(where, "connecting to", connect_timeout):
        ws = await connect(
            url,
            additional_headers=headers,
            user_agent_header=USER_AGENT,
            open_timeout=connect_timeout,
            close_timeout=CLOSE_TIMEOUT,
            max_size=MAX_MESSAGE_BYTES,
            # Environment proxies are ignored, as mitmproxy ignores them: a shell that points
            # HTTPS_PROXY at this very mitmproxy would otherwise loop the upstream through it.
            proxy=None,
            logger=_wire_logger,
            **_tls_arguments(url, ssl),
        )
    logger.debug("WebSocket to %s open", where)
    stream = _EventStream(ws, where, idle_timeout)
    try:
        with _upstream_errors(where, "sending response.create to", idle_timeout):
            async with asyncio.timeout(idle_timeout):
                await ws.send(frame)
        yield stream
    finally:
        # 1001 "going away" tells the upstream we left before the response ended.
        code = CloseCode.NORMAL_CLOSURE if stream.finished else CloseCode.GOING_AWAY
        await _close(ws, code)
        logger.debug("WebSocket to %s closed (%d)", where, code)


class _EventStream:
    """The event texts of one response, ending after the first terminal event."""

    def __init__(self, ws: ClientConnection, where: str, idle_timeout: float) -> None:
        self._ws = ws
        self._where = where
        self._idle_timeout = idle_timeout
        self.finished = False
        self._failed = False

    def __aiter__(self) -> _EventStream:
        return self

    async def __anext__(self) -> str:
        if self.finished or self._failed:
            raise StopAsyncIteration
        try:
            text = await self._next_text()
            is_terminal = parse_event(text)["type"] in TERMINAL
        except UpstreamError:
            self._failed = True
            raise
        self.finished = is_terminal
        return text

    async def _next_text(self) -> str:
        with _upstream_errors(self._where, "waiting for an event from", self._idle_timeout):
            async with asyncio.timeout(self._idle_timeout):
                message = await self._ws.recv()
        if isinstance(message, bytes):
            # §4.3: the server sends one JSON event per text frame and never binary frames.
            raise UpstreamProtocolError(
                f"upstream sent a binary WebSocket frame ({len(message)} bytes); "
                "Responses events come only as text frames"
            )
        return message


@contextmanager
def _upstream_errors(where: str, doing: str, timeout: float) -> Iterator[None]:
    """Map websockets' and the socket layer's exceptions to the project's error tree."""
    try:
        yield
    except InvalidStatus as exc:
        response = exc.response
        raise HandshakeRefused.from_response(
            response.status_code, bytes(response.body), dict(response.headers.raw_items())
        ) from None
    except ConnectionClosed as exc:
        # §4.6: a Close frame or EOF before the terminal event is a failure, never a success.
        raise UpstreamProtocolError(
            f"upstream closed the WebSocket before response.completed ({exc})"
        ) from None
    except TimeoutError:
        raise UpstreamError(f"timed out after {timeout:g} s {doing} {where}", status=504) from None
    except ssl_module.SSLError as exc:
        raise UpstreamError(f"TLS failure {doing} {where}: {exc}") from None
    except OSError as exc:
        raise UpstreamError(f"network failure {doing} {where}: {exc}") from None
    except InvalidURI:
        # Its message repeats the URL verbatim, credentials included.
        raise UpstreamError(f"not a valid WebSocket URL: {where}") from None
    except WebSocketException as exc:
        raise UpstreamProtocolError(f"WebSocket failure {doing} {where}: {exc}") from None


async def _close(ws: ClientConnection, code: int) -> None:
    """Close the socket within CLOSE_TIMEOUT, even if this task is cancelled again meanwhile."""
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await ws.close(code)
    except TimeoutError:
        logger.debug("closing handshake timed out; dropping the socket")
    finally:
        if ws.state is not State.CLOSED:
            ws.transport.abort()


def _tls_arguments(url: str, context: ssl_module.SSLContext | None) -> dict[str, Any]:
    # websockets refuses an `ssl` argument for ws:// URLs, so it is passed for wss:// only.
    if urlsplit(url).scheme.lower() != "wss":
        return {}
    return {"ssl": context if context is not None else _default_context()}


def redacted_url(url: str) -> str:
    """`url` without userinfo, query or fragment: safe to log and to show to a client."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def websocket_ssl_context(insecure: bool, trusted_ca: str | None) -> ssl_module.SSLContext:
    """A TLS context for wss:// upstreams honouring mitmproxy's upstream-verification options.

    `insecure` (mitmproxy's `ssl_insecure`) turns verification off; `trusted_ca`
    (`ssl_verify_upstream_trusted_ca`) trusts that PEM file instead of the default bundle;
    otherwise certifi's bundle (mitmproxy's own default) or the system store.
    """
    if insecure:
        context = ssl_module.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl_module.CERT_NONE
        return context
    if trusted_ca:
        try:
            return ssl_module.create_default_context(cafile=trusted_ca)
        except (OSError, ssl_module.SSLError) as exc:
            raise ValueError(f"cannot load the trusted CA file {trusted_ca!r}: {exc}") from None
    return _new_default_context()


def _new_default_context() -> ssl_module.SSLContext:
    return ssl_module.create_default_context(cafile=_CA_BUNDLE)


@functools.cache
def _default_context() -> ssl_module.SSLContext:
    # Loading a CA bundle takes milliseconds; one verifying context serves every connection.
    return _new_default_context()
