"""A scripted hostile Responses upstream on 127.0.0.1, for end-to-end fault tests.

    with hostile_upstream() as upstream:
        upstream.url                        # http://127.0.0.1:PORT/v1 (responses_url)
        marker(Fault.RESET)                 # "[hostile:reset]": put it in the user's text
        upstream.received                   # what arrived: transport, headers, body

It serves `POST /v1/responses` (SSE) and a WebSocket on the same path (`GET` + upgrade; several
`response.create` frames per socket, as the addon pools sockets). The behaviour of each request
is chosen by the first `[hostile:<fault>]` marker found anywhere in its body (no marker: a normal
answer). Every fault is deterministic:

| fault         | HTTP SSE                                   | WebSocket                        |
| ------------- | ------------------------------------------ | -------------------------------- |
| normal        | a whole answer (ANSWER_DELTAS)             | the same, as text frames         |
| garbage       | 200 text/event-stream, binary junk, EOF    | a text frame that is not JSON    |
| reset         | created + PARTIAL_DELTAS, then a TCP RST   | the same                         |
| stall_start   | created, then silence (connection open)    | the same                         |
| reset_start   | created, then a TCP RST (no output yet)    | the same                         |
| stall_delta   | created + PARTIAL_DELTAS, then silence     | the same                         |
| huge          | created, one 20 MB output_text.delta event | the same, as one 20 MB frame     |
| binary        | (normal)                                   | created, then a binary frame     |
| close_1011    | (normal)                                   | created, then close 1011         |
| close_mid     | (normal)                                   | created + PARTIAL_DELTAS, 1011   |
| error_status  | 500 with an OpenAI error body              | an `error` event (status 500)    |
| no_head       | no response headers at all (silence)       | (normal)                         |
| drip          | created, then a byte at a time, no event   | (normal)                         |
| redirect      | 307 to `redirect_to` (another origin)      | (normal)                         |
| echo          | 400 quoting the Authorization it got       | an `error` frame quoting it      |
| late_error    | created + PARTIAL_DELTAS, an `error` event | the same, a wrapped error frame  |
| advisory      | (normal)                                   | amid the deltas, an unknown error |
| big           | created, 3 deltas of 11 MiB, the end       | the same                         |
| surrogate     | 500 whose message holds a lone surrogate   | an `error` event (500), the same |

A "huge" answer that is accepted anyway ends with `response.completed`, so a proxy that lets it
through is seen succeeding. `refused_port()` holds a port bound but not listening: connecting to
it is refused, and no other process can take it meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from aiohttp import WSMsgType, web

PARTIAL_DELTAS = ("Hello", ", wor", "ld")
ANSWER_DELTAS = ("All ", "is ", "well.")
HUGE_DELTA_BYTES = 20 * 1024 * 1024
STALL_SECONDS = 60.0  # longer than any test waits; the handler is cancelled when the peer leaves
RESET_AFTER = 0.3  # seconds between the last delta and the reset: the delta reaches the proxy
_MARKER = re.compile(r"\[hostile:([a-z_0-9]+)\]")


class Fault(StrEnum):
    NORMAL = "normal"
    GARBAGE = "garbage"
    RESET = "reset"
    STALL_START = "stall_start"
    RESET_START = "reset_start"
    STALL_DELTA = "stall_delta"
    HUGE = "huge"
    BINARY = "binary"
    CLOSE_1011 = "close_1011"
    CLOSE_MID = "close_mid"
    ERROR_STATUS = "error_status"
    NO_HEAD = "no_head"
    DRIP = "drip"
    REDIRECT = "redirect"
    ECHO = "echo"
    LATE_ERROR = "late_error"
    ADVISORY = "advisory"
    BIG = "big"
    SURROGATE = "surrogate"


BIG_DELTA = "x" * (11 << 20)
LATE_ERROR = {"type": "server_error", "code": "server_error", "message": "hostile late error"}
ADVISORY = {"type": "hostile_notice", "code": "hostile_notice", "message": "just so you know"}


def marker(fault: Fault) -> str:
    return f"[hostile:{fault.value}]"


def fault_of(text: str) -> Fault:
    match = _MARKER.search(text)
    if match is None:
        return Fault.NORMAL
    try:
        return Fault(match.group(1))
    except ValueError:
        return Fault.NORMAL


@dataclass(frozen=True, slots=True)
class Received:
    """One request as it reached the upstream (a WebSocket gives one per `response.create`)."""

    transport: str  # "http" or "websocket"
    headers: dict[str, str]  # names lower-cased
    body: str


@dataclass
class HostileUpstream:
    port: int
    received: list[Received] = field(default_factory=list)
    redirect_to: str = "http://localhost:9/collect"  # where the redirect fault points

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The value for `responses_url`."""
        return self.origin + "/v1"

    def containing(self, needle: str) -> list[Received]:
        return [r for r in list(self.received) if needle in r.body]


# ---- events --------------------------------------------------------------------------------


class _Script:
    """The events of one scripted response, numbered in sequence."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.model = body.get("model") if isinstance(body.get("model"), str) else "hostile"
        self.sequence = 0
        self.text = ""

    def _event(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"type": kind, **fields, "sequence_number": self.sequence}
        self.sequence += 1
        return event

    def _response(self, status: str, output: list[Any]) -> dict[str, Any]:
        usage = (
            {
                "input_tokens": 5,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": 3,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": 8,
            }
            if status == "completed"
            else None
        )
        return {
            "id": "resp_hostile",
            "object": "response",
            "created_at": 1700000000,
            "status": status,
            "model": self.model,
            "output": output,
            "usage": usage,
            "error": None,
            "incomplete_details": None,
        }

    def start(self) -> list[dict[str, Any]]:
        item = {"id": "msg_h", "type": "message", "role": "assistant", "status": "in_progress"}
        return [
            self._event("response.created", response=self._response("in_progress", [])),
            self._event("response.output_item.added", output_index=0, item=item | {"content": []}),
            self._event(
                "response.content_part.added",
                item_id="msg_h",
                output_index=0,
                content_index=0,
                part={"type": "output_text", "text": "", "annotations": []},
            ),
        ]

    def delta(self, text: str) -> dict[str, Any]:
        self.text += text
        return self._event(
            "response.output_text.delta",
            item_id="msg_h",
            output_index=0,
            content_index=0,
            delta=text,
            logprobs=[],
        )

    def big_delta(self) -> dict[str, Any]:
        """One 11 MiB delta, not kept in the text the end repeats."""
        return self._event(
            "response.output_text.delta",
            item_id="msg_h",
            output_index=0,
            content_index=0,
            delta=BIG_DELTA,
            logprobs=[],
        )

    def error(self, **fields: Any) -> dict[str, Any]:
        """An `error` event in the HTTP SSE shape (OpenAI's ResponseErrorEvent)."""
        return self._event("error", param=None, **fields)

    def end(self) -> list[dict[str, Any]]:
        part = {"type": "output_text", "text": self.text, "annotations": []}
        where = {"item_id": "msg_h", "output_index": 0, "content_index": 0}
        item = {
            "id": "msg_h",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [part],
        }
        return [
            self._event("response.output_text.done", **where, text=self.text, logprobs=[]),
            self._event("response.content_part.done", **where, part=part),
            self._event("response.output_item.done", output_index=0, item=item),
            self._event("response.completed", response=self._response("completed", [item])),
        ]


def _json(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"))


def _sse(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {_json(event)}\n\n".encode()


_HUGE_TEXT = "x" * HUGE_DELTA_BYTES


def _huge_event(script: _Script) -> str:
    """One `output_text.delta` whose delta is HUGE_DELTA_BYTES of text."""
    return _json(script.delta(_HUGE_TEXT))


GARBAGE_SSE = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\xfd"
    + bytes(range(256)) * 8
    + b"\ndata: {this is not json\xff\xc3\x28\n\n"
    + b"\x00" * 512
)
GARBAGE_FRAME = "\x00\x01 <html><body>502 Bad Gateway</body></html> {not json"
# A lone surrogate, as JSON's escape carries it: the message can be parsed but not printed.
SURROGATE_BODY = {"error": {"message": "bad \ud800 thing", "type": "server_error", "code": None}}
ERROR_BODY = {
    "error": {
        "message": "the hostile upstream failed on purpose",
        "type": "server_error",
        "param": None,
        "code": "hostile_failure",
    }
}


def _reset(transport: asyncio.BaseTransport | None) -> None:
    """Abort the connection with a TCP RST (SO_LINGER 0), not a FIN."""
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()  # type: ignore[attr-defined]


# ---- HTTP ----------------------------------------------------------------------------------


async def _http(upstream: HostileUpstream, request: web.Request) -> web.StreamResponse:
    raw = await request.text()
    headers = {k.lower(): v for k, v in request.headers.items()}
    upstream.received.append(Received("http", headers, raw))
    fault = fault_of(raw)
    try:
        body = json.loads(raw)
    except ValueError:
        body = {}
    script = _Script(body if isinstance(body, dict) else {})
    if fault is Fault.ERROR_STATUS:
        return web.json_response(ERROR_BODY, status=500)
    if fault is Fault.SURROGATE:
        return web.json_response(SURROGATE_BODY, status=500)
    if fault is Fault.NO_HEAD:
        await asyncio.sleep(STALL_SECONDS)
    if fault is Fault.REDIRECT:
        return web.Response(status=307, headers={"location": upstream.redirect_to})
    if fault is Fault.ECHO:
        echoed = f"bad credentials: {headers.get('authorization')}"
        return web.json_response({"error": {"message": echoed, "type": "x"}}, status=400)
    transport = request.transport
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    with contextlib.suppress(ConnectionError, asyncio.CancelledError):
        await _http_script(response, script, fault, transport)
    return response


async def _http_script(
    response: web.StreamResponse,
    script: _Script,
    fault: Fault,
    transport: asyncio.BaseTransport | None,
) -> None:
    if fault is Fault.GARBAGE:
        await response.write(GARBAGE_SSE)
        await response.write_eof()
        return
    start = script.start()
    if fault is Fault.STALL_START:
        await response.write(_sse(start[0]))
        await asyncio.sleep(STALL_SECONDS)
        return
    if fault is Fault.RESET_START:
        await response.write(_sse(start[0]))
        await asyncio.sleep(RESET_AFTER)
        _reset(transport)
        return
    if fault is Fault.DRIP:
        await response.write(_sse(start[0]) + b"data: ")
        for _ in range(int(STALL_SECONDS / 0.2)):
            await response.write(b" ")
            await asyncio.sleep(0.2)
        return
    await response.write(b"".join(_sse(e) for e in start))
    if fault is Fault.BIG:
        for _ in range(3):
            await response.write(_sse(script.big_delta()))
        await response.write(b"".join(_sse(e) for e in script.end()))
        await response.write_eof()
        return
    if fault is Fault.HUGE:
        data = _huge_event(script)
        await response.write(b"event: response.output_text.delta\ndata: ")
        step = 1 << 20
        for i in range(0, len(data), step):
            await response.write(data[i : i + step].encode())
        await response.write(b"\n\n" + b"".join(_sse(e) for e in script.end()))
        await response.write_eof()
        return
    partial = fault in (Fault.RESET, Fault.STALL_DELTA, Fault.LATE_ERROR)
    deltas = PARTIAL_DELTAS if partial else ANSWER_DELTAS
    for text in deltas:
        await response.write(_sse(script.delta(text)))
    if fault is Fault.LATE_ERROR:
        await response.write(_sse(script.error(code="server_error", message=LATE_ERROR["message"])))
        await response.write_eof()
        return
    if fault is Fault.RESET:
        await asyncio.sleep(RESET_AFTER)
        _reset(transport)
        return
    if fault is Fault.STALL_DELTA:
        await asyncio.sleep(STALL_SECONDS)
        return
    await response.write(b"".join(_sse(e) for e in script.end()))
    await response.write_eof()


# ---- WebSocket -----------------------------------------------------------------------------


async def _websocket(upstream: HostileUpstream, request: web.Request) -> web.StreamResponse:
    headers = {k.lower(): v for k, v in request.headers.items()}
    transport = request.transport
    # No permessage-deflate: compressing a 20 MB frame would hold this event loop for seconds,
    # and every other scripted answer (the stalls' timing included) with it.
    ws = web.WebSocketResponse(max_msg_size=0, compress=False)
    await ws.prepare(request)
    with contextlib.suppress(ConnectionError, asyncio.CancelledError):
        async for message in ws:
            if message.type is not WSMsgType.TEXT:
                break
            upstream.received.append(Received("websocket", headers, message.data))
            try:
                body = json.loads(message.data)
            except ValueError:
                body = {}
            script = _Script(body if isinstance(body, dict) else {})
            fault = fault_of(message.data)
            if fault is Fault.ECHO:
                echoed = f"bad credentials: {headers.get('authorization')}"
                error = {"type": "invalid_request_error", "code": None, "message": echoed}
                await ws.send_str(_json({"type": "error", "status": 400, "error": error}))
                continue
            if not await _ws_script(ws, script, fault, transport):
                break
    return ws


async def _ws_script(
    ws: web.WebSocketResponse,
    script: _Script,
    fault: Fault,
    transport: asyncio.BaseTransport | None,
) -> bool:
    """Play one response; False when the socket is done for (closed, reset or stalled)."""
    if fault is Fault.GARBAGE:
        await ws.send_str(GARBAGE_FRAME)
        await _silence(ws)
        return False
    if fault in (Fault.ERROR_STATUS, Fault.SURROGATE):
        shown = ERROR_BODY if fault is Fault.ERROR_STATUS else SURROGATE_BODY
        error = {"type": "error", "status": 500, "error": shown["error"]}
        await ws.send_str(_json(error))
        await _silence(ws)
        return False
    start = script.start()
    await ws.send_str(_json(start[0]))
    if fault is Fault.STALL_START:
        await _silence(ws)
        return False
    if fault is Fault.RESET_START:
        await asyncio.sleep(RESET_AFTER)
        _reset(transport)
        return False
    if fault is Fault.BINARY:
        await ws.send_bytes(b"\x00\x01\x02binary\xff")
        await _silence(ws)
        return False
    if fault is Fault.CLOSE_1011:
        await ws.close(code=1011, message=b"hostile internal error")
        return False
    for event in start[1:]:
        await ws.send_str(_json(event))
    if fault is Fault.BIG:
        for _ in range(3):
            await ws.send_str(_json(script.big_delta()))
        for event in script.end():
            await ws.send_str(_json(event))
        return True
    if fault is Fault.ADVISORY:
        await ws.send_str(_json(script.delta(ANSWER_DELTAS[0])))
        await ws.send_str(_json({"type": "error", "error": ADVISORY}))
        for text in ANSWER_DELTAS[1:]:
            await ws.send_str(_json(script.delta(text)))
        for event in script.end():
            await ws.send_str(_json(event))
        return True
    if fault is Fault.HUGE:
        await ws.send_str(_huge_event(script))
        for event in script.end():
            await ws.send_str(_json(event))
        return True
    partial = fault in (Fault.RESET, Fault.STALL_DELTA, Fault.CLOSE_MID, Fault.LATE_ERROR)
    for text in PARTIAL_DELTAS if partial else ANSWER_DELTAS:
        await ws.send_str(_json(script.delta(text)))
    if fault is Fault.LATE_ERROR:
        await ws.send_str(_json({"type": "error", "status": 500, "error": LATE_ERROR}))
        await _silence(ws)
        return False
    if fault is Fault.RESET:
        await asyncio.sleep(RESET_AFTER)
        _reset(transport)
        return False
    if fault is Fault.STALL_DELTA:
        await _silence(ws)
        return False
    if fault is Fault.CLOSE_MID:
        await asyncio.sleep(RESET_AFTER)
        await ws.close(code=1011, message=b"hostile internal error")
        return False
    for event in script.end():
        await ws.send_str(_json(event))
    return True


async def _silence(ws: web.WebSocketResponse) -> None:
    """Say nothing more; keep the socket open until the peer closes it (or STALL_SECONDS)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(STALL_SECONDS):
            while True:
                message = await ws.receive()
                if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.ERROR):
                    return


# ---- serving -------------------------------------------------------------------------------


async def _responses(upstream: HostileUpstream, request: web.Request) -> web.StreamResponse:
    if request.method == "GET" and request.headers.get("upgrade", "").lower() == "websocket":
        return await _websocket(upstream, request)
    if request.method == "POST":
        return await _http(upstream, request)
    return web.json_response(ERROR_BODY, status=405)


@contextlib.contextmanager
def hostile_upstream() -> Iterator[HostileUpstream]:
    """Serve a `HostileUpstream` from a background thread's event loop until the block ends."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True, name="hostile-upstream")
    thread.start()
    upstream = HostileUpstream(port=0)

    async def handle(request: web.Request) -> web.StreamResponse:
        return await _responses(upstream, request)

    async def start() -> web.AppRunner:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/v1/responses", handle)
        runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5
        )
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        upstream.port = runner.addresses[0][1]
        return runner

    runner = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    try:
        yield upstream
    finally:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@contextlib.contextmanager
def refused_port() -> Iterator[int]:
    """A 127.0.0.1 port bound but not listening: every connection to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]
