"""A small HTTP forward proxy for tests, in a thread on 127.0.0.1: CONNECT tunnels and
absolute-form requests, each logged (method, target, and the hop header when sent).

    with forward_proxy() as proxy: ...   # proxy.url, proxy.seen: [(method, target, hop), ...]

Bounded: every connection ends when either side closes or after 30 s of silence.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from chat2responses.upstream.routing import HOP_HEADER

IDLE = 30.0


@dataclass
class ForwardProxy:
    port: int = 0
    seen: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await asyncio.wait_for(reader.read(65536), IDLE):
            writer.write(data)
            await writer.drain()
    except (OSError, TimeoutError):
        pass
    finally:
        with contextlib.suppress(OSError):
            writer.close()


async def _handle(
    proxy: ForwardProxy, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE)
    except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        writer.close()
        return
    lines = head.decode("latin-1").split("\r\n")
    method, target, version = lines[0].split(" ", 2)
    headers = [line.split(":", 1) for line in lines[1:] if ":" in line]
    hop = next((v.strip() for k, v in headers if k.strip().lower() == HOP_HEADER), "")
    proxy.seen.append((method, target, hop))
    if method == "CONNECT":
        host, _, port = target.rpartition(":")
        up_reader, up_writer = await asyncio.open_connection(host.strip("[]"), int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
    else:
        parts = urlsplit(target)
        up_reader, up_writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        kept = [f"{k}:{v}" for k, v in headers if k.strip().lower() != "proxy-authorization"]
        up_writer.write(f"{method} {path} {version}\r\n{'\r\n'.join(kept)}\r\n\r\n".encode())
    await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))


@contextlib.contextmanager
def forward_proxy() -> Iterator[ForwardProxy]:
    proxy = ForwardProxy()
    loop = asyncio.new_event_loop()
    started = threading.Event()
    server: list[asyncio.Server] = []

    async def serve() -> None:
        server.append(await asyncio.start_server(lambda r, w: _handle(proxy, r, w), "127.0.0.1", 0))
        proxy.port = server[0].sockets[0].getsockname()[1]
        started.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(serve(), loop)
    started.wait(10)
    try:
        yield proxy
    finally:
        loop.call_soon_threadsafe(server[0].close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
