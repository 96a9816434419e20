"""A client's Responses WebSocket, served: each `response.create` frame becomes one call, run like
a `POST …/responses`, whose events go back as frames.

The glue registers a `SocketSession` for each client upgrade it takes over (its `plan` turns a
frame into a call, as the glue plans a POST; `ended` reports each call when it is over), and the
driver hands `serve` the socket mitmproxy opens for it (websocket/server.py).

Rule 1: one response at a time, in the order the frames came (§4.4 "processes responses
        sequentially"): the next frame is read once the call before it has ended.
Rule 2: a frame that cannot be served (protocol/client_frames.py), or a request plan_call refuses,
        gets one error frame, and the socket stays open.
Rule 3: the client leaving (mitmproxy closes the socket) cancels the call in flight, which closes
        its upstream; a call that ends the socket's stream early (the proxy stopping) closes it.
Rule 4: a call's answer goes out as it comes: each line the frame sink writes is one text frame
        (`FrameExchange`, the WebSocket's counterpart of loopback.Exchange).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from chat2responses.call.job import CallJob
from chat2responses.protocol.client_frames import Acknowledged, Create, error_frame_text, read_frame
from chat2responses.protocol.errors import ProxyError, UpstreamError
from chat2responses.transports.call import UpstreamCall

logger = logging.getLogger(__name__)


class FrameSocket(Protocol):
    async def recv(self) -> str | bytes | None: ...
    async def send(self, text: str) -> None: ...
    async def closed(self) -> None: ...
    async def close(self, code: int = 1000) -> None: ...


@dataclass(frozen=True, slots=True)
class SocketSession:
    """What the glue gives the driver for one client socket."""

    plan: Callable[[Create], CallJob | None]  # raises ProxyError for a request it refuses
    ended: Callable[[CallJob, float], None]  # a call is over (its start, monotonic)


class FrameExchange:
    """One call's answer on the client's socket: what loopback.Exchange is to an HTTP answer."""

    def __init__(self, socket: FrameSocket) -> None:
        self._socket = socket
        self.started = False
        self.finished = False
        self.on_lost: Callable[[], None] | None = None
        self._last: list[str] = []  # the end, sent once the call has returned (`flush`)

    def start(self, status: int, headers: Mapping[str, str]) -> None:
        self.started = True  # a WebSocket answer has no head of its own

    async def write(self, data: bytes) -> None:
        for line in _lines(data):
            await self._socket.send(line)

    def end(self, last: bytes = b"") -> None:
        self._last += _lines(last)
        self.finished = True

    def respond(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        """A whole answer: on a WebSocket, only an error can come this way (the frame sink puts
        every other answer in frames): its error frame."""
        try:
            error = json.loads(body)["error"]
        except (ValueError, KeyError, TypeError):
            error = {"message": body.decode("utf-8", "replace"), "type": "server_error"}
        self._last.append(json.dumps({"type": "error", "status": status, "error": error}))
        self.started = self.finished = True

    def abort(self) -> None:
        self.finished = True

    async def flush(self) -> None:
        last, self._last = self._last, []
        for line in last:
            await self._socket.send(line)


def _lines(data: bytes) -> list[str]:
    return [line.decode() for line in data.split(b"\n") if line]


# Starts a call (the driver's: it keeps it for `stop_calls`): the call and its running task.
Launch = Callable[[CallJob], tuple[UpstreamCall, "asyncio.Task[None]"]]


async def serve(socket: FrameSocket, session: SocketSession, launch: Launch) -> None:
    """Serve `socket` until the client leaves (rules 1-3)."""
    with contextlib.suppress(ConnectionResetError):
        while (data := await socket.recv()) is not None:
            job = await _planned(socket, session, data)
            if job is not None and not await _answered(socket, session, job, launch):
                return


async def _planned(
    socket: FrameSocket, session: SocketSession, data: str | bytes
) -> CallJob | None:
    """The call a frame asks for, or None after answering it with an error frame (rule 2)."""
    try:
        frame = read_frame(data)
        if isinstance(frame, Acknowledged):
            return None
        job = session.plan(frame)
        if job is None:
            raise UpstreamError("this request is not one chat2responses serves", status=400)
        return job
    except ProxyError as err:
        await socket.send(error_frame_text(err))
    except Exception as exc:  # a bug: the client still hears of it, and the socket stays
        logger.exception("chat2responses: planning a WebSocket request failed")
        await socket.send(error_frame_text(ProxyError(f"chat2responses internal error: {exc}")))
    return None


async def _answered(
    socket: FrameSocket,
    session: SocketSession,
    job: CallJob,
    launch: Launch,
) -> bool:
    """Run one call to its end (rule 3); False once the client has gone."""
    started = time.monotonic()
    call, running = launch(job)
    exchange = FrameExchange(socket)
    call.answer.attach(exchange)
    leaving = asyncio.ensure_future(socket.closed())
    try:
        done, _ = await asyncio.wait({running, leaving}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (running, leaving):
            task.cancel()
        await asyncio.gather(running, leaving, return_exceptions=True)
        session.ended(job, started)
    if running not in done:
        return False  # rule 3: the call was cancelled, its upstream closed
    await exchange.flush()
    return True
