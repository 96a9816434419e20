"""The loopback driver and the upstream call, against small scripted upstreams on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import ClientSession, web
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from chat2responses.call.job import CallJob
from chat2responses.call.memory import Memory
from chat2responses.call.policy import Plan, Reason, Route
from chat2responses.protocol.errors import ProxyError
from chat2responses.protocol.sse import SSEDecoder
from chat2responses.protocol.wire import ReasoningMode
from chat2responses.response.chat_sinks import ChatJsonSink, ChatStreamSink, Sink
from chat2responses.response.chunks import ChunkContext
from chat2responses.transports import driver as driver_module
from chat2responses.transports.answer import Relayed
from chat2responses.transports.attempt_events import reading_paused
from chat2responses.transports.driver import PATH_PREFIX, Driver
from chat2responses.upstream.catalog import Catalog
from chat2responses.upstream.profiles import OPENAI

CTX = ChunkContext("chatcmpl-1", 1_700_000_000, "m", ReasoningMode.REASONING_CONTENT)
RESPONSE = {"id": "resp_1", "object": "response", "status": "completed", "output": []}
ADDED = {
    "type": "response.output_item.added",
    "output_index": 0,
    "item": {"type": "message", "id": "msg_1", "role": "assistant", "content": []},
}
COMPLETED = {"type": "response.completed", "response": RESPONSE}
MATCH = Catalog.default().match("mystery-model")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def delta(text: str) -> dict[str, Any]:
    return {"type": "response.output_text.delta", "output_index": 0, "delta": text}


@asynccontextmanager
async def upstream(http: Handler, ws: Handler | None = None) -> AsyncIterator[str]:
    async def route(request: web.Request) -> web.StreamResponse:
        if request.headers.get("upgrade", "").lower() == "websocket":
            if ws is None:
                return web.json_response({"error": {"message": "no websocket here"}}, status=404)
            return await ws(request)
        return await http(request)

    app = web.Application()
    app.router.add_route("*", "/v1/responses", route)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/v1/responses"
    finally:
        await runner.cleanup()


async def sse_events(request: web.Request, events: list[dict[str, Any]]) -> web.StreamResponse:
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    for event in events:
        await response.write(b"data: " + json.dumps(event).encode() + b"\n\n")
    await response.write_eof()
    return response


async def sse_ok(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    if body.get("reasoning", {}).get("summary"):
        error = {"message": "Your organization must be verified", "param": "reasoning.summary"}
        return web.json_response({"error": {**error, "code": "unsupported_value"}}, status=400)
    return await sse_events(request, [ADDED, delta("Hi"), COMPLETED])


def job(
    url: str,
    route: Route,
    *,
    body: dict[str, Any] | None = None,
    stream: bool = True,
    memory: Memory | None = None,
    idle: float = 5.0,
    switchable: bool = True,
) -> CallJob:
    def make() -> Sink:
        return ChatStreamSink(CTX, include_usage=False) if stream else ChatJsonSink(CTX)

    body = body or {"model": "m", "input": "hi"}
    return CallJob(
        http_url=url,
        ws_url=url.replace("http://", "ws://"),
        body=body,
        headers={"authorization": "Bearer sk-test"},
        profile=OPENAI,
        plan=Plan(route, Reason.DEFAULT, switchable=switchable, summaries="reasoning" in body),
        memory=memory or Memory(),
        upstream=url,
        match=MATCH,
        make_sink=make,
        idle_timeout=idle,
    )


@pytest.fixture
async def driver() -> AsyncIterator[Driver]:
    instance = Driver()
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


async def call(driver: Driver, the_job: CallJob) -> tuple[int, str, bytes]:
    token = driver.register(the_job)
    async with (
        ClientSession() as session,
        session.post(f"http://127.0.0.1:{driver.port}{PATH_PREFIX}{token}") as response,
    ):
        return response.status, response.content_type, await response.read()


def chunks(body: bytes) -> list[dict[str, Any]]:
    out = []
    for event in body.split(b"\n\n"):
        if event.startswith(b"data: ") and event != b"data: [DONE]":
            out.append(json.loads(event[6:]))
    return out


def text_of(body: bytes) -> str:
    return "".join(
        ChatCompletionChunk.model_validate(c).choices[0].delta.content or ""
        for c in chunks(body)
        if c.get("choices")
    )


async def test_a_stream_is_answered_as_chat_sse(driver: Driver) -> None:
    async with upstream(sse_ok) as url:
        status, kind, body = await call(driver, job(url, Route.HTTP))
    assert (status, kind) == (200, "text/event-stream")
    assert text_of(body) == "Hi"
    assert body.endswith(b"data: [DONE]\n\n")


async def test_a_non_streaming_client_gets_one_completion(driver: Driver) -> None:
    async with upstream(sse_ok) as url:
        status, kind, body = await call(driver, job(url, Route.HTTP, stream=False))
    assert (status, kind) == (200, "application/json")
    assert ChatCompletion.model_validate_json(body).choices[0].message.content == "Hi"


async def test_a_websocket_upgrade_refused_with_404_falls_back_to_http(driver: Driver) -> None:
    memory = Memory()
    async with upstream(sse_ok) as url:
        the_job = job(url, Route.WEBSOCKET, memory=memory)
        status, _, body = await call(driver, the_job)
    assert status == 200 and text_of(body) == "Hi", body
    assert [(t.attempt.route, t.failure) for t in the_job.outcome.tried] == [
        (Route.WEBSOCKET, "websocket_refused"),
        (Route.HTTP, None),
    ]
    assert memory.routes == {(url, "mystery-model"): Route.HTTP}


async def test_no_fallback_when_the_transport_is_forced(driver: Driver) -> None:
    async with upstream(sse_ok) as url:
        status, kind, body = await call(driver, job(url, Route.WEBSOCKET, switchable=False))
    assert (status, kind) == (404, "application/json")
    assert json.loads(body)["error"]["message"] == "no websocket here"


async def test_a_refused_reasoning_summary_is_retried_without_and_remembered(
    driver: Driver,
) -> None:
    memory = Memory()
    body = {"model": "m", "input": "hi", "reasoning": {"effort": "low", "summary": "auto"}}
    async with upstream(sse_ok) as url:
        status, _, answer = await call(driver, job(url, Route.HTTP, body=body, memory=memory))
    assert status == 200 and text_of(answer) == "Hi"
    assert not memory.summaries_allowed(url, MATCH)
    # The translation's body is never changed: the retry built a new one.
    assert body["reasoning"] == {"effort": "low", "summary": "auto"}


@pytest.mark.parametrize("stream", [True, False])
async def test_a_json_answer_is_translated_too(driver: Driver, stream: bool) -> None:
    async def json_answer(request: web.Request) -> web.StreamResponse:
        output = [
            {
                "type": "message",
                "id": "m1",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Yo", "annotations": []}],
            }
        ]
        return web.json_response({**RESPONSE, "output": output})

    async with upstream(json_answer) as url:
        status, _, body = await call(driver, job(url, Route.HTTP, stream=stream))
    assert status == 200
    if stream:
        assert text_of(body) == "Yo"
    else:
        assert json.loads(body)["choices"][0]["message"]["content"] == "Yo"


async def test_websocket_frames_with_newlines_stay_whole_events(driver: Driver) -> None:
    async def pretty(request: web.Request) -> web.StreamResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.receive()
        for event in (ADDED, delta("a\nb"), COMPLETED):
            await socket.send_str(json.dumps(event, indent=2))
        await socket.close()
        return socket

    async with upstream(sse_ok, pretty) as url:
        status, _, body = await call(driver, job(url, Route.WEBSOCKET))
    assert status == 200 and text_of(body) == "a\nb"


async def test_an_early_error_event_keeps_its_status(driver: Driver) -> None:
    async def overloaded(request: web.Request) -> web.StreamResponse:
        created = {"type": "response.created", "response": {**RESPONSE, "status": "in_progress"}}
        error = {"type": "error", "code": "server_is_overloaded", "message": "busy"}
        return await sse_events(request, [created, error])

    async with upstream(overloaded) as url:
        the_job = job(url, Route.HTTP)
        status, kind, body = await call(driver, the_job)
    assert (status, kind) == (503, "application/json")
    assert json.loads(body)["error"]["code"] == "server_is_overloaded"
    assert the_job.outcome.first_byte_at is None  # no chunk: the summary shows no first chunk


async def test_an_error_after_output_is_one_error_chunk(driver: Driver) -> None:
    async def late(request: web.Request) -> web.StreamResponse:
        error = {"type": "error", "code": "server_error", "message": "boom"}
        return await sse_events(request, [ADDED, delta("par"), error])

    async with upstream(late) as url:
        status, _, body = await call(driver, job(url, Route.HTTP))
    assert status == 200
    assert text_of(body) == "par"
    assert chunks(body)[-1]["error"]["message"] == "boom"
    assert b"[DONE]" not in body


async def test_text_read_together_with_a_malformed_event_still_reaches_the_client(
    driver: Driver,
) -> None:
    """Events are parsed one at a time as they are taken: what came before a broken event in the
    same read is answered, then one error chunk."""

    async def broken(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        good = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in (ADDED, delta("ok")))
        await response.write(good + b"data: {not json\n\n")  # one write, one read
        await response.write_eof()
        return response

    async with upstream(broken) as url:
        status, _, body = await call(driver, job(url, Route.HTTP))
    assert status == 200
    assert text_of(body) == "ok"
    assert "not JSON" in chunks(body)[-1]["error"]["message"]
    assert b"[DONE]" not in body


def stalling(after_output: bool) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """An upstream that sends `response.created` (and some text, `after_output`), then nothing."""

    async def stall(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        created = {"type": "response.created", "response": {**RESPONSE, "status": "in_progress"}}
        for event in [created, ADDED, delta("x")] if after_output else [created]:
            await response.write(b"data: " + json.dumps(event).encode() + b"\n\n")
        await asyncio.sleep(30)
        return response

    return stall


@pytest.mark.parametrize("after_output", [False, True])
async def test_a_stalled_upstream_ends_the_call(driver: Driver, after_output: bool) -> None:
    stall = stalling(after_output)
    async with upstream(stall) as url:
        started = asyncio.get_running_loop().time()
        status, _, body = await call(driver, job(url, Route.HTTP, idle=0.3))
    assert asyncio.get_running_loop().time() - started < 5
    if after_output:
        assert status == 200
        assert "stalled" in chunks(body)[-1]["error"]["message"]
    else:
        assert status == 504
        assert "stalled" in json.loads(body)["error"]["message"]


async def test_a_non_streaming_answer_is_capped(
    driver: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def big(request: web.Request) -> web.StreamResponse:
        return await sse_events(request, [ADDED] + [delta("x" * 1000)] * 50 + [COMPLETED])

    monkeypatch.setattr("chat2responses.response.chat_sinks.MAX_AGGREGATED_BYTES", 10_000)

    def capped() -> Sink:
        return ChatJsonSink(CTX, limit=10_000)

    async with upstream(big) as url:
        the_job = job(url, Route.HTTP, stream=False)
        the_job.make_sink = capped
        status, _, body = await call(driver, the_job)
    assert status == 502
    assert "exceeds 10000 bytes" in json.loads(body)["error"]["message"]


@pytest.mark.parametrize("after_output", [False, True])
async def test_stopping_ends_each_running_answer_with_the_error_given(
    driver: Driver, after_output: bool
) -> None:
    """call.py rule 7: an error body before the first byte, one error chunk after it."""

    stall = stalling(after_output)
    stopping = ProxyError("stopping now", status=503, code="proxy_stopping")
    async with upstream(stall) as url:
        the_job = job(url, Route.HTTP)
        pending = asyncio.ensure_future(call(driver, the_job))
        await asyncio.sleep(0.3)  # the upstream's events are in: the call waits on its silence
        assert (the_job.outcome.first_byte_at is not None) is after_output
        ending = driver.stop_calls(stopping)
        assert len(ending) == 1
        status, _, body = await asyncio.wait_for(pending, 5)
    if after_output:
        assert status == 200 and text_of(body) == "x"
        assert chunks(body)[-1]["error"]["code"] == "proxy_stopping"
    else:
        assert status == 503 and json.loads(body)["error"]["message"] == "stopping now"


async def test_winding_down_waits_for_flows_still_relayed_then_tears_down_once(
    driver: Driver,
) -> None:
    """No call runs, but mitmproxy still relays an answer: the teardown waits for its flow."""
    relayed, torn = [False], []
    stopping = ProxyError("stopping now", status=503)
    loop = asyncio.get_running_loop()
    loop.call_later(0.1, relayed.__setitem__, 0, True)
    task = driver.wind_down(stopping, flows_done=lambda: relayed[0], then=lambda: torn.append(1))
    assert task is not None and torn == []
    await asyncio.wait_for(task, 3)
    assert torn == [1] and relayed[0]
    # Nothing to wait for: at once, and nothing to await.
    assert driver.wind_down(stopping, flows_done=lambda: True, then=lambda: torn.append(2)) is None
    assert torn == [1, 2]


async def test_once_stopping_a_call_not_claimed_yet_or_registered_since_gets_the_error(
    driver: Driver,
) -> None:
    """Not a 404 'unknown call' and not a call that starts and is then cut: the error at once,
    and nothing sent upstream for the call registered after the stop."""
    asked: list[str] = []

    async def answer(request: web.Request) -> web.StreamResponse:
        asked.append(request.path)
        await asyncio.sleep(30)
        return web.Response()

    stopping = ProxyError("stopping now", status=503, code="proxy_stopping")
    async with upstream(answer) as url:
        before = job(url, Route.HTTP)
        early = driver.register(before)  # registered: its upstream request is on its way
        await asyncio.sleep(0.2)
        driver.stop_calls(stopping)
        after = job(url, Route.HTTP)
        late = driver.register(after)
        async with ClientSession() as session:
            for token, the_job in ((early, before), (late, after)):
                target = f"http://127.0.0.1:{driver.port}{PATH_PREFIX}{token}"
                async with session.post(target) as response:
                    assert response.status == 503
                    assert (await response.json())["error"]["code"] == "proxy_stopping"
                assert (the_job.outcome.status, the_job.outcome.error) == (503, "stopping now")
    assert len(asked) == 1  # only the call registered before the stop reached the upstream


async def test_a_token_is_good_for_one_request_only(driver: Driver) -> None:
    async with upstream(sse_ok) as url:
        token = driver.register(job(url, Route.HTTP))
        async with ClientSession() as session:
            where = f"http://127.0.0.1:{driver.port}{PATH_PREFIX}{token}"
            async with session.post(where) as first:
                assert first.status == 200
                await first.read()
            async with session.post(where) as second:
                assert second.status == 404
                assert (await second.json())["error"]["message"]


async def test_a_request_target_in_absolute_form_is_served(driver: Driver) -> None:
    """mitmproxy passes on the absolute form (`POST http://host/call/…`) when its client sent
    one; an HTTP/1.1 server must accept it."""
    async with upstream(sse_ok) as url:
        token = driver.register(job(url, Route.HTTP))
        reader, writer = await asyncio.open_connection("127.0.0.1", driver.port)
        writer.write(
            f"POST http://api.example/{PATH_PREFIX.strip('/')}/{token} HTTP/1.1\r\n"
            "host: api.example\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".encode()
        )
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        assert b"data: [DONE]" in answer


async def test_an_unclaimed_job_expires(driver: Driver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(driver_module, "JOB_TTL", 0.05)
    driver.register(job("http://127.0.0.1:9/v1/responses", Route.HTTP))
    assert driver.pending() == 1
    await asyncio.sleep(0.2)
    assert driver.pending() == 0


def endless_upstream(closed: asyncio.Event) -> Handler:
    """An upstream that streams deltas until its client leaves (then sets `closed`)."""

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        try:
            await response.write(b"data: " + json.dumps(ADDED).encode() + b"\n\n")
            while True:
                await response.write(b"data: " + json.dumps(delta("x")).encode() + b"\n\n")
                await asyncio.sleep(0.01)
        finally:
            closed.set()

    return endless


async def test_a_discarded_call_is_cancelled_and_its_upstream_closed(driver: Driver) -> None:
    closed = asyncio.Event()
    async with upstream(endless_upstream(closed)) as url:
        token = driver.register(job(url, Route.HTTP))
        async with ClientSession() as session:
            where = f"http://127.0.0.1:{driver.port}{PATH_PREFIX}{token}"
            async with session.post(where) as response:
                await response.content.readany()
                driver.discard(token)
                await asyncio.wait_for(closed.wait(), 2)
    assert driver.pending() == 0


# ---- retries before the first byte, keep-alives, WebSocket closes by kind ----------------------


@pytest.fixture
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("chat2responses.call.policy.BACKOFF", 0.01)


def retrying(the_job: CallJob, retries: int = 2) -> CallJob:
    plan = the_job.plan
    the_job.plan = Plan(plan.route, plan.reason, plan.switchable, plan.summaries, False, retries)
    return the_job


CREATED = {"type": "response.created", "response": {**RESPONSE, "status": "in_progress"}}
OVERLOADED = {
    "type": "error",
    "code": "server_is_overloaded",
    "message": "Our servers are currently overloaded.",
}


@pytest.mark.usefixtures("quick_backoff")
async def test_an_overload_before_output_is_retried_out_of_sight(driver: Driver) -> None:
    seen: list[int] = []

    async def once(request: web.Request) -> web.StreamResponse:
        seen.append(1)
        if len(seen) == 1:
            return await sse_events(request, [CREATED, OVERLOADED])
        return await sse_events(request, [CREATED, ADDED, delta("Hi"), COMPLETED])

    async with upstream(once) as url:
        the_job = retrying(job(url, Route.HTTP))
        status, _, body = await call(driver, the_job)
    assert status == 200 and text_of(body) == "Hi"
    assert b"error" not in body
    assert [t.failure for t in the_job.outcome.tried] == ["transient", None]
    assert the_job.outcome.tried[1].attempt.why == "again (1 of 2)"


@pytest.mark.usefixtures("quick_backoff")
async def test_retries_are_bounded_and_the_last_error_keeps_its_status(driver: Driver) -> None:
    seen: list[int] = []

    async def always(request: web.Request) -> web.StreamResponse:
        seen.append(1)
        return await sse_events(request, [CREATED, OVERLOADED])

    async with upstream(always) as url:
        status, _, body = await call(driver, retrying(job(url, Route.HTTP), retries=2))
    assert status == 503
    assert json.loads(body)["error"]["code"] == "server_is_overloaded"
    assert len(seen) == 3


async def test_an_overload_after_output_is_an_error_chunk_and_not_retried(driver: Driver) -> None:
    seen: list[int] = []

    async def late(request: web.Request) -> web.StreamResponse:
        seen.append(1)
        return await sse_events(request, [CREATED, ADDED, delta("par"), OVERLOADED])

    async with upstream(late) as url:
        status, _, body = await call(driver, retrying(job(url, Route.HTTP)))
    assert status == 200 and text_of(body) == "par"
    assert chunks(body)[-1]["error"]["code"] == "server_is_overloaded"
    assert len(seen) == 1


async def test_the_upstreams_retry_after_is_honoured(driver: Driver) -> None:
    times: list[float] = []

    async def busy(request: web.Request) -> web.StreamResponse:
        times.append(asyncio.get_running_loop().time())
        if len(times) == 1:
            return web.json_response(
                {"error": {"message": "busy"}}, status=503, headers={"retry-after-ms": "300"}
            )
        return await sse_events(request, [ADDED, delta("ok"), COMPLETED])

    async with upstream(busy) as url:
        status, _, body = await call(driver, retrying(job(url, Route.HTTP)))
    assert status == 200 and text_of(body) == "ok"
    assert times[1] - times[0] >= 0.29


async def test_keepalive_comments_fill_a_silent_start(driver: Driver) -> None:
    async def thinking(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"data: " + json.dumps(CREATED).encode() + b"\n\n")
        await asyncio.sleep(0.35)
        for event in (ADDED, delta("late"), COMPLETED):
            await response.write(b"data: " + json.dumps(event).encode() + b"\n\n")
        await response.write_eof()
        return response

    async with upstream(thinking) as url:
        the_job = job(url, Route.HTTP)
        the_job.keepalive = 0.1
        token = driver.register(the_job)
        asked = time.monotonic()
        async with (
            ClientSession() as session,
            session.post(f"http://127.0.0.1:{driver.port}{PATH_PREFIX}{token}") as response,
        ):
            assert response.headers["x-accel-buffering"] == "no"
            assert response.headers["cache-control"] == "no-cache"
            body = await response.read()
    head = body.split(b"data: ", 1)[0]
    assert head.count(b": keepalive\n\n") >= 2 and head == b": keepalive\n\n" * head.count(b":")
    # The first chunk is the first data, not the first comment.
    first = the_job.outcome.first_byte_at
    assert first is not None and first - asked >= 0.3
    assert b"ping" not in body
    assert text_of(body) == "late"
    decoder = SSEDecoder()
    events = decoder.feed(body) + decoder.finish()
    assert [e.data for e in events][-1] == "[DONE]"


async def closed_with_1009(request: web.Request) -> web.StreamResponse:
    """A WebSocket upstream that closes with 1009 (message too big) after the first frame."""
    socket = web.WebSocketResponse()
    await socket.prepare(request)
    await socket.receive()
    await socket.close(code=1009, message=b"message too big")
    return socket


async def test_a_websocket_closed_with_1009_sends_that_request_over_http(driver: Driver) -> None:
    memory = Memory()

    async with upstream(sse_ok, closed_with_1009) as url:
        the_job = job(url, Route.WEBSOCKET, memory=memory)
        status, _, body = await call(driver, the_job)
    assert status == 200 and text_of(body) == "Hi", body
    assert [t.attempt.route for t in the_job.outcome.tried] == [Route.WEBSOCKET, Route.HTTP]
    assert memory.routes == {}  # one request too big says nothing of the model


async def test_the_outcome_is_final_when_the_clients_answer_ends(driver: Driver) -> None:
    """mitmproxy ends the flow and reports it once it has relayed the answer's end; the rest of
    the upstream's HTTP body is drained afterwards (here it stays open for a while)."""
    body_done = asyncio.Event()

    async def slow_end(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for event in (ADDED, delta("Hi"), COMPLETED):
            await response.write(b"data: " + json.dumps(event).encode() + b"\n\n")
        await body_done.wait()  # the body's end comes later
        await response.write_eof()
        return response

    async with upstream(slow_end, closed_with_1009) as url:
        the_job = job(url, Route.WEBSOCKET)
        status, _, body = await call(driver, the_job)
        tried = [t.attempt.route for t in the_job.outcome.tried]  # what the glue would report
        body_done.set()
    assert status == 200 and text_of(body) == "Hi", body
    assert tried == [Route.WEBSOCKET, Route.HTTP]


@pytest.mark.usefixtures("quick_backoff")
async def test_a_dropped_websocket_is_retried_on_a_fresh_socket(driver: Driver) -> None:
    handshakes: list[int] = []

    async def flaky(request: web.Request) -> web.StreamResponse:
        handshakes.append(1)
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.receive()
        if len(handshakes) == 1:
            assert request.transport is not None
            request.transport.abort()  # 1006: no close frame
            return socket
        for event in (ADDED, delta("again"), COMPLETED):
            await socket.send_str(json.dumps(event))
        await socket.close()
        return socket

    memory = Memory()
    async with upstream(sse_ok, flaky) as url:
        the_job = retrying(job(url, Route.WEBSOCKET, memory=memory))
        status, _, body = await call(driver, the_job)
    assert status == 200 and text_of(body) == "again"
    assert len(handshakes) == 2
    assert [t.attempt.route for t in the_job.outcome.tried] == [Route.WEBSOCKET] * 2
    assert memory.routes == {}


async def test_a_status_less_websocket_error_after_output_is_advisory(driver: Driver) -> None:
    async def advisory(request: web.Request) -> web.StreamResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.receive()
        note = {"type": "error", "error": {"type": "notice", "message": "slow region"}}
        for event in (ADDED, delta("a"), note, delta("b"), COMPLETED):
            await socket.send_str(json.dumps(event))
        await socket.close()
        return socket

    async with upstream(sse_ok, advisory) as url:
        status, _, body = await call(driver, job(url, Route.WEBSOCKET))
    assert status == 200 and text_of(body) == "ab"
    assert body.endswith(b"data: [DONE]\n\n")


async def test_a_continuation_miss_is_resent_in_full_out_of_sight(driver: Driver) -> None:
    from chat2responses.call.conversation import ConversationStore
    from chat2responses.call.replay import ReasoningCache
    from chat2responses.call.turn import Turn

    frames: list[dict[str, Any]] = []

    async def forgetful(request: web.Request) -> web.StreamResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        async for message in socket:
            frame = json.loads(message.data)
            frames.append(frame)
            if "previous_response_id" in frame:
                missing = {
                    "type": "error",
                    "status": 400,
                    "error": {
                        "type": "invalid_request_error",
                        "code": "previous_response_not_found",
                        "message": "Previous response not found.",
                        "param": "previous_response_id",
                    },
                }
                await socket.send_str(json.dumps(missing))
                continue
            item = {"type": "message", "id": "m", "role": "assistant", "content": []}
            done_item = {
                **item,
                "content": [{"type": "output_text", "text": "ok", "annotations": []}],
            }
            events = [
                {"type": "response.output_item.added", "output_index": 0, "item": item},
                delta("ok"),
                {"type": "response.output_item.done", "output_index": 0, "item": done_item},
                {
                    "type": "response.completed",
                    "response": {**RESPONSE, "id": f"resp_{len(frames)}", "output": [done_item]},
                },
            ]
            for event in events:
                await socket.send_str(json.dumps(event))
        return socket

    store, cache = ConversationStore(), ReasoningCache()
    user = {"role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    first = {"model": "m", "input": [user]}
    reply = {"role": "assistant", "content": [{"type": "output_text", "text": "ok"}]}
    more = {"role": "user", "content": [{"type": "input_text", "text": "more"}]}
    second = {"model": "m", "input": [user, reply, more]}
    async with upstream(sse_ok, forgetful) as url:
        for body in (first, second):
            the_job = job(url, Route.WEBSOCKET, body=body)
            the_job.turn = Turn(key="k", upstream=url, credential="c", store=store, cache=cache)
            status, _, answer = await call(driver, the_job)
            assert status == 200 and text_of(answer) == "ok"
    # The second turn went as a continuation, was missed, and went again in full at once.
    assert [("previous_response_id" in f, len(f["input"])) for f in frames] == [
        (False, 1),
        (True, 1),
        (False, 3),
    ]
    assert [t.failure for t in the_job.outcome.tried] == ["continuation_miss", None]


async def test_a_refused_replayed_reasoning_item_is_resent_without_and_forgotten(
    driver: Driver,
) -> None:
    from chat2responses.call.replay import ReasoningCache
    from chat2responses.call.turn import Turn

    bodies: list[dict[str, Any]] = []

    async def strict(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        bodies.append(body)
        if any(item.get("type") == "reasoning" for item in body["input"]):
            error = {
                "message": "The encrypted content could not be verified.",
                "code": "invalid_encrypted_content",
                "param": "input[1]",
            }
            return web.json_response({"error": error}, status=400)
        return await sse_events(request, [ADDED, delta("ok"), COMPLETED])

    call_item = {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}
    reasoning = {"type": "reasoning", "summary": [], "encrypted_content": "from-elsewhere"}
    cache = ReasoningCache()
    cache.keep("cred", [reasoning, call_item])
    user = {"role": "user", "content": "hi"}
    body = {"model": "m", "input": [user, call_item]}
    async with upstream(strict) as url:
        the_job = job(url, Route.HTTP, body=body)
        the_job.turn = Turn(key="k", upstream=url, credential="cred", store=None, cache=cache)
        status, _, answer = await call(driver, the_job)
    assert status == 200 and text_of(answer) == "ok"
    assert [len(b["input"]) for b in bodies] == [3, 2]  # with the kept item, then without
    assert [t.failure for t in the_job.outcome.tried] == ["replay_refused", None]
    assert cache.replay("cred", [user, call_item])[1] == 0  # forgotten


# ---- the call starts at once; first bytes first -------------------------------------------------


async def test_the_call_starts_before_mitmproxys_request_arrives(driver: Driver) -> None:
    reached = asyncio.Event()

    async def noting(request: web.Request) -> web.StreamResponse:
        reached.set()
        return await sse_ok(request)

    async with upstream(noting) as url:
        token = driver.register(job(url, Route.HTTP))
        await asyncio.wait_for(reached.wait(), 2)  # nobody asked the driver yet
        assert driver.pending() == 1
        async with (
            ClientSession() as session,
            session.post(f"http://127.0.0.1:{driver.port}{PATH_PREFIX}{token}") as response,
        ):
            assert response.status == 200 and text_of(await response.read()) == "Hi"
    assert driver.pending() == 0


async def test_release_cancels_a_call_never_claimed_and_leaves_a_claimed_one(
    driver: Driver,
) -> None:
    closed = asyncio.Event()
    async with upstream(endless_upstream(closed)) as url:
        token = driver.register(job(url, Route.HTTP))
        await asyncio.sleep(0.05)
        driver.release(token)  # another addon answered the flow: the call is not needed
        await asyncio.wait_for(closed.wait(), 2)
        assert driver.pending() == 0

    async with upstream(sse_ok) as url:
        token = driver.register(job(url, Route.HTTP))
        async with (
            ClientSession() as session,
            session.post(f"http://127.0.0.1:{driver.port}{PATH_PREFIX}{token}") as response,
        ):
            driver.release(token)  # claimed: it answers to the end
            assert text_of(await response.read()) == "Hi"


@pytest.mark.parametrize("relayed_by_client", [True, False])
async def test_after_the_first_bytes_the_call_waits_for_the_relay_at_most_a_moment(
    driver: Driver, monkeypatch: pytest.MonkeyPatch, relayed_by_client: bool
) -> None:
    monkeypatch.setattr("chat2responses.transports.call.FIRST_RELAY_WAIT", 0.5)

    async def burst(request: web.Request) -> web.StreamResponse:
        return await sse_events(request, [ADDED, *(delta(str(i)) for i in range(50)), COMPLETED])

    async with upstream(burst) as url:
        the_job = job(url, Route.HTTP)
        the_job.relayed = Relayed()
        token = driver.register(the_job)
        started = asyncio.get_running_loop().time()
        async with (
            ClientSession() as session,
            session.post(f"http://127.0.0.1:{driver.port}{PATH_PREFIX}{token}") as response,
        ):
            body = await response.content.readany()
            if relayed_by_client:
                the_job.relayed.set()  # what the glue's stream callable does
            body += await response.read()
        took = asyncio.get_running_loop().time() - started
    assert text_of(body) == "".join(str(i) for i in range(50))
    if relayed_by_client:
        assert took < 0.4  # the relay's word let it read on
    else:
        assert 0.5 <= took < 2  # nobody said so: it read on after FIRST_RELAY_WAIT


async def test_reading_paused_pauses_only_a_reading_transport() -> None:
    ours, theirs = socket.socketpair()
    _, writer = await asyncio.open_connection(sock=ours)
    transport = writer.transport
    assert isinstance(transport, asyncio.Transport)
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


async def test_an_unclaimed_call_leaves_no_keepalive_write_behind(
    driver: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(driver_module, "JOB_TTL", 0.3)

    async def silent(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(5)
        return await sse_ok(request)

    async with upstream(silent) as url:
        the_job = job(url, Route.HTTP)
        the_job.keepalive = 0.05  # keep-alive writes wait for an exchange that never comes
        driver.register(the_job)
        await asyncio.sleep(0.6)
        assert driver.pending() == 0
        await asyncio.sleep(0.05)
        left = [t for t in asyncio.all_tasks() if "ClientAnswer" in repr(t.get_coro())]
        assert not left


async def test_a_keepalive_to_an_answer_mitmproxy_let_go_of_raises_nowhere() -> None:
    """The exchange is gone (mitmproxy's client left) when a keep-alive is due: the write's
    ConnectionResetError is the call's business, not an unhandled task error in the log."""
    from chat2responses.call.job import CallOutcome
    from chat2responses.transports.answer import ClientAnswer

    class GoneExchange:
        started = finished = False

        def start(self, status: int, headers: dict[str, str]) -> None:
            self.started = True

        async def write(self, data: bytes) -> None:
            raise ConnectionResetError("the loopback connection is closed")

        def abort(self) -> None:
            self.finished = True

    loop = asyncio.get_running_loop()
    unhandled: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: unhandled.append(context))
    try:
        answer = ClientAnswer(CallOutcome(), keepalive=0.02)
        answer.sink = ChatStreamSink(CTX, include_usage=False)
        answer.attach(GoneExchange())  # type: ignore[arg-type]
        answer.arm_keepalive()
        await asyncio.sleep(0.15)
        answer.stop_keepalive()
        answer.abandon()
        await asyncio.sleep(0)
        import gc

        gc.collect()  # a task whose exception nobody read reports it when it is collected
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(None)
    assert not unhandled, unhandled
