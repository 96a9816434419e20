"""The loopback server's HTTP/1.1: what mitmproxy sends the driver, and what goes back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from aiohttp import ClientSession

from chat2responses.transports.loopback import JSON, MAX_HEAD, Exchange, LoopbackConnection

Handler = Callable[[str, str, Exchange], None]


@asynccontextmanager
async def server(dispatch: Handler) -> AsyncIterator[tuple[int, set[LoopbackConnection]]]:
    connections: set[LoopbackConnection] = set()
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(
        lambda: LoopbackConnection(dispatch, connections), "127.0.0.1", 0
    )
    try:
        yield srv.sockets[0].getsockname()[1], connections
    finally:
        srv.close()
        for connection in list(connections):
            connection.close()
        await srv.wait_closed()


async def raw(port: int, data: bytes, *, until_close: bool = True) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    try:
        if until_close:
            return await asyncio.wait_for(reader.read(), 2)
        return await asyncio.wait_for(reader.read(65536), 2)
    finally:
        writer.close()


async def test_a_kept_alive_connection_serves_requests_one_after_another() -> None:
    seen: list[tuple[str, str]] = []

    def dispatch(method: str, target: str, exchange: Exchange) -> None:
        seen.append((method, target))
        exchange.respond(200, JSON, json.dumps({"n": len(seen)}).encode())

    async with server(dispatch) as (port, _), ClientSession() as session:
        for n in (1, 2, 3):
            async with session.post(f"http://127.0.0.1:{port}/call/x{n}") as response:
                assert response.status == 200
                assert await response.json() == {"n": n}
                assert response.headers["date"]
        assert len(session.connector._conns) == 1  # type: ignore[union-attr]  # one connection
    assert seen == [("POST", "/call/x1"), ("POST", "/call/x2"), ("POST", "/call/x3")]


async def test_a_chunked_answer_goes_out_with_its_head_in_one_segment() -> None:
    async def answer(exchange: Exchange) -> None:
        exchange.start(200, {"content-type": "text/event-stream"})
        await exchange.write(b"data: 1\n\n")
        await exchange.write(b"data: 2\n\n")
        exchange.end()

    tasks: set[asyncio.Task[None]] = set()

    def dispatch(method: str, target: str, exchange: Exchange) -> None:
        tasks.add(asyncio.get_running_loop().create_task(answer(exchange)))

    async with server(dispatch) as (port, _), ClientSession() as session:
        async with session.post(f"http://127.0.0.1:{port}/call/t") as response:
            assert response.headers["transfer-encoding"] == "chunked"
            assert await response.read() == b"data: 1\n\ndata: 2\n\n"
        first = await raw(port, b"POST /call/t HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
    head, _, body = first.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"connection: close" in head
    assert body == b"9\r\ndata: 1\n\n\r\n9\r\ndata: 2\n\n\r\n0\r\n\r\n"


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"NONSENSE\r\n\r\n",
        b"POST /call/x HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST /call/x HTTP/1.1\r\ncontent-length: nope\r\n\r\n",
        b"POST /call/x HTTP/1.1\r\nno colon here\r\n\r\n",
        b"POST /call/x HTTP/1.1\r\nx: " + b"a" * (MAX_HEAD + 10),
    ],
)
async def test_a_request_it_cannot_read_gets_a_400_and_the_connection_closes(
    request_bytes: bytes,
) -> None:
    def dispatch(method: str, target: str, exchange: Exchange) -> None:
        raise AssertionError("never dispatched")

    async with server(dispatch) as (port, _):
        answer = await raw(port, request_bytes)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ") and b"connection: close" in head
    assert json.loads(body)["error"]["message"].startswith("loopback driver:")


async def test_a_body_is_read_whole_before_the_request_is_dispatched() -> None:
    got: list[str] = []

    def dispatch(method: str, target: str, exchange: Exchange) -> None:
        got.append(target)
        exchange.respond(204, {}, b"")

    async with server(dispatch) as (port, _):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /a HTTP/1.1\r\ncontent-length: 4\r\n\r\nab")
        await asyncio.sleep(0.05)
        assert got == []  # half the body: not yet
        writer.write(b"cdPOST /b HTTP/1.1\r\ncontent-length: 0\r\n\r\n")
        await asyncio.sleep(0.05)
        writer.close()
    assert got == ["/a", "/b"]  # the second request waited for the first answer


async def test_the_peer_leaving_mid_answer_is_reported_and_writes_fail() -> None:
    lost = asyncio.Event()
    exchanges: list[Exchange] = []

    def dispatch(method: str, target: str, exchange: Exchange) -> None:
        exchange.on_lost = lost.set
        exchange.start(200, {"content-type": "text/event-stream"})
        exchanges.append(exchange)

    async with server(dispatch) as (port, connections):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /call/x HTTP/1.1\r\n\r\n")
        await asyncio.sleep(0.05)
        await exchanges[0].write(b"data: 1\n\n")
        assert await reader.read(1)
        writer.close()
        await asyncio.wait_for(lost.wait(), 2)
        with pytest.raises(ConnectionResetError):
            await exchanges[0].write(b"data: 2\n\n")
        assert not connections


async def test_a_write_waits_while_the_peer_reads_nothing() -> None:
    exchanges: list[Exchange] = []

    def dispatch(method: str, target: str, exchange: Exchange) -> None:
        exchange.start(200, {"content-type": "text/event-stream"})
        exchanges.append(exchange)

    async with server(dispatch) as (port, _):
        _, writer = await asyncio.open_connection("127.0.0.1", port, limit=1024)
        writer.transport.pause_reading()  # type: ignore[attr-defined]  # a reader that stalls
        writer.write(b"POST /call/x HTTP/1.1\r\n\r\n")
        await asyncio.sleep(0.05)
        exchange, chunk = exchanges[0], b"x" * 65536
        blocked = False
        for _ in range(400):  # 25 MB at most: some write must wait long before that
            try:
                await asyncio.wait_for(exchange.write(chunk), 0.2)
            except TimeoutError:
                blocked = True
                break
        assert blocked
        writer.close()
