"""Reusing upstream WebSockets across responses, against a scripted server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from chat2responses.protocol.errors import UpstreamError, UpstreamProtocolError, WebSocketClosed
from chat2responses.transports.websocket import WebSocketPool, open_response_stream
from tests.transports.test_websocket_stream import (
    BODY,
    COMPLETED,
    CREATED,
    DELTA,
    ERROR_FRAME,
    FRAME,
    HEADERS,
    SECRET,
    event,
)

ANSWER = [CREATED, DELTA, COMPLETED]
INCOMPLETE = event("response.incomplete", response={"id": "r", "status": "incomplete"})
FAILED = event("response.failed", response={"id": "r", "status": "failed"})
LIMIT = event(
    "error",
    status=400,
    error={
        "type": "invalid_request_error",
        "code": "websocket_connection_limit_reached",
        "message": "Responses websocket connection limit reached (60 minutes).",
        "param": None,
    },
)

# (socket, its index in order of connection, the 1-based number of this response on the socket)
Answer = Callable[[ServerConnection, int, int], Awaitable[None]]

_server_logger = logging.getLogger("tests.websocket_pool_server")
_server_logger.setLevel(logging.INFO)


@dataclass
class Server:
    url: str = ""
    # The `response.create` frames each connection received, in order of connection.
    connections: list[list[dict[str, Any]]] = field(default_factory=list)
    close_codes: dict[int, int | None] = field(default_factory=dict)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def wait_closed(self, count: int) -> None:
        """Until `count` connections have closed on the server side (at most a second)."""
        async with asyncio.timeout(1), self.changed:
            await self.changed.wait_for(lambda: len(self.close_codes) >= count)


async def answers(ws: ServerConnection, _conn: int, _n: int) -> None:
    for frame in ANSWER:
        await ws.send(frame)


@asynccontextmanager
async def server(answer: Answer = answers) -> AsyncIterator[Server]:
    """A server that answers every `response.create` on a connection, one after another."""
    state = Server()

    async def handler(ws: ServerConnection) -> None:
        index = len(state.connections)
        frames: list[dict[str, Any]] = []
        state.connections.append(frames)
        try:
            async for message in ws:
                frames.append(json.loads(message))
                await answer(ws, index, len(frames))
        except ConnectionClosed:
            pass
        finally:
            async with state.changed:
                state.close_codes[index] = ws.close_code
                state.changed.notify_all()

    async with serve(handler, "127.0.0.1", 0, logger=_server_logger, close_timeout=1) as srv:
        port = srv.sockets[0].getsockname()[1]
        state.url = f"ws://127.0.0.1:{port}/backend-api/codex/responses"
        yield state


@pytest.fixture
async def pool() -> AsyncIterator[WebSocketPool]:
    pool = WebSocketPool()
    yield pool
    await pool.close()


async def run(
    url: str, pool: WebSocketPool, headers: dict[str, str] = HEADERS, **kwargs: Any
) -> list[str]:
    async with open_response_stream(
        url, headers=headers, frame=FRAME, pool=pool, **kwargs
    ) as events:
        return [text async for text in events]


def sizes(up: Server) -> list[int]:
    """How many responses each connection carried."""
    return [len(frames) for frames in up.connections]


# ---- reuse ------------------------------------------------------------------------------------


@pytest.mark.parametrize("terminal", [COMPLETED, INCOMPLETE])
async def test_a_second_response_reuses_the_socket(pool: WebSocketPool, terminal: str) -> None:
    async def answer(ws: ServerConnection, _conn: int, _n: int) -> None:
        await ws.send(CREATED)
        await ws.send(terminal)

    async with server(answer) as up:
        assert await run(up.url, pool) == [CREATED, terminal]
        assert len(pool) == 1
        assert await run(up.url, pool) == [CREATED, terminal]
        assert len(pool) == 1
    assert sizes(up) == [2]
    assert up.connections[0] == [{"type": "response.create", **BODY}] * 2


async def test_different_headers_get_different_sockets(pool: WebSocketPool) -> None:
    other = {**HEADERS, "Authorization": "Bearer sk-other"}
    async with server() as up:
        assert await run(up.url, pool) == ANSWER
        assert await run(up.url, pool, headers=other) == ANSWER
        assert await run(up.url, pool) == ANSWER
        assert await run(up.url, pool, headers=other) == ANSWER
    assert sizes(up) == [2, 2]


async def test_header_names_match_in_any_case_and_values_never_in_the_key() -> None:
    lower = {name.lower(): value for name, value in HEADERS.items()}
    key = WebSocketPool.key("ws://h/r", HEADERS)
    assert WebSocketPool.key("ws://h/r", dict(reversed(lower.items()))) == key
    assert WebSocketPool.key("ws://h/r", {**HEADERS, "session_id": "sess-2"}) != key
    assert WebSocketPool.key("ws://h/other", HEADERS) != key
    assert SECRET not in repr(key) and "acct-123" not in repr(key)


async def test_concurrent_responses_each_own_a_socket(pool: WebSocketPool) -> None:
    async def slow(ws: ServerConnection, _conn: int, _n: int) -> None:
        await ws.send(CREATED)
        await asyncio.sleep(0.1)
        await ws.send(COMPLETED)

    async with server(slow) as up:
        results = await asyncio.gather(*(run(up.url, pool) for _ in range(3)))
        assert results == [[CREATED, COMPLETED]] * 3
        assert len(pool) == 3
        results = await asyncio.gather(*(run(up.url, pool) for _ in range(3)))
        assert results == [[CREATED, COMPLETED]] * 3
    assert sizes(up) == [2, 2, 2]


async def test_idle_sockets_answer_pings(pool: WebSocketPool) -> None:
    pinged = asyncio.Event()

    async def answer_then_ping(ws: ServerConnection, _conn: int, n: int) -> None:
        await answers(ws, _conn, n)
        if n == 1:
            await asyncio.sleep(0.05)
            await asyncio.wait_for(await ws.ping(), 1)
            pinged.set()

    async with server(answer_then_ping) as up:
        assert await run(up.url, pool) == ANSWER
        await asyncio.wait_for(pinged.wait(), 1)
        assert await run(up.url, pool) == ANSWER
    assert sizes(up) == [2]


# ---- not reused -------------------------------------------------------------------------------


@pytest.mark.parametrize("last", [ERROR_FRAME, FAILED])
async def test_an_error_or_failed_response_is_not_reused(pool: WebSocketPool, last: str) -> None:
    async def answer(ws: ServerConnection, conn: int, _n: int) -> None:
        await ws.send(CREATED if conn else last)
        if conn:
            await ws.send(COMPLETED)

    async with server(answer) as up:
        assert (await run(up.url, pool))[-1] == last
        assert len(pool) == 0
        await up.wait_closed(1)
        assert await run(up.url, pool) == [CREATED, COMPLETED]
    assert sizes(up) == [1, 1]
    assert up.close_codes[0] == 1000


async def test_a_protocol_error_is_not_reused(pool: WebSocketPool) -> None:
    async def answer(ws: ServerConnection, conn: int, n: int) -> None:
        await ws.send(b"\x00" if conn == 0 else COMPLETED)

    async with server(answer) as up:
        with pytest.raises(UpstreamProtocolError):
            await run(up.url, pool)
        assert len(pool) == 0
        assert await run(up.url, pool) == [COMPLETED]
    assert sizes(up) == [1, 1]


async def test_an_idle_timeout_is_not_reused(pool: WebSocketPool) -> None:
    async def answer(ws: ServerConnection, conn: int, n: int) -> None:
        await ws.send(CREATED)
        if conn:
            await ws.send(COMPLETED)

    async with server(answer) as up:
        with pytest.raises(UpstreamError) as info:
            await run(up.url, pool, idle_timeout=0.1)
        assert info.value.status == 504
        await up.wait_closed(1)
        assert await run(up.url, pool) == [CREATED, COMPLETED]
    assert sizes(up) == [1, 1]
    assert up.close_codes[0] == 1001


async def test_cancelling_closes_the_socket_within_a_second_and_does_not_pool_it(
    pool: WebSocketPool,
) -> None:
    first = asyncio.Event()

    async def stall(ws: ServerConnection, _conn: int, _n: int) -> None:
        await ws.send(CREATED)
        await ws.wait_closed()

    async def consume(url: str) -> None:
        async with open_response_stream(url, headers=HEADERS, frame=FRAME, pool=pool) as events:
            async for _ in events:
                first.set()

    async with server(stall) as up:
        task = asyncio.create_task(consume(up.url))
        await asyncio.wait_for(first.wait(), 1)
        task.cancel()
        await up.wait_closed(1)
        with pytest.raises(asyncio.CancelledError):
            await task
        assert len(pool) == 0
    assert up.close_codes[0] == 1001


async def test_stopping_early_closes_the_socket(pool: WebSocketPool) -> None:
    async with server() as up:
        async with open_response_stream(up.url, headers=HEADERS, frame=FRAME, pool=pool) as events:
            async for _ in events:
                break
        await up.wait_closed(1)
        assert len(pool) == 0
    assert up.close_codes[0] == 1001


async def test_a_socket_that_received_a_stray_frame_while_idle_is_not_reused(
    pool: WebSocketPool,
) -> None:
    stray = asyncio.Event()

    async def answer(ws: ServerConnection, conn: int, n: int) -> None:
        await answers(ws, conn, n)
        if conn == 0:
            await ws.send(DELTA)
            stray.set()

    async with server(answer) as up:
        assert await run(up.url, pool) == ANSWER
        await asyncio.wait_for(stray.wait(), 1)
        await asyncio.sleep(0.05)
        assert await run(up.url, pool) == ANSWER
    assert sizes(up) == [1, 1]


# ---- expiry and limits ------------------------------------------------------------------------


async def test_an_idle_socket_is_closed_after_the_idle_ttl() -> None:
    pool = WebSocketPool(idle_ttl=0.1)
    async with server() as up:
        assert await run(up.url, pool) == ANSWER
        assert len(pool) == 1
        await up.wait_closed(1)
        assert len(pool) == 0
        assert await run(up.url, pool) == ANSWER
        await pool.close()
    assert sizes(up) == [1, 1]
    assert up.close_codes[0] == 1000


async def test_a_socket_past_max_age_is_never_reused() -> None:
    pool = WebSocketPool(max_age=0.1)

    async def slow(ws: ServerConnection, _conn: int, _n: int) -> None:
        await ws.send(CREATED)
        await asyncio.sleep(0.15)
        await ws.send(COMPLETED)

    async with server(slow) as up:
        assert await run(up.url, pool) == [CREATED, COMPLETED]
        assert len(pool) == 0
        assert await run(up.url, pool) == [CREATED, COMPLETED]
        await pool.close()
    assert sizes(up) == [1, 1]


async def test_idle_sockets_are_capped_per_key_and_overall() -> None:
    pool = WebSocketPool(max_idle_per_key=2, max_idle=3)
    other = {**HEADERS, "Authorization": "Bearer sk-other"}

    async def slow(ws: ServerConnection, _conn: int, _n: int) -> None:
        await ws.send(CREATED)
        await asyncio.sleep(0.05)
        await ws.send(COMPLETED)

    async with server(slow) as up:
        await asyncio.gather(*(run(up.url, pool) for _ in range(3)))
        assert len(pool) == 2
        await up.wait_closed(1)
        await asyncio.gather(*(run(up.url, pool, headers=other) for _ in range(2)))
        assert len(pool) == 3
        await up.wait_closed(2)
        await pool.close()
    assert sizes(up) == [1] * 5


async def test_releasing_a_socket_the_pool_never_saw_is_an_error(pool: WebSocketPool) -> None:
    async with server() as up, connect(up.url, logger=_server_logger) as ws:
        with pytest.raises(ValueError):
            pool.release(ws)


# ---- dead sockets and the lifetime limit ------------------------------------------------------


async def test_a_socket_the_server_closed_while_idle_is_replaced(pool: WebSocketPool) -> None:
    async def answer_then_close(ws: ServerConnection, conn: int, n: int) -> None:
        await answers(ws, conn, n)
        if conn == 0:
            await ws.close(1001, "idle")

    async with server(answer_then_close) as up:
        assert await run(up.url, pool) == ANSWER
        await up.wait_closed(1)
        assert await run(up.url, pool) == ANSWER
    assert sizes(up) == [1, 1]


async def test_a_reused_socket_closed_before_the_first_frame_is_replaced(
    pool: WebSocketPool,
) -> None:
    async def close_on_second(ws: ServerConnection, conn: int, n: int) -> None:
        if conn == 0 and n == 2:
            await ws.close(1011, "going down")
            return
        await answers(ws, conn, n)

    async with server(close_on_second) as up:
        assert await run(up.url, pool) == ANSWER
        assert await run(up.url, pool) == ANSWER
    assert sizes(up) == [2, 1]


async def test_a_reused_socket_lost_without_a_close_frame_is_replaced(
    pool: WebSocketPool,
) -> None:
    async with server() as up:
        assert await run(up.url, pool) == ANSWER
        ws = pool.acquire(up.url, HEADERS)
        assert ws is not None
        pool.release(ws)
        ws.transport.abort()
        assert await run(up.url, pool) == ANSWER
    assert sizes(up) == [1, 1]


async def test_a_reused_socket_failing_on_send_is_replaced(
    pool: WebSocketPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with server() as up:
        assert await run(up.url, pool) == ANSWER
        ws = pool.acquire(up.url, HEADERS)
        assert ws is not None
        pool.release(ws)

        async def broken(*_args: Any, **_kwargs: Any) -> None:
            raise ConnectionResetError("reset by peer")

        monkeypatch.setattr(ws, "send", broken)
        assert await run(up.url, pool) == ANSWER
    assert sizes(up) == [1, 1]


async def _answer_then_fall_silent(ws: ServerConnection, conn: int, n: int) -> None:
    """Connection 0 answers once, then reads nothing more: no pong, no answer (an upstream
    whose old process hangs on after a restart, a NAT that forgot the connection)."""
    await answers(ws, conn, n)
    if conn == 0:
        ws.transport.pause_reading()


async def test_a_reused_socket_that_does_not_answer_in_time_is_replaced_at_once(
    pool: WebSocketPool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="chat2responses.transports.websocket.stream")
    async with server(_answer_then_fall_silent) as up:
        assert await run(up.url, pool) == ANSWER
        # websockets' own keep-alive would notice only after about 40 s: the guard is far
        # below that, and the liveness wait (0.5 s here) far below the guard.
        async with asyncio.timeout(10):
            assert await run(up.url, pool) == ANSWER
    assert sizes(up) == [1, 1]  # the silent socket never read the second frame
    assert "did not answer within 0.5 s; it is dead" in caplog.text


async def test_a_dead_socket_takes_its_idle_siblings_with_it(pool: WebSocketPool) -> None:
    async with server(_answer_then_fall_silent) as up:
        first = open_response_stream(up.url, headers=HEADERS, frame=FRAME, pool=pool)
        second = open_response_stream(up.url, headers=HEADERS, frame=FRAME, pool=pool)
        async with first as one, second as two:  # two sockets at once: 0 falls silent, 1 not
            assert [t async for t in one] == ANSWER
            assert [t async for t in two] == ANSWER
        assert len(pool) == 2
        async with asyncio.timeout(10):
            # 0, released last, is taken first: dead, so 1 goes too and a fresh one answers.
            assert await run(up.url, pool) == ANSWER
        await up.wait_closed(1)  # the sibling (the silent one reads no close either)
        assert 1 in up.close_codes and sizes(up) == [1, 1, 1]
        assert len(pool) == 1  # only the fresh one


async def test_a_reused_socket_slow_to_answer_but_alive_is_kept(pool: WebSocketPool) -> None:
    async def slow_second(ws: ServerConnection, conn: int, n: int) -> None:
        if n == 2:
            await asyncio.sleep(0.8)  # longer than the liveness wait; pings answered meanwhile
        await answers(ws, conn, n)

    async with server(slow_second) as up:
        assert await run(up.url, pool) == ANSWER
        assert await run(up.url, pool) == ANSWER
    assert sizes(up) == [2]


async def test_a_conversations_socket_that_does_not_answer_is_a_prompt_miss(
    pool: WebSocketPool,
) -> None:
    async with server(_answer_then_fall_silent) as up:
        kept: list[Any] = []
        async with open_response_stream(
            up.url, headers=HEADERS, frame=FRAME, pool=pool, keep=lambda ws: not kept.append(ws)
        ) as events:
            assert [t async for t in events] == ANSWER
        assert len(kept) == 1 and len(pool) == 0
        async with asyncio.timeout(10):
            with pytest.raises(WebSocketClosed, match=r"did not answer within 0\.5 s"):
                await run(up.url, pool, socket=kept[0])
        assert kept[0].transport.is_closing()  # dropped: no closing handshake waited for
        async with asyncio.timeout(1):
            await kept[0].wait_closed()


async def test_a_fresh_socket_that_closes_early_is_an_error_not_a_retry(
    pool: WebSocketPool,
) -> None:
    async def close(ws: ServerConnection, _conn: int, _n: int) -> None:
        await ws.close(1011, "boom")

    async with server(close) as up:
        with pytest.raises(UpstreamProtocolError):
            await run(up.url, pool)
    assert sizes(up) == [1]


async def test_a_close_after_the_first_frame_of_a_reused_socket_is_not_retried(
    pool: WebSocketPool,
) -> None:
    async def break_second(ws: ServerConnection, conn: int, n: int) -> None:
        if n == 2:
            await ws.send(CREATED)
            await ws.close(1011, "boom")
            return
        await answers(ws, conn, n)

    async with server(break_second) as up:
        assert await run(up.url, pool) == ANSWER
        with pytest.raises(UpstreamProtocolError):
            await run(up.url, pool)
    assert sizes(up) == [2]


async def test_connection_limit_on_a_reused_socket_retries_on_a_fresh_one(
    pool: WebSocketPool,
) -> None:
    async def limit_on_second(ws: ServerConnection, conn: int, n: int) -> None:
        await (ws.send(LIMIT) if (conn, n) == (0, 2) else answers(ws, conn, n))

    async with server(limit_on_second) as up:
        assert await run(up.url, pool) == ANSWER
        assert await run(up.url, pool) == ANSWER
        await up.wait_closed(1)
        assert await run(up.url, pool) == ANSWER
    assert sizes(up) == [2, 2]
    assert up.close_codes[0] == 1000


async def test_connection_limit_is_retried_once_only(pool: WebSocketPool) -> None:
    async def limit_after_first(ws: ServerConnection, conn: int, n: int) -> None:
        await (answers(ws, conn, n) if (conn, n) == (0, 1) else ws.send(LIMIT))

    async with server(limit_after_first) as up:
        assert await run(up.url, pool) == ANSWER
        assert await run(up.url, pool) == [LIMIT]
        assert len(pool) == 0
    assert sizes(up) == [2, 1]


# ---- closing the pool -------------------------------------------------------------------------


async def test_close_closes_idle_sockets_and_stops_pooling() -> None:
    pool = WebSocketPool()
    other = {**HEADERS, "Authorization": "Bearer sk-other"}
    async with server() as up:
        assert await run(up.url, pool) == ANSWER
        assert await run(up.url, pool, headers=other) == ANSWER
        assert len(pool) == 2
        await pool.close()
        assert len(pool) == 0
        await up.wait_closed(2)
        assert set(up.close_codes.values()) == {1000}
        assert await run(up.url, pool) == ANSWER
        assert len(pool) == 0
        await up.wait_closed(3)
    assert sizes(up) == [1, 1, 1]


async def test_pool_logs_never_carry_credentials(
    pool: WebSocketPool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with server(answers) as up:
        await run(up.url, pool)
        await run(up.url, pool)
    messages = [record.getMessage() for record in caplog.records]
    assert any("reusing" in message for message in messages)
    assert not any(SECRET in message or "acct-123" in message for message in messages)
