"""The Responses WebSocket client: one response per socket at a time, start to terminal.

Owns the upstream side of the WebSocket route (reference/openai-protocols.md §4): the handshake,
the `response.create` text frame, reading event frames until the first terminal event, and either
closing the socket or handing it back to a `WebSocketPool` for the next response. It is the only
module that imports `websockets`, and `_upstream_errors` is the only place its exceptions (and the
socket layer's) become the project's `UpstreamError` tree.

Reuse rules (§4.4-4.5: a connection carries responses one after another, for at most 60 minutes):
1. A socket is owned by one response at a time: `acquire` takes it out of the pool.
2. It goes back only after `response.completed` or `response.incomplete`; after anything else
   (an error event, `response.failed`, a protocol error, a timeout, the consumer leaving) it is
   closed, as a socket without a pool always is.
3. Idle sockets are keyed by URL, TLS context and a digest of the handshake headers; they expire
   after `idle_ttl`, are never reused past `max_age` (the server's limit is 60 minutes), and one
   that has received anything while idle is closed rather than reused.
4. A reused socket that turns out dead (closed while idle, failing on send, closing before the
   first frame) or answers first with `websocket_connection_limit_reached` is replaced by a fresh
   one, once, before any frame of the response has been yielded.

It must not interpret events beyond the cheap `parse_event` check, the terminal test and rule 4,
and must never log handshake header values (they carry credentials): only the URL, with any
userinfo and query removed.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import ssl as ssl_module
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    ConnectionClosedError,
    InvalidStatus,
    InvalidURI,
    WebSocketException,
)
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.frames import CloseCode
from websockets.protocol import State

from chat2responses.errors import (
    HandshakeRefused,
    UpstreamError,
    UpstreamProtocolError,
    WebSocketClosed,
)
from chat2responses.events import (
    TERMINAL,
    Event,
    EventType,
    error_of_event,
    is_advisory_error,
    parse_event,
)
from chat2responses.pipeline import MAX_EVENT_BYTES

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
# One event is one frame; the same cap as one SSE event (a `response.completed` repeats the whole
# output, which is still far below it).
MAX_MESSAGE_BYTES: Final = MAX_EVENT_BYTES
# Closing must not hang on an upstream that no longer answers: the socket is gone within this,
# inside the one second DESIGN.md allows between a client leaving and the upstream closing.
CLOSE_TIMEOUT: Final = 0.8
# The ends after which a socket is fit for the next response.
_CLEAN_END: Final = frozenset({EventType.COMPLETED, EventType.INCOMPLETE})
# §4.5/§4.6: the server's 60-minute limit, sent as an `error` frame; a fresh socket continues.
CONNECTION_LIMIT_REACHED: Final = "websocket_connection_limit_reached"
_WAITING: Final = "waiting for an event from"
_DEFLATE: Final = ClientPerMessageDeflateFactory(
    server_max_window_bits=12,
    client_max_window_bits=12,
    compress_settings={"memLevel": 5},
)
_POLL: Final = 0.5  # seconds: how often a silent socket is checked for a failure of our own


@asynccontextmanager
async def open_response_stream(
    url: str,
    *,
    headers: Mapping[str, str],
    frame: str,
    ssl: ssl_module.SSLContext | None = None,
    connect_timeout: float = 15.0,
    idle_timeout: float = 300.0,
    pool: WebSocketPool | None = None,
    on_handshake: Callable[[Mapping[str, str]], None] | None = None,
    socket: ClientConnection | None = None,
    keep: Callable[[ClientConnection], bool] | None = None,
) -> AsyncIterator[_EventStream]:
    """Connect to `url` (or take an idle socket from `pool`), send `frame` (the JSON text of
    the `response.create` frame, built by `profiles.response_create_frame`), and yield the
    event texts.

    The yielded iterator ends after (and including) the first terminal event, or raises an
    `UpstreamError`: `HandshakeRefused` for a non-101 answer, `UpstreamProtocolError` for a binary
    frame or a close before the terminal event, status 504 when no frame comes within
    `idle_timeout`. On exit the socket goes back to `pool` if the response ended cleanly;
    otherwise it is closed within `CLOSE_TIMEOUT`, even when the caller stops early or is
    cancelled.
    """
    stream = _EventStream(
        _Target(
            url, headers, _tls_context(url, ssl), connect_timeout, idle_timeout, pool, on_handshake
        ),
        frame,
        socket=socket,
        keep=keep,
    )
    try:
        await stream.start()
        yield stream
    finally:
        await stream.end()


@dataclass(frozen=True, slots=True)
class _Target:
    """Where one response goes, and how long each step may take."""

    url: str
    headers: Mapping[str, str]
    ssl: ssl_module.SSLContext | None  # None for ws:// URLs
    connect_timeout: float
    idle_timeout: float
    pool: WebSocketPool | None
    on_handshake: Callable[[Mapping[str, str]], None] | None = None  # the 101's headers

    @property
    def where(self) -> str:
        return redacted_url(self.url)


class _EventStream:
    """The event texts of one response, ending after the first terminal event; `event` is the
    last one parsed (each frame is parsed once, here)."""

    def __init__(
        self,
        target: _Target,
        frame: str,
        *,
        socket: ClientConnection | None = None,
        keep: Callable[[ClientConnection], bool] | None = None,
    ) -> None:
        self._socket = socket  # a conversation's own socket: this response continues it
        self._keep = keep  # offered the socket after a clean end, before the pool
        self._target = target
        self._where = target.where
        self._frame = frame
        self._ws: ClientConnection | None = None
        self._reused = False  # the current socket came from the pool
        self._yielded = False
        self.event: Event | None = None  # the text `__anext__` returned last, parsed
        self.finished = False
        self._clean = False  # finished with response.completed or response.incomplete
        self._failed = False

    async def start(self) -> None:
        """Get a socket and send the `response.create` frame on it."""
        target = self._target
        if self._socket is not None:
            # The conversation's socket: it alone knows the previous response, so there is no
            # other to fall back to; a failure here is a miss, and the call resends in full.
            self._ws, self._reused = self._socket, False
            await self._send(self._socket, may_fail=False)
            return
        if target.pool is not None:
            ws = target.pool.acquire(target.url, target.headers, target.ssl)
            if ws is not None:
                logger.debug("reusing an idle WebSocket to %s", self._where)
                self._ws, self._reused = ws, True
                if await self._send(ws, may_fail=True):
                    return
                logger.debug(
                    "idle WebSocket to %s failed on send; opening a fresh one", self._where
                )
                await self._drop()
        await self._open()

    async def end(self) -> None:
        """Give the socket back to the pool after a clean end; close it otherwise."""
        ws, self._ws = self._ws, None
        if ws is None:
            return
        pool = self._target.pool
        if self._clean and ws.state is State.OPEN and self._keep is not None and self._keep(ws):
            logger.debug("WebSocket to %s kept for the conversation's next turn", self._where)
            return
        if self._clean and pool is not None and ws.state is State.OPEN:
            pool.release(ws)
            logger.debug("WebSocket to %s kept for the next response", self._where)
            return
        # 1001 "going away" tells the upstream we left before the response ended.
        code = CloseCode.NORMAL_CLOSURE if self.finished else CloseCode.GOING_AWAY
        await _close(ws, code)
        logger.debug("WebSocket to %s closed (%d)", self._where, code)

    def __aiter__(self) -> _EventStream:
        return self

    def buffered(self) -> bool:
        """Whether the next frame has already arrived (the caller may batch its writes)."""
        ws = self._ws
        return ws is not None and bool(len(ws.recv_messages.frames))

    def transport(self) -> asyncio.Transport | None:
        """The socket's transport (for attempt_events.reading_paused)."""
        return self._ws.transport if self._ws is not None else None

    async def __anext__(self) -> str:
        if self.finished or self._failed:
            raise StopAsyncIteration
        try:
            text, self.event = await self._next_event()
        except UpstreamError:
            self._failed = True
            raise
        kind = self.event["type"]
        if kind == EventType.ERROR and is_advisory_error(self.event):
            kind = ""  # a status-less error frame is advisory (events.is_advisory_error): no end
        self._yielded = True
        self.finished = kind in TERMINAL
        self._clean = kind in _CLEAN_END
        return text

    async def _next_event(self) -> tuple[str, Event]:
        while True:
            ws = self._ws
            assert ws is not None
            may_retry = self._reused and not self._yielded
            with _upstream_errors(self._where, _WAITING, self._target.idle_timeout):
                try:
                    message = await _receive(ws, self._target.idle_timeout)
                except ConnectionClosed as exc:
                    too_big = exc.rcvd is not None and exc.rcvd.code == CloseCode.MESSAGE_TOO_BIG
                    if not may_retry or too_big:  # 1009: the frame, not the socket (rule 4)
                        raise
                    logger.debug(
                        "idle WebSocket to %s closed before answering; opening a fresh one",
                        self._where,
                    )
                    await self._replace()
                    continue
            if isinstance(message, bytes):
                # §4.3: the server sends one JSON event per text frame and never binary frames.
                raise UpstreamProtocolError(
                    f"upstream sent a binary WebSocket frame ({len(message)} bytes); "
                    "Responses events come only as text frames"
                )
            event = parse_event(message)
            if may_retry and _is_connection_limit(event):
                logger.debug(
                    "idle WebSocket to %s reached its lifetime limit; opening a fresh one",
                    self._where,
                )
                await self._replace()
                continue
            return message, event

    async def _open(self) -> None:
        """Open a fresh socket and send the frame on it."""
        target = self._target
        self._reused = False
        logger.debug("connecting WebSocket to %s", self._where)
        with _upstream_errors(self._where, "connecting to", target.connect_timeout):
            ws = await connect(
                target.url,
                additional_headers=target.headers,
                user_agent_header=USER_AGENT,
                open_timeout=target.connect_timeout,
                close_timeout=CLOSE_TIMEOUT,
                max_size=MAX_MESSAGE_BYTES,
                # permessage-deflate as Codex offers it, with smaller windows: zlib's default
                # state is ~300 KB per socket, and the pool and conversations keep many open.
                compression=None,
                extensions=[_DEFLATE],
                # Environment proxies are ignored, as mitmproxy ignores them: a shell that points
                # HTTPS_PROXY at this very mitmproxy would otherwise loop the upstream through it.
                proxy=None,
                logger=_wire_logger,
                **_ssl_argument(target.ssl),
            )
        self._ws = ws
        if target.on_handshake is not None and ws.response is not None:
            target.on_handshake(ws.response.headers)
        if target.pool is not None:
            target.pool.track(ws, target.url, target.headers, target.ssl)
        logger.debug("WebSocket to %s open", self._where)
        await self._send(ws, may_fail=False)

    async def _send(self, ws: ClientConnection, *, may_fail: bool) -> bool:
        """Send the frame; False if the socket is gone and `may_fail` allows saying so."""
        timeout = self._target.idle_timeout
        with _upstream_errors(self._where, "sending response.create to", timeout):
            try:
                async with asyncio.timeout(timeout):
                    await ws.send(self._frame)
            except TimeoutError:
                raise
            except (ConnectionClosed, OSError):
                if not may_fail:
                    raise
                return False
        return True

    async def _replace(self) -> None:
        """Swap a reused socket that failed before its first frame for a fresh one."""
        await self._drop()
        await self._open()

    async def _drop(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            await _close(ws, CloseCode.NORMAL_CLOSURE)


async def _receive(ws: ClientConnection, idle_timeout: float) -> str | bytes:
    """The next message, or TimeoutError after `idle_timeout` seconds of silence.

    When websockets fails the connection itself (a message over `max_size`: it sends close 1009)
    and the upstream never answers the close, `recv` would wait out the whole idle timeout; so
    silence is watched in short steps, and such a failure surfaces at once.
    """
    buffered = getattr(ws.recv_messages.frames, "queue", None)  # websockets' own frame deque
    if buffered and buffered[0].fin:
        return await ws.recv()  # a whole message is here: no wait to bound (most of a burst)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + idle_timeout
    while True:
        try:
            async with asyncio.timeout(min(_POLL, max(deadline - loop.time(), 0))):
                return await ws.recv()
        except TimeoutError:
            sent = ws.protocol.close_sent
            if sent is not None:
                raise ConnectionClosedError(None, sent, None) from None
            if loop.time() >= deadline:
                raise


def _is_connection_limit(event: Event) -> bool:
    """Whether `event` is §4.5's `websocket_connection_limit_reached` error."""
    err = error_of_event(event) if event.get("type") == EventType.ERROR else None
    return err is not None and err.code == CONNECTION_LIMIT_REACHED


class WebSocketPool:
    """Idle upstream sockets, ready for the next response to the same upstream and credentials.

    Keyed by URL, TLS context and a SHA-256 digest of the sorted handshake headers (the values
    themselves stay only inside the connection objects). At most `max_idle_per_key` idle sockets
    per key and `max_idle` in all (the longest idle go first); an idle socket is closed after
    `idle_ttl` seconds and never handed out once `max_age` seconds old. Idle sockets keep
    answering pings (websockets' own background task); one the server closes meanwhile is
    simply dropped at the next `acquire`. Use it from one event loop.
    """

    def __init__(
        self,
        *,
        max_idle_per_key: int = 4,
        max_idle: int = 32,
        idle_ttl: float = 60.0,
        max_age: float = 55 * 60.0,
    ) -> None:
        self.max_idle_per_key = max_idle_per_key
        self.max_idle = max_idle
        self.idle_ttl = idle_ttl
        self.max_age = max_age
        self._idle: dict[_PoolKey, list[_Idle]] = {}
        self._origins: weakref.WeakKeyDictionary[ClientConnection, _Origin] = (
            weakref.WeakKeyDictionary()
        )
        self._closing: set[asyncio.Task[None]] = set()
        self._closed = False

    def __len__(self) -> int:
        """The number of idle sockets."""
        return sum(len(entries) for entries in self._idle.values())

    @staticmethod
    def key(
        url: str, headers: Mapping[str, str], ssl: ssl_module.SSLContext | None = None
    ) -> _PoolKey:
        """What two handshakes must share for one socket to serve both."""
        pairs = sorted((name.lower(), value) for name, value in headers.items())
        digest = hashlib.sha256(json.dumps(pairs, ensure_ascii=False).encode()).hexdigest()
        return (url, digest, _tls_context(url, ssl))

    def track(
        self,
        ws: ClientConnection,
        url: str,
        headers: Mapping[str, str],
        ssl: ssl_module.SSLContext | None = None,
    ) -> None:
        """Note where a freshly opened `ws` leads and when it opened, so `release` can keep it."""
        self._origins[ws] = _Origin(self.key(url, headers, ssl), _now())

    def give_back(self, ws: object) -> None:
        """Take back a socket a conversation held: idle again if it can be, else closed."""
        if isinstance(ws, ClientConnection):
            if ws in self._origins:
                self.release(ws)
            elif ws.state is not State.CLOSED:
                self._discard(ws)

    def opened_at(self, ws: ClientConnection) -> float | None:
        """When `ws` (opened through `track`) was opened, on the loop's clock."""
        origin = self._origins.get(ws)
        return origin.opened if origin is not None else None

    def usable(self, ws: object) -> bool:
        """Whether a socket held elsewhere (a conversation's) can carry the next response now:
        open, tracked, younger than `max_age`, nothing unread."""
        if not isinstance(ws, ClientConnection) or ws.state is not State.OPEN:
            return False
        origin = self._origins.get(ws)
        if origin is None or _now() - origin.opened >= self.max_age:
            return False
        return not len(ws.recv_messages.frames)

    def acquire(
        self, url: str, headers: Mapping[str, str], ssl: ssl_module.SSLContext | None = None
    ) -> ClientConnection | None:
        """Take the most recently used live idle socket for this upstream, or None."""
        if self._closed:
            return None
        key = self.key(url, headers, ssl)
        entries = self._idle.get(key)
        while entries:
            entry = entries.pop()
            entry.timer.cancel()
            if not entries:
                del self._idle[key]
            ws = entry.ws
            origin = self._origins.get(ws)
            if (
                ws.state is State.OPEN
                and origin is not None
                and _now() - origin.opened < self.max_age
                # An idle socket has nothing to read; a stray frame would be taken for the next
                # response's first.
                and not len(ws.recv_messages.frames)
            ):
                return ws
            self._discard(ws)
        return None

    def release(self, ws: ClientConnection) -> None:
        """Keep `ws` (opened through `track`) for the next response, or close it if it can't be."""
        origin = self._origins.get(ws)
        if origin is None:
            raise ValueError("release() of a WebSocket the pool did not track")
        left = self.max_age - (_now() - origin.opened)
        if self._closed or ws.state is not State.OPEN or left <= 0:
            self._discard(ws)
            return
        entries = self._idle.setdefault(origin.key, [])
        timer = asyncio.get_running_loop().call_later(
            min(self.idle_ttl, left), self._expire, origin.key, ws
        )
        entries.append(_Idle(ws, _now(), timer))
        if len(entries) > self.max_idle_per_key:
            self._evict(origin.key, entries[0])
        while len(self) > self.max_idle:
            key, oldest = min(
                ((k, idle[0]) for k, idle in self._idle.items()),
                key=lambda pair: pair[1].since,
            )
            self._evict(key, oldest)

    async def close(self) -> None:
        """Close every idle socket; later releases close theirs, later acquires find none."""
        self._closed = True
        for key in list(self._idle):
            for entry in list(self._idle.get(key, ())):
                self._evict(key, entry)
        closing = list(self._closing)
        await asyncio.gather(*closing, return_exceptions=True)
        self._closing.difference_update(closing)

    def _expire(self, key: _PoolKey, ws: ClientConnection) -> None:
        for entry in self._idle.get(key, ()):
            if entry.ws is ws:
                logger.debug("idle WebSocket expired")
                self._evict(key, entry)
                return

    def _evict(self, key: _PoolKey, entry: _Idle) -> None:
        entry.timer.cancel()
        entries = self._idle[key]
        entries.remove(entry)
        if not entries:
            del self._idle[key]
        self._discard(entry.ws)

    def _discard(self, ws: ClientConnection) -> None:
        self._origins.pop(ws, None)
        if ws.state is State.CLOSED:
            return
        task = asyncio.get_running_loop().create_task(_close(ws, CloseCode.NORMAL_CLOSURE))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)


# (URL, digest of the handshake headers, TLS context or None for ws://)
_PoolKey = tuple[str, str, ssl_module.SSLContext | None]


@dataclass(frozen=True, slots=True)
class _Origin:
    key: _PoolKey
    opened: float


@dataclass(eq=False, slots=True)
class _Idle:
    ws: ClientConnection
    since: float
    timer: asyncio.TimerHandle


def _now() -> float:
    return asyncio.get_running_loop().time()


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
        if doing == _WAITING:
            raise UpstreamError(
                f"upstream {where} stalled: no event for {timeout:g} s (responses_idle_timeout)",
                status=504,
                code="upstream_stalled",
            ) from None
        raise UpstreamError(
            f"timed out after {timeout:g} s {doing} {where}", status=504, code="upstream_timeout"
        ) from None
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


def _ssl_argument(context: ssl_module.SSLContext | None) -> dict[str, Any]:
    return {} if context is None else {"ssl": context}


def _tls_context(url: str, context: ssl_module.SSLContext | None) -> ssl_module.SSLContext | None:
    # websockets refuses an `ssl` argument for ws:// URLs, so there is one for wss:// only.
    if urlsplit(url).scheme.lower() != "wss":
        return None
    return context if context is not None else _default_context()


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
