"""Idle upstream WebSockets kept for the next response to the same upstream and credentials
(the package's reuse rules 1-3)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import ssl as ssl_module
import weakref
from collections.abc import Mapping
from dataclasses import dataclass

from websockets.asyncio.client import ClientConnection
from websockets.frames import CloseCode
from websockets.protocol import State

from chat2responses.transports.websocket.errors import close_socket
from chat2responses.transports.websocket.tls import tls_context

logger = logging.getLogger(__name__)


class WebSocketPool:
    """Idle upstream sockets, ready for the next response to the same upstream and credentials.

    Keyed by URL, TLS context and a SHA-256 digest of the sorted handshake headers (the values
    themselves stay only inside the connection objects). At most `max_idle_per_key` idle sockets
    per key and `max_idle` in all (the longest idle go first); an idle socket is closed after
    `idle_ttl` seconds and never handed out once `max_age` seconds old. Idle sockets keep
    answering pings (websockets' own background task); one the server closes meanwhile is
    simply dropped at the next `acquire`. One found dead when reused (`dead`: it did not answer
    within upstream/liveness.py's wait) takes every idle socket to the same upstream with it.
    Use it from one event loop.
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
        return (url, digest, tls_context(url, ssl))

    def track(
        self,
        ws: ClientConnection,
        url: str,
        headers: Mapping[str, str],
        ssl: ssl_module.SSLContext | None = None,
        *,
        handshake: float = 0.0,
    ) -> None:
        """Note where a freshly opened `ws` leads, when it opened and how long its handshake took
        (seconds), so `release` can keep it."""
        self._origins[ws] = _Origin(self.key(url, headers, ssl), _now(), handshake)

    def round_trip(self, ws: ClientConnection) -> float | None:
        """The socket's round trip as last measured: websockets' ping latency, else the time its
        handshake took (an upper bound); None when neither is known."""
        if ws.latency > 0:
            return float(ws.latency)
        origin = self._origins.get(ws)
        return origin.handshake if origin is not None and origin.handshake > 0 else None

    def dead(self, ws: ClientConnection) -> None:
        """`ws` did not answer in time when reused: it is dropped at once (no closing handshake
        to wait for), and so is every idle socket to the same upstream (liveness.py rule 2)."""
        origin = self._origins.pop(ws, None)
        if ws.state is not State.CLOSED:
            ws.transport.abort()
        if origin is None:
            return
        for entry in list(self._idle.get(origin.key, ())):
            logger.debug("idle WebSocket dropped with a dead one to the same upstream")
            self._evict(origin.key, entry)

    def give_back(self, ws: object) -> None:
        """Take back a socket a conversation held: idle again if it can be, else closed."""
        if isinstance(ws, ClientConnection):
            if ws in self._origins:
                self.release(ws)
            elif ws.state is not State.CLOSED:
                self._discard(ws)

    def retire(self, ws: object) -> None:
        """Close a socket a conversation kept for its whole idle time (conversation_expiry.py):
        not made idle again here."""
        if isinstance(ws, ClientConnection):
            self._discard(ws)

    def open_count(self) -> int:
        """How many sockets opened through `track` are open now: idle, answering, or held by a
        conversation (for the metrics)."""
        return sum(1 for ws in list(self._origins) if ws.state is State.OPEN)

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
        task = asyncio.get_running_loop().create_task(close_socket(ws, CloseCode.NORMAL_CLOSURE))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)


# (URL, digest of the handshake headers, TLS context or None for ws://)
_PoolKey = tuple[str, str, ssl_module.SSLContext | None]


@dataclass(frozen=True, slots=True)
class _Origin:
    key: _PoolKey
    opened: float
    handshake: float = 0.0  # seconds the opening handshake took


@dataclass(eq=False, slots=True)
class _Idle:
    ws: ClientConnection
    since: float
    timer: asyncio.TimerHandle


def _now() -> float:
    return asyncio.get_running_loop().time()
