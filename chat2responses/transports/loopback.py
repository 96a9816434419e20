"""The driver's end of the loopback hop: just enough HTTP/1.1 for mitmproxy's requests.

mitmproxy sends each rewritten call here as `POST /call/<token>` with an empty body, on a kept-alive
connection, and relays what comes back: a chunked stream or one whole body. A general web server
did this before; its request and response machinery cost more than the rest of the hop
(`scripts/bench`), and none of it is needed for one trusted peer sending one kind of request.

Rules:
1. One exchange at a time per connection (mitmproxy does not pipeline; bytes that come early wait
   until the current answer ends).
2. A request this server cannot read whole (no request line, a head over MAX_HEAD, a body over
   MAX_BODY, `transfer-encoding` on a request) gets a 400 OpenAI error and the connection closes.
3. A write waits while the socket's send buffer is full (a slow reader): memory stays bounded.
4. The peer leaving mid-exchange calls the exchange's `on_lost` (the driver cancels the call), and
   a write after that raises `ConnectionResetError`.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Mapping
from email.utils import formatdate
from http import HTTPStatus

from chat2responses.protocol.errors import ClientError, ProxyError, error_body

logger = logging.getLogger(__name__)

MAX_HEAD = 64 * 1024
MAX_BODY = 1 << 20
JSON = {"content-type": "application/json"}


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _head(status: int, headers: Mapping[str, str], *, keep_alive: bool) -> bytearray:
    head = bytearray(f"HTTP/1.1 {status} {_reason(status)}\r\n".encode())
    head += b"date: " + formatdate(usegmt=True).encode() + b"\r\n"
    for name, value in headers.items():
        if "\r" in value or "\n" in value:
            continue  # never a header split by a value (an upstream's, say)
        head += f"{name}: {value}\r\n".encode("latin-1", "replace")
    if not keep_alive:
        head += b"connection: close\r\n"
    return head


class Exchange:
    """One request's answer: `start`, `write`… and `end`; or `respond` with a whole body."""

    def __init__(self, connection: LoopbackConnection, *, keep_alive: bool) -> None:
        self._connection = connection
        self.keep_alive = keep_alive
        self.started = False
        self.finished = False
        self.on_lost: Callable[[], None] | None = None
        self._head = bytearray()  # a head not sent yet

    def start(self, status: int, headers: Mapping[str, str]) -> None:
        """The head of a chunked answer: it goes out with the first chunk, in one segment."""
        self._head = _head(status, headers, keep_alive=self.keep_alive)
        self._head += b"transfer-encoding: chunked\r\n\r\n"
        self.started = True

    async def write(self, data: bytes) -> None:
        """Send one chunk; returns when the socket can take more."""
        if data or self._head:
            self._send(b"%x\r\n%b\r\n" % (len(data), data) if data else b"")
        await self._connection.drained()

    def end(self, last: bytes = b"") -> None:
        """The last chunk (if any) and the end of the answer, in one segment."""
        self._send(b"%x\r\n%b\r\n0\r\n\r\n" % (len(last), last) if last else b"0\r\n\r\n")
        self._finish()

    def _send(self, data: bytes) -> None:
        if self._head:
            data, self._head = bytes(self._head + data), bytearray()
        self._connection.send(data)

    def respond(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        """The whole answer at once (a JSON body)."""
        head = _head(
            status, {**headers, "content-length": str(len(body))}, keep_alive=self.keep_alive
        )
        self.started = True
        self._connection.send(head + b"\r\n" + body)
        self._finish()

    def abort(self) -> None:
        """An answer cut short: close the connection, so the peer does not wait for the rest."""
        self.finished = True
        self._connection.close()

    def _finish(self) -> None:
        self.finished = True
        self._connection.exchange_done(self)


Dispatch = Callable[[str, str, Exchange], None]


class LoopbackConnection(asyncio.Protocol):
    """One connection of mitmproxy's: reads request heads, hands each to `dispatch`."""

    def __init__(self, dispatch: Dispatch, connections: set[LoopbackConnection]) -> None:
        self._dispatch = dispatch
        self._connections = connections
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._current: Exchange | None = None
        self._paused = False
        self._drain: asyncio.Future[None] | None = None
        self.closed = False

    # ---- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:  # every chunk goes out at once (asyncio sets this only for proto 6)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._connections.add(self)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._current is None:
            self._next_request()
        elif len(self._buffer) > MAX_HEAD + MAX_BODY:
            self.close()  # a peer that does not wait for its answer

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._connections.discard(self)
        self._wake()
        current, self._current = self._current, None
        if current is not None and not current.finished:
            current.finished = True
            if current.on_lost is not None:
                current.on_lost()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._wake()

    # ---- for the exchange ----------------------------------------------------------------

    def send(self, data: bytes | bytearray) -> None:
        transport = self._transport
        if self.closed or transport is None or transport.is_closing():
            raise ConnectionResetError("the loopback connection is closed")
        transport.write(data)

    async def drained(self) -> None:
        while self._paused and not self.closed:
            if self._drain is None:
                self._drain = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._drain)
        if self.closed:
            raise ConnectionResetError("the loopback connection is closed")

    def exchange_done(self, exchange: Exchange) -> None:
        if self._current is not exchange:
            return
        self._current = None
        if not exchange.keep_alive:
            self.close()
        elif self._buffer:
            self._next_request()

    def close(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()

    def _wake(self) -> None:
        drain, self._drain = self._drain, None
        if drain is not None and not drain.done():
            drain.set_result(None)

    # ---- reading a request ---------------------------------------------------------------

    def _next_request(self) -> None:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > MAX_HEAD:
                self._refuse("the request head is too large")
            return
        lines = self._buffer[:end].decode("latin-1").split("\r\n")
        request_line = lines[0].split(" ")
        if len(request_line) != 3 or not request_line[2].startswith("HTTP/1."):
            self._refuse("the request line cannot be read")
            return
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon:
                self._refuse("a request header cannot be read")
                return
            headers[name.strip().lower()] = value.strip()
        length = headers.get("content-length", "0")
        if "transfer-encoding" in headers or not length.isdigit() or int(length) > MAX_BODY:
            self._refuse("the request body's framing is not supported here")
            return
        total = end + 4 + int(length)
        if len(self._buffer) < total:
            return  # the body is still on its way
        del self._buffer[:total]
        closing = headers.get("connection", "").lower() == "close"
        keep_alive = request_line[2] == "HTTP/1.1" and not closing
        self._current = Exchange(self, keep_alive=keep_alive)
        method, target = request_line[0], request_line[1]
        try:
            self._dispatch(method, target, self._current)
        except Exception:  # never leave the peer waiting
            logger.exception("chat2responses: the loopback driver failed to dispatch a call")
            if self._current is not None and not self._current.started:
                self._current.respond(
                    500, JSON, error_body(ProxyError("chat2responses internal error"))
                )
            self.close()

    def _refuse(self, why: str) -> None:
        exchange = Exchange(self, keep_alive=False)
        self._buffer.clear()
        self._current = exchange
        exchange.respond(400, JSON, error_body(ClientError(f"loopback driver: {why}")))
