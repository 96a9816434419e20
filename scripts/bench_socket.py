"""The long-stream benchmark's client: kept-alive HTTP/1.1 over plain sockets, one at a time.

Its time to first byte is when the kernel received the answer's first body byte (SO_TIMESTAMPNS,
where the system has it), not when the client got round to reading it: on a 2-core machine that
also runs the proxies and the emulator, a woken client waits for a core for anything from 0.2 to
2.5 ms, and how long depends on what the others happen to be doing (a proxy still busy with the
rest of the stream, say), not on the proxy under test. The whole-stream time is the client's own
(the last byte read).
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import time
from typing import Any
from urllib.parse import urlsplit

# Python does not name it; Linux's value (asm-generic/socket.h), a 64-bit timespec on 64-bit Linux.
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35 if sys.platform == "linux" else None)
_CMSG_SPACE = socket.CMSG_SPACE(16)


def _ended(text: bytes) -> bool:
    """Whether an SSE body ends as a stream should: chat's `[DONE]`, or Responses' last event
    `response.completed`."""
    if text.rstrip().endswith(b"data: [DONE]"):
        return True
    last = text.rfind(b"event: ")
    return last >= 0 and text.startswith(b"event: response.completed\n", last)


class StreamClient:
    """One kept-alive connection per host and port; `post` one streamed request at a time."""

    def __init__(self, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self._socks: dict[tuple[str, int], socket.socket] = {}
        self.kernel_stamps = SO_TIMESTAMPNS is not None

    def close(self) -> None:
        for sock in self._socks.values():
            sock.close()
        self._socks.clear()

    def post(self, url: str, body: dict[str, Any]) -> tuple[float, float, float]:
        """(first body byte's arrival, the client's read of it, the whole stream) in ms after the
        request was sent; raises unless the answer is a 200 stream that ends properly."""
        parts = urlsplit(url)
        host, port = self._key(url)
        data = json.dumps(body).encode()
        request = (
            f"POST {parts.path} HTTP/1.1\r\nhost: {host}:{port}\r\n"
            "content-type: application/json\r\nauthorization: Bearer sk-bench\r\n"
            f"content-length: {len(data)}\r\n\r\n"
        ).encode() + data
        sock = self._socket(host, port)
        try:
            return self._exchange(sock, url, request)
        except BaseException:
            self._drop(host, port)  # whatever is left unread would garble the next answer
            raise

    def _exchange(
        self, sock: socket.socket, url: str, request: bytes
    ) -> tuple[float, float, float]:
        started = time.time_ns()
        sock.sendall(request)
        head = self._head(sock)
        status = int(head.split(b" ", 2)[1])
        headers = head.lower()
        first, arrived, read = self._first_byte(sock)
        if b"transfer-encoding: chunked" not in headers:
            raise RuntimeError(f"{url}: HTTP {status}, not a chunked stream: {head[:200]!r}")
        decoded = _Chunked()
        decoded.feed(first)
        while not decoded.done:
            more = sock.recv(65536)
            if not more:
                raise RuntimeError(f"{url}: the connection closed mid-stream")
            decoded.feed(more)
        end = time.time_ns()
        if b"connection: close" in headers:
            self._drop(*self._key(url))
        text = decoded.body()
        if status != 200:
            raise RuntimeError(f"{url}: HTTP {status}: {text[:200]!r}")
        if not _ended(text):
            raise RuntimeError(f"{url}: the stream did not end properly: {text[-120:]!r}")
        return (arrived - started) / 1e6, (read - started) / 1e6, (end - started) / 1e6

    @staticmethod
    def _key(url: str) -> tuple[str, int]:
        parts = urlsplit(url)
        return parts.hostname or "127.0.0.1", parts.port or 80

    def _socket(self, host: str, port: int) -> socket.socket:
        sock = self._socks.get((host, port))
        if sock is None:
            sock = socket.create_connection((host, port), timeout=self.timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if SO_TIMESTAMPNS is not None:
                sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            self._socks[(host, port)] = sock
        return sock

    def _drop(self, host: str, port: int) -> None:
        sock = self._socks.pop((host, port), None)
        if sock is not None:
            sock.close()

    @staticmethod
    def _head(sock: socket.socket) -> bytes:
        """The response head, read a byte at a time: nothing of the body is read with it."""
        head = bytearray()
        while not head.endswith(b"\r\n\r\n"):
            byte = sock.recv(1)
            if not byte:
                raise RuntimeError("the connection closed before the answer's head")
            head += byte
        return bytes(head)

    @staticmethod
    def _first_byte(sock: socket.socket) -> tuple[bytes, int, int]:
        """The first body byte, when it arrived (the kernel's stamp of its segment) and when it
        was read."""
        byte, ancillary, _, _ = sock.recvmsg(1, _CMSG_SPACE)
        read = arrived = time.time_ns()
        if not byte:
            raise RuntimeError("the connection closed before the answer's body")
        for level, kind, stamp in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(stamp) >= 16:
                seconds, nanoseconds = struct.unpack("qq", stamp[:16])
                arrived = min(arrived, seconds * 1_000_000_000 + nanoseconds)
        return byte, arrived, read


class _Chunked:
    """A chunked body, decoded as it comes."""

    def __init__(self) -> None:
        self._raw = bytearray()
        self._out = bytearray()
        self._left = -1  # bytes of the current chunk still to come; -1: a size line is next
        self.done = False

    def feed(self, data: bytes) -> None:
        self._raw += data
        while not self.done:
            if self._left < 0:
                line_end = self._raw.find(b"\r\n")
                if line_end < 0:
                    return
                size = int(bytes(self._raw[:line_end]).split(b";")[0], 16)
                del self._raw[: line_end + 2]
                self._left = size
            if self._left == 0:  # the last chunk: its empty line (no trailers here) ends the body
                self.done = self._raw.startswith(b"\r\n")
                return
            if len(self._raw) < self._left + 2:
                return
            self._out += self._raw[: self._left]
            del self._raw[: self._left + 2]
            self._left = -1

    def body(self) -> bytes:
        return bytes(self._out)
