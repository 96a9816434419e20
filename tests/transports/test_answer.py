"""The answer mitmproxy relays (transports/answer.py), on a fake exchange: the head once, writes
batched, keep-alive comments in silence, one end."""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

import pytest

from chat2responses.call.job import CallTimes
from chat2responses.call.timing import parse_server_timing
from chat2responses.transports.answer import KEEPALIVE, ClientAnswer, Relayed
from tests.transports.fakes import FakeExchange


def answer(keepalive: float = 0.0) -> tuple[ClientAnswer, CallTimes, list[str]]:
    times, heads = CallTimes(), []
    made = ClientAnswer(
        content_type="text/event-stream; charset=utf-8",
        streaming=True,
        keepalive=keepalive,
        times=times,
        on_head=lambda: heads.append("head"),
    )
    return made, times, heads


async def test_the_head_goes_out_once_with_the_first_bytes_and_says_so() -> None:
    made, times, heads = answer()
    exchange = FakeExchange()
    made.attach(exchange)  # type: ignore[arg-type]
    await made.send(b"one", more=False)
    await made.send(b"two", more=False)
    await made.end(b"last")
    assert exchange.log == ["head", "write", "write", "end"] and heads == ["head"]
    assert exchange.headers == {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        "x-accel-buffering": "no",
    }
    assert bytes(exchange.body) == b"onetwolast" and times.first_byte is not None


async def test_writes_wait_for_mitmproxys_request() -> None:
    made, _, _ = answer()
    writing = asyncio.create_task(made.send(b"early", more=False))
    await asyncio.sleep(0)
    assert not writing.done()
    exchange = FakeExchange()
    made.attach(exchange)  # type: ignore[arg-type]
    await writing
    assert bytes(exchange.body) == b"early"


async def test_while_more_is_here_writes_are_collected_into_one() -> None:
    made, _, _ = answer()
    exchange = FakeExchange()
    made.attach(exchange)  # type: ignore[arg-type]
    await made.send(b"a", more=True)  # the head is not out: the first bytes go at once
    await made.send(b"b", more=True)
    await made.send(b"c", more=True)
    await made.send(b"d", more=False)
    assert exchange.log == ["head", "write", "write"] and bytes(exchange.body) == b"abcd"
    await made.send(b"e", more=True)
    await made.end(b"f")  # what is pending goes with the end
    assert exchange.log[-1] == "end" and bytes(exchange.body).endswith(b"ef")


async def test_keepalive_comments_fill_a_silent_start_and_are_not_the_first_byte() -> None:
    made, times, heads = answer(keepalive=0.01)
    exchange = FakeExchange()
    made.attach(exchange)  # type: ignore[arg-type]
    made.arm_keepalive()
    while bytes(exchange.body).count(KEEPALIVE) < 2:  # noqa: ASYNC110 - the timer writes them
        await asyncio.sleep(0.005)
    assert heads == ["head"] and times.first_byte is None
    await made.end(b"data: x\n\n")
    count = bytes(exchange.body).count(KEEPALIVE)
    await asyncio.sleep(0.05)
    assert bytes(exchange.body).count(KEEPALIVE) == count  # none after the end
    assert times.first_byte is not None


async def test_a_keepalive_waiting_for_the_exchange_never_writes_once_the_answer_ends() -> None:
    made, _, heads = answer(keepalive=0.01)
    made.arm_keepalive()
    await asyncio.sleep(0.05)  # keep-alives are due, waiting for mitmproxy's request
    made.stop_keepalive()
    exchange = FakeExchange()
    made.attach(exchange)  # type: ignore[arg-type]
    await made.respond(503, {"content-type": "application/json"}, b"{}")
    await asyncio.sleep(0)
    assert exchange.log == ["respond"] and heads == []


async def test_only_a_200_whole_answer_is_a_first_byte() -> None:
    made, times, _ = answer()
    made.attach(FakeExchange())  # type: ignore[arg-type]
    await made.respond(429, {}, b"{}")
    assert times.first_byte is None
    made, times, _ = answer()
    made.attach(FakeExchange())  # type: ignore[arg-type]
    await made.respond(200, {}, b"{}")
    assert times.first_byte is not None


async def test_abandoning_cuts_an_unfinished_answer_only() -> None:
    made, _, _ = answer()
    exchange = FakeExchange()
    made.attach(exchange)  # type: ignore[arg-type]
    await made.end(b"")
    made.abandon()
    assert not exchange.aborted
    made, _, _ = answer()
    exchange = FakeExchange()
    made.attach(exchange)  # type: ignore[arg-type]
    await made.send(b"x", more=False)
    made.abandon()
    assert exchange.aborted


async def test_a_keepalive_to_an_answer_mitmproxy_let_go_of_raises_nowhere() -> None:
    """The exchange is gone (mitmproxy's client left) when a keep-alive is due: the write's
    ConnectionResetError is the call's business, not an unhandled task error in the log."""
    loop = asyncio.get_running_loop()
    unhandled: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: unhandled.append(context))
    try:
        made, _, _ = answer(keepalive=0.01)
        exchange = FakeExchange()
        exchange.gone = True
        made.attach(exchange)  # type: ignore[arg-type]
        made.arm_keepalive()
        await asyncio.sleep(0.05)
        made.abandon()
        await asyncio.sleep(0)
        gc.collect()  # a task whose exception nobody read reports it when it is collected
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(None)
    assert not unhandled, unhandled


async def test_the_relay_signal_is_waited_for_at_most_the_time_given() -> None:
    signal = Relayed()
    await signal.wait(0.001)  # nobody said so: it returns anyway
    assert not signal.is_set()
    signal.set()
    await asyncio.wait_for(signal.wait(3600), 1)  # said so: at once


async def test_server_timing_a_streams_head_without_total_a_whole_answer_with_it() -> None:
    """call/timing.py rule 2: what is known when the head goes out."""
    made, times, _ = answer()
    now = time.monotonic()
    times.received, times.first_sent, times.sent, times.first_event = (
        now - 0.05,
        now - 0.049,
        now - 0.049,
        now - 0.01,
    )
    exchange = FakeExchange()
    made.attach(exchange)  # type: ignore[arg-type]
    await made.send(b"one", more=False)
    timing = parse_server_timing(exchange.headers["server-timing"])
    assert set(timing) == {"c2r", "upstream"}
    assert timing["c2r"] == pytest.approx(1.0, abs=0.05)
    assert timing["upstream"] == pytest.approx(39.0, abs=0.05)

    whole, times, _ = answer()
    times.received, times.first_sent, times.sent, times.first_event = (
        now - 0.05,
        now - 0.049,
        now - 0.049,
        now - 0.01,
    )
    exchange = FakeExchange()
    whole.attach(exchange)  # type: ignore[arg-type]
    await whole.respond(200, {"content-type": "application/json"}, b"{}")
    timing = parse_server_timing(exchange.headers["server-timing"])
    assert set(timing) == {"c2r", "upstream", "total"}
    assert timing["c2r"] < timing["total"] and timing["total"] >= 50.0
