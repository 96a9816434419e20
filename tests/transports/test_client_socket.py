"""A client's Responses WebSocket served (transports/client_socket.py), on an in-process fake
socket and the fake upstream: frames in, calls run one at a time, frames out."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from chat2responses.call.job import CallJob
from chat2responses.protocol.client_frames import Create
from chat2responses.protocol.errors import ClientError
from chat2responses.response.responses_sinks import ResponsesFrameSink
from chat2responses.transports.call import UpstreamCall
from chat2responses.transports.client_socket import SocketSession, serve
from chat2responses.transports.websocket import WebSocketPool
from chat2responses.upstream.routing import CallKind
from tests.call.test_machine import ANSWER, job
from tests.transports.fakes import FakeUpstream, Step


class FakeSocket:
    """The client's socket, as mitmproxy relays it: frames the test queues, frames sent back."""

    def __init__(self, *frames: str | bytes) -> None:
        self.incoming: asyncio.Queue[str | bytes | None] = asyncio.Queue()
        for frame in frames:
            self.incoming.put_nowait(frame)
        self.sent: list[dict[str, Any]] = []
        self.gone = asyncio.Event()

    def leave(self) -> None:
        self.gone.set()
        self.incoming.put_nowait(None)

    def end(self) -> None:
        self.incoming.put_nowait(None)

    async def recv(self) -> str | bytes | None:
        return await self.incoming.get()

    async def send(self, text: str) -> None:
        if self.gone.is_set():
            raise ConnectionResetError("gone")
        self.sent.append(json.loads(text))

    async def closed(self) -> None:
        await self.gone.wait()

    async def close(self, code: int = 1000) -> None:
        self.gone.set()

    def types(self) -> list[str]:
        return [frame["type"] for frame in self.sent]


def create(text: str = "hi") -> str:
    return json.dumps({"type": "response.create", "model": "gpt-5.5", "input": text})


class Harness:
    """A session whose plan makes a frame-answering job, on one fake upstream."""

    def __init__(
        self, attempts: list[list[Step]], refuse: Callable[[Create], bool] = lambda f: False
    ):
        self.upstream = FakeUpstream(attempts)
        self.planned: list[Create] = []
        self.ended: list[CallJob] = []
        self.calls: list[UpstreamCall] = []
        self._refuse = refuse

    def plan(self, frame: Create) -> CallJob:
        if self._refuse(frame):
            raise ClientError("not that one", param="input")
        self.planned.append(frame)
        the_job = job(kind=CallKind.RESPONSES, retries=0)
        the_job.make_sink = ResponsesFrameSink
        return the_job

    def launch(self, the_job: CallJob) -> tuple[UpstreamCall, asyncio.Task[None]]:
        call = UpstreamCall(the_job, lambda: None, WebSocketPool(), connect=self.upstream)  # type: ignore[arg-type, return-value]
        self.calls.append(call)
        return call, asyncio.ensure_future(call.run())

    def session(self) -> SocketSession:
        return SocketSession(self.plan, lambda j, started: self.ended.append(j))

    async def serve(self, socket: FakeSocket) -> None:
        async with asyncio.timeout(5):
            await serve(socket, self.session(), self.launch)


async def test_each_create_is_a_call_whose_events_are_frames_one_after_another() -> None:
    harness = Harness([ANSWER, ANSWER])
    socket = FakeSocket(create("one"), create("two"))
    socket.end()
    await harness.serve(socket)
    assert [f.body["input"] for f in harness.planned] == ["one", "two"]
    answer = [event["type"] for event in ANSWER]
    assert socket.types() == answer + answer
    assert len(harness.ended) == 2
    assert harness.upstream.log == ["open 0", "drain", "close 0", "open 1", "drain", "close 1"]


async def test_a_bad_frame_or_a_refused_request_is_an_error_frame_and_the_socket_stays() -> None:
    harness = Harness([ANSWER], refuse=lambda frame: frame.body["input"] == "no")
    socket = FakeSocket(b"binary", "not json", '{"type": "response.processed"}', create("no"),
                        create("yes"))  # fmt: skip
    socket.end()
    await harness.serve(socket)
    errors = [frame for frame in socket.sent if frame["type"] == "error"]
    assert [(e["status"], e["error"]["param"]) for e in errors] == [
        (400, "type"),
        (400, None),
        (400, "input"),
    ]
    assert socket.types()[3:] == [event["type"] for event in ANSWER]  # then answered


async def test_a_failed_call_is_an_error_frame_and_the_next_one_is_served() -> None:
    harness = Harness([[ClientError("refused upstream")], ANSWER])
    socket = FakeSocket(create("one"), create("two"))
    socket.end()
    await harness.serve(socket)
    assert socket.sent[0]["type"] == "error" and socket.sent[0]["status"] == 400
    assert socket.types()[1:] == [event["type"] for event in ANSWER]


async def test_the_client_leaving_cancels_the_call_and_closes_its_upstream() -> None:
    hold = asyncio.Event()
    harness = Harness([[ANSWER[0], hold, *ANSWER[1:]]])
    socket = FakeSocket(create())
    serving = asyncio.ensure_future(harness.serve(socket))
    async with asyncio.timeout(5):
        await harness.upstream.holding.wait()
    socket.leave()
    await serving
    assert harness.upstream.log == ["open 0", "close 0"]
    assert harness.calls[0].machine.ended is False  # cut short: nobody to answer
    assert len(harness.ended) == 1
