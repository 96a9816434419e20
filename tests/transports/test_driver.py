"""The loopback driver: tokens, one request per call, expiry, the proxy stopping, over its real
loopback socket, with an in-process fake upstream (tests/transports/fakes.py). What a call does
with its upstream is tests/call/test_machine.py's and tests/transports/test_call.py's."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientSession

from chat2responses.call.job import CallJob
from chat2responses.protocol.errors import ProxyError
from chat2responses.transports import driver as driver_module
from chat2responses.transports.driver import PATH_PREFIX, Driver
from chat2responses.transports.upstream import reading_paused
from tests.call.test_machine import ANSWER, CREATED, job
from tests.events_helpers import ADDED, delta
from tests.transports.fakes import FakeUpstream, Step


class Scripted(FakeUpstream):
    """A fake upstream whose attempts are handed out in the order calls open them."""

    def script(self, *attempts: list[Step]) -> None:
        self.attempts.extend(attempts)


@pytest.fixture
async def upstream() -> Scripted:
    return Scripted([])


@pytest.fixture
async def driver(upstream: Scripted) -> AsyncIterator[Driver]:
    instance = Driver(connect=upstream)
    instance.start()
    async with ClientSession() as session:  # wait until it serves
        for _ in range(100):
            try:
                async with session.post(f"http://127.0.0.1:{instance.port}{PATH_PREFIX}x") as r:
                    assert r.status == 404
                    break
            except OSError:
                await asyncio.sleep(0.01)
    yield instance
    instance.stop()
    await instance.aclose()


async def post(driver: Driver, token: str) -> tuple[int, bytes]:
    async with (
        ClientSession() as session,
        session.post(f"http://127.0.0.1:{driver.port}{PATH_PREFIX}{token}") as response,
    ):
        return response.status, await response.read()


def texts(body: bytes) -> str:
    found = []
    for event in body.split(b"\n\n"):
        if event.startswith(b"data: {"):
            chunk = json.loads(event[6:])
            found += [c["delta"].get("content") or "" for c in chunk.get("choices", [])]
    return "".join(found)


async def test_a_call_is_answered_over_the_loopback(driver: Driver, upstream: Scripted) -> None:
    upstream.script(ANSWER)
    status, body = await post(driver, driver.register(job()))
    assert status == 200 and texts(body) == "Hi" and body.endswith(b"data: [DONE]\n\n")


async def test_the_call_starts_before_mitmproxys_request_arrives(
    driver: Driver, upstream: Scripted
) -> None:
    upstream.script(ANSWER)
    token = driver.register(job())
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert upstream.log[:1] == ["open 0"]  # nobody asked the driver yet
    assert driver.pending() == 1
    status, body = await post(driver, token)
    assert status == 200 and texts(body) == "Hi" and driver.pending() == 0


async def test_a_token_is_good_for_one_request_only(driver: Driver, upstream: Scripted) -> None:
    upstream.script(ANSWER)
    token = driver.register(job())
    assert (await post(driver, token))[0] == 200
    status, body = await post(driver, token)
    assert status == 404 and json.loads(body)["error"]["code"] == "not_found"


async def test_only_post_claims_a_call(driver: Driver, upstream: Scripted) -> None:
    upstream.script([asyncio.Event()])
    token = driver.register(job())
    async with (
        ClientSession() as session,
        session.get(f"http://127.0.0.1:{driver.port}{PATH_PREFIX}{token}") as response,
    ):
        assert response.status == 404
    assert driver.pending() == 0  # and the call is gone


async def test_a_request_target_in_absolute_form_is_served(
    driver: Driver, upstream: Scripted
) -> None:
    """mitmproxy passes on the absolute form (`POST http://host/call/…`) when its client sent
    one; an HTTP/1.1 server must accept it."""
    upstream.script(ANSWER)
    token = driver.register(job())
    reader, writer = await asyncio.open_connection("127.0.0.1", driver.port)
    writer.write(
        f"POST http://api.example/{PATH_PREFIX.strip('/')}/{token} HTTP/1.1\r\n"
        "host: api.example\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".encode()
    )
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert b"data: [DONE]" in answer


async def test_an_unclaimed_call_expires_and_closes_its_upstream(
    driver: Driver, upstream: Scripted, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(driver_module, "JOB_TTL", 0.05)
    upstream.script([CREATED, asyncio.Event()])
    the_job = job()
    the_job.keepalive = 0.01  # keep-alive writes wait for an exchange that never comes
    driver.register(the_job)
    assert driver.pending() == 1
    await upstream.holding.wait()
    while driver.pending():  # noqa: ASYNC110 - the expiry timer is what is tested
        await asyncio.sleep(0.01)
    await asyncio.sleep(0)
    assert upstream.log == ["open 0", "close 0"]
    left = [t for t in asyncio.all_tasks() if "ClientAnswer" in repr(t.get_coro())]
    assert not left


async def test_a_discarded_call_is_cancelled_and_its_upstream_closed(
    driver: Driver, upstream: Scripted
) -> None:
    upstream.script([ADDED, delta("x"), asyncio.Event()])
    token = driver.register(job())
    async with (
        ClientSession() as session,
        session.post(f"http://127.0.0.1:{driver.port}{PATH_PREFIX}{token}") as response,
    ):
        await response.content.readany()
        driver.discard(token)
        for _ in range(100):
            if "close 0" in upstream.log:
                break
            await asyncio.sleep(0.01)
    assert upstream.log == ["open 0", "close 0"] and driver.pending() == 0


async def test_release_cancels_a_call_never_claimed_and_leaves_a_claimed_one(
    driver: Driver, upstream: Scripted
) -> None:
    upstream.script([CREATED, asyncio.Event()], ANSWER)
    token = driver.register(job())
    await upstream.holding.wait()
    driver.release(token)  # another addon answered the flow: the call is not needed
    await asyncio.sleep(0)
    assert upstream.log == ["open 0", "close 0"] and driver.pending() == 0
    token = driver.register(job())
    async with (
        ClientSession() as session,
        session.post(f"http://127.0.0.1:{driver.port}{PATH_PREFIX}{token}") as response,
    ):
        driver.release(token)  # claimed: it answers to the end
        assert texts(await response.read()) == "Hi"


@pytest.mark.parametrize("after_output", [False, True])
async def test_stopping_ends_each_running_answer_with_the_error_given(
    driver: Driver, upstream: Scripted, after_output: bool
) -> None:
    upstream.script([ADDED, delta("x"), asyncio.Event()] if after_output else [asyncio.Event()])
    stopping = ProxyError("stopping now", status=503, code="proxy_stopping")
    the_job = job()
    pending = asyncio.ensure_future(post(driver, driver.register(the_job)))
    await upstream.holding.wait()
    while after_output and the_job.times.first_byte is None:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    assert len(driver.stop_calls(stopping)) == 1
    status, body = await asyncio.wait_for(pending, 5)
    if after_output:
        assert status == 200 and texts(body) == "x"
        last = json.loads(body.rstrip().split(b"\n\n")[-1][6:])
        assert last["error"]["code"] == "proxy_stopping"
    else:
        assert status == 503 and json.loads(body)["error"]["message"] == "stopping now"
    assert the_job.outcome.error == "stopping now"


async def test_once_stopping_a_call_not_claimed_yet_or_registered_since_gets_the_error(
    driver: Driver, upstream: Scripted
) -> None:
    """Not a 404 'unknown call' and not a call that starts and is then cut: the error at once,
    and nothing sent upstream for the call registered after the stop."""
    upstream.script([asyncio.Event()])
    stopping = ProxyError("stopping now", status=503, code="proxy_stopping")
    before: CallJob = job()
    early = driver.register(before)  # registered: its upstream request is on its way
    await upstream.holding.wait()
    driver.stop_calls(stopping)
    after = job()
    late = driver.register(after)
    for token, the_job in ((early, before), (late, after)):
        status, body = await post(driver, token)
        assert status == 503 and json.loads(body)["error"]["code"] == "proxy_stopping"
        assert (the_job.outcome.status, the_job.outcome.error) == (503, "stopping now")
    assert upstream.log.count("open 0") == 1 and len(upstream.opened) == 1


async def test_winding_down_waits_for_flows_still_relayed_then_tears_down_once(
    driver: Driver,
) -> None:
    """No call runs, but mitmproxy still relays an answer: the teardown waits for its flow."""
    relayed, torn = asyncio.Event(), []
    stopping = ProxyError("stopping now", status=503)
    task = driver.wind_down(stopping, flows_done=relayed.is_set, then=lambda: torn.append(1))
    assert task is not None and torn == []
    relayed.set()
    await asyncio.wait_for(task, 3)
    assert torn == [1]
    # Nothing to wait for: at once, and nothing to await.
    assert driver.wind_down(stopping, flows_done=lambda: True, then=lambda: torn.append(2)) is None
    assert torn == [1, 2]


async def test_reading_paused_pauses_only_a_reading_transport() -> None:
    ours, theirs = socket.socketpair()
    _, writer = await asyncio.open_connection(sock=ours)
    transport: Any = writer.transport
    with reading_paused(transport):
        assert not transport.is_reading()
    assert transport.is_reading()
    transport.pause_reading()  # flow control's own pause
    with reading_paused(transport):
        assert not transport.is_reading()
    assert not transport.is_reading()  # still flow control's
    with reading_paused(None):
        pass
    writer.close()
    theirs.close()


async def test_a_held_call_waits_shows_no_usable_token_and_never_expires_while_held(
    driver: Driver, upstream: Scripted, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mitmproxy's intercept holds the flow after the glue registered its call (rule 5)."""
    monkeypatch.setattr(driver_module, "JOB_TTL", 0.05)
    upstream.script(ANSWER)
    held = True
    token = driver.register(job(), held=lambda: held)
    for _ in range(10):  # well past JOB_TTL
        await asyncio.sleep(0.02)
    assert upstream.log == []  # nothing made, nothing billed
    status, body = await post(driver, token)  # whoever read the token from the held flow
    assert status == 404 and json.loads(body)["error"]["code"] == "not_found"
    assert driver.pending() == 1 and upstream.log == []  # and the call is still there
    monkeypatch.setattr(driver_module, "JOB_TTL", 60.0)  # a busy machine's post is not late:
    await asyncio.sleep(0.06)  # the short timer fires (still held) and re-arms at 60 s
    held = False  # released: mitmproxy claims it, and only now the call is made
    status, body = await post(driver, token)
    assert status == 200 and texts(body) == "Hi" and upstream.log[:1] == ["open 0"]


async def test_a_call_not_held_starts_once_the_hooks_have_run(
    driver: Driver, upstream: Scripted
) -> None:
    upstream.script(ANSWER)
    token = driver.register(job(), held=lambda: False)
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert upstream.log[:1] == ["open 0"]  # before mitmproxy's request arrives
    status, body = await post(driver, token)
    assert status == 200 and texts(body) == "Hi"


# ---- clients' Responses WebSockets (rule 6) -----------------------------------------------------


async def test_a_client_socket_is_served_once_per_token_and_an_unknown_one_is_a_404(
    driver: Driver, upstream: Scripted
) -> None:
    from websockets.asyncio.client import connect as ws_connect
    from websockets.exceptions import InvalidStatus

    from chat2responses.response.responses_sinks import ResponsesFrameSink
    from chat2responses.transports.client_socket import SocketSession
    from chat2responses.transports.driver import SOCKET_PATH_PREFIX
    from chat2responses.upstream.routing import CallKind

    ended: list[CallJob] = []

    def plan(frame: Any) -> CallJob:
        the_job = job(kind=CallKind.RESPONSES)
        the_job.make_sink = ResponsesFrameSink
        return the_job

    upstream.script(ANSWER)
    token = driver.sockets.register(SocketSession(plan, lambda j, s: ended.append(j)))
    url = f"ws://127.0.0.1:{driver.sockets.port}{SOCKET_PATH_PREFIX}"
    async with asyncio.timeout(5):
        async with ws_connect(url + token) as ws:
            await ws.send(json.dumps({"type": "response.create", "model": "gpt-5.5", "input": "x"}))
            frames = [json.loads(await ws.recv()) for _ in ANSWER]
        assert [f["type"] for f in frames] == [e["type"] for e in ANSWER]
        assert len(ended) == 1
        for used in (token, "unknown"):
            with pytest.raises(InvalidStatus) as caught:
                async with ws_connect(url + used):
                    pass
            assert caught.value.response.status_code == 404
