"""The call runner (transports/call.py) carrying out the machine's commands, against an in-process
fake upstream and a fake exchange: no socket, no clock. What the machine decides is
tests/call/test_machine.py's; here, that the runner does it, in order."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from chat2responses.call.job import CallJob
from chat2responses.call.policy import Route
from chat2responses.protocol.errors import ProxyError, UpstreamError
from chat2responses.transports.call import UpstreamCall
from chat2responses.transports.websocket import WebSocketPool
from tests.call.test_machine import ANSWER, CREATED, job
from tests.events_helpers import ADDED, delta
from tests.transports.fakes import FakeExchange, FakeUpstream, Step


def retryable(status: int = 503) -> UpstreamError:
    """A 5xx whose retry-after-ms of 0 makes the retry's wait nothing."""
    return UpstreamError("busy", status=status, headers={"retry-after-ms": "0"})


def runner(the_job: CallJob, attempts: list[list[Step]]) -> tuple[UpstreamCall, FakeUpstream]:
    upstream = FakeUpstream(attempts)
    call = UpstreamCall(the_job, lambda: None, WebSocketPool(), connect=upstream)  # type: ignore[arg-type, return-value]
    return call, upstream


async def run(the_job: CallJob, attempts: list[list[Step]]) -> tuple[FakeExchange, FakeUpstream]:
    call, upstream = runner(the_job, attempts)
    exchange = FakeExchange()
    call.answer.attach(exchange)  # type: ignore[arg-type]
    await call.run()
    return exchange, upstream


async def test_a_stream_goes_to_the_exchange_head_first_and_ends_once() -> None:
    the_job = job()
    exchange, upstream = await run(the_job, [ANSWER])
    assert exchange.status == 200 and exchange.headers["content-type"].startswith("text/event")
    assert exchange.log[0] == "head" and exchange.log.count("end") == 1
    assert b'"Hi"' in exchange.body and exchange.body.endswith(b"data: [DONE]\n\n")
    assert upstream.log == ["open 0", "drain", "close 0"]
    times = the_job.times
    assert times.sent is not None and times.first_event is not None
    assert times.first_byte is not None and times.sent <= times.first_event <= times.first_byte


async def test_a_json_client_gets_one_response_and_the_error_keeps_its_status() -> None:
    exchange, _ = await run(job(stream=False), [ANSWER])
    assert exchange.log == ["respond"] and exchange.status == 200
    assert json.loads(exchange.body)["choices"][0]["message"]["content"] == "Hi"
    exchange, _ = await run(job(stream=False, retries=0), [[UpstreamError("no", status=418)]])
    assert exchange.log == ["respond"] and exchange.status == 418
    assert json.loads(exchange.body)["error"]["message"] == "no"


async def test_a_failed_attempt_is_closed_before_the_next_one_opens() -> None:
    _, upstream = await run(job(), [[CREATED, retryable()], ANSWER])
    assert upstream.log == ["open 0", "close 0", "open 1", "drain", "close 1"]


async def test_the_answers_end_goes_out_before_the_rest_is_drained() -> None:
    """Rule 3: mitmproxy may end the flow as soon as it relayed the end; by then the outcome is
    final."""
    the_job = job()
    call, upstream = runner(the_job, [ANSWER])
    exchange = FakeExchange()
    call.answer.attach(exchange)  # type: ignore[arg-type]
    seen: list[tuple[bool, int | None]] = []
    original = upstream._connect

    def watching(*args: Any) -> Any:
        context = original(*args)

        class Watch:
            async def __aenter__(self) -> Any:
                events = await context.__aenter__()
                drain = events.drain

                async def drained() -> None:
                    seen.append((exchange.finished, the_job.outcome.status))
                    await drain()

                events.drain = drained
                return events

            async def __aexit__(self, *exc: Any) -> Any:
                return await context.__aexit__(*exc)

        return Watch()

    upstream._connect = watching  # type: ignore[method-assign]
    await call.run()
    assert seen == [(True, 200)]


async def test_a_stopped_answer_reads_on_for_its_usage_then_drains() -> None:
    words = [ADDED, delta("Hi there"), *ANSWER[3:]]
    exchange, upstream = await run(job(stop=("i",)), [words])
    assert upstream.log == ["open 0", "drain", "close 0"]
    assert exchange.finished and exchange.body.endswith(b"data: [DONE]\n\n")


async def test_a_stopped_answer_whose_usage_never_comes_closes_the_upstream(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Machine rule 7: the wait for the usage is bounded; then the answer ends, the upstream is
    closed, not drained."""
    monkeypatch.setattr("chat2responses.call.machine.LINGER", 0.01)
    call, upstream = runner(job(stop=("i",)), [[ADDED, delta("Hi there"), asyncio.Event()]])
    exchange = FakeExchange()
    call.answer.attach(exchange)  # type: ignore[arg-type]
    await asyncio.wait_for(call.run(), 10)
    assert upstream.log == ["open 0", "close 0"]
    assert exchange.finished and exchange.body.endswith(b"data: [DONE]\n\n")


async def test_after_the_first_bytes_reading_waits_for_the_relay() -> None:
    """Rule 2: the upstream's socket is paused after the first write until mitmproxy relayed it
    (or a moment passed), once per call."""
    the_job = job()
    waits: list[float] = []

    class Signal:
        def set(self) -> None: ...

        def is_set(self) -> bool:
            return False

        async def wait(self, seconds: float) -> None:
            waits.append(seconds)
            events = upstream.events[0]
            assert not events.fake_transport.reading  # paused while waiting

    the_job.relayed = Signal()
    call, upstream = runner(the_job, [[ADDED, delta("H"), delta("i"), *ANSWER[3:]]])
    call.answer.attach(FakeExchange())  # type: ignore[arg-type]
    await call.run()
    assert len(waits) == 1
    assert upstream.events[0].fake_transport.log == ["pause", "resume"]


async def test_the_login_speaks_between_the_clients_headers_and_the_conversations() -> None:
    class Login:
        def __init__(self) -> None:
            self.refreshed: list[str] = []

        async def headers(self) -> dict[str, str]:
            return {"authorization": "Bearer tok-1", "session_id": "per-process"}

        async def refresh_after_401(self, rejected: str) -> dict[str, str]:
            self.refreshed.append(rejected)
            return {"authorization": "Bearer tok-2", "session_id": "per-process"}

    the_job = job(login=True)
    the_job.login = login = Login()
    the_job.session_headers = {"session_id": "conversation"}
    exchange, upstream = await run(the_job, [[UpstreamError("expired", status=401)], ANSWER])
    sent = [headers for _, headers in upstream.opened]
    assert [h["authorization"] for h in sent] == ["Bearer tok-1", "Bearer tok-2"]
    assert all(h["session_id"] == "conversation" for h in sent)
    assert login.refreshed == ["tok-1"] and exchange.status == 200
    assert the_job.outcome.headers["authorization"] == "<redacted>"


async def test_a_login_that_fails_is_the_calls_answer() -> None:
    class NoLogin:
        async def headers(self) -> dict[str, str]:
            raise ProxyError("no Codex login", status=401, code="codex_login_missing")

        async def refresh_after_401(self, rejected: str) -> dict[str, str]:
            raise AssertionError("not asked")

    the_job = job(login=True)
    the_job.login = NoLogin()
    exchange, upstream = await run(the_job, [])
    assert exchange.status == 401 and upstream.opened == []
    assert json.loads(exchange.body)["error"]["code"] == "codex_login_missing"


@pytest.mark.parametrize("after_output", [False, True])
async def test_stopping_ends_the_answer_with_the_error_as_far_as_it_got(after_output: bool) -> None:
    hold = asyncio.Event()
    steps: list[Step] = [ADDED, delta("Hi"), hold] if after_output else [CREATED, hold]
    call, upstream = runner(job(), [steps])
    exchange = FakeExchange()
    call.answer.attach(exchange)  # type: ignore[arg-type]
    task = asyncio.create_task(call.run())
    await upstream.holding.wait()
    call.stopping = ProxyError("stopping now", status=503, code="proxy_stopping")
    task.cancel()
    await task
    assert exchange.finished and upstream.log[-1] == "close 0"
    if after_output:
        assert exchange.status == 200 and b"proxy_stopping" in exchange.body.split(b"\n\n")[-2]
    else:
        assert exchange.status == 503 and json.loads(exchange.body)["error"]["code"] == (
            "proxy_stopping"
        )


async def test_a_bug_still_ends_in_an_openai_error() -> None:
    def explode(*args: Any) -> Any:
        raise RuntimeError("a bug")

    the_job = job(retries=0)
    call, _ = runner(the_job, [])
    call._connect = explode  # type: ignore[assignment]
    exchange = FakeExchange()
    call.answer.attach(exchange)  # type: ignore[arg-type]
    await call.run()
    assert exchange.status == 500
    assert "chat2responses internal error: a bug" in json.loads(exchange.body)["error"]["message"]


async def test_the_client_leaving_mid_stream_closes_the_upstream_quietly() -> None:
    call, upstream = runner(job(), [[ADDED, delta("H"), delta("i"), *ANSWER[3:]]])
    exchange = FakeExchange()
    exchange.gone = True
    call.answer.attach(exchange)  # type: ignore[arg-type]
    await call.run()
    assert upstream.log == ["open 0", "close 0"] and exchange.aborted


async def test_a_websocket_attempt_sends_the_frame_and_the_routes_headers() -> None:
    the_job = job(Route.WEBSOCKET)
    _, upstream = await run(the_job, [ANSWER])
    command, _headers = upstream.opened[0]
    assert json.loads(command.payload)["type"] == "response.create"
