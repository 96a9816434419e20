"""The emulator's WebSocket front end (aiohttp): `GET …/responses` with an Upgrade.

A handshake is refused with 401 under `--require-login` without a valid Bearer (login.py), with
426 and an OpenAI error body when `session.handshake_refusal` says so (the `--refuse-websocket`
switch, or the `x-emulator-refuse-websocket: 1` header); a plain GET gets 400. An accepted one
waits the latency model's RTT and answers 101 with the quota headers (quota.py). Then one
`WebSocketSession` per connection decides what each frame gets, and this module only moves
frames:
- a reader keeps receiving, so pings are answered and a client that leaves is noticed even while
  a response streams; it queues text and binary frames (at most `MAX_QUEUED_FRAMES`, then it waits);
- a worker answers the queued frames one at a time, in order (session.py, Rule 1): `Emit` is one
  text frame, `Sleep` a pause, `Drop` closes the TCP connection with no close frame, so the client
  sees an abnormal closure (1006) and no terminal event, `Close` sends a close frame with its
  code (1009, or 1000 at the connection's age limit) and ends the connection.

Logs one line per frame once it is answered (kind, model, outcome); never logs headers (they
carry Authorization).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import WSMsgType, web

from chat2responses.emulator.backend import Emulator
from chat2responses.emulator.catalog_rules import client_version
from chat2responses.emulator.rules import Rejection
from chat2responses.emulator.session import (
    NOT_AN_UPGRADE,
    REFUSE_HEADER,
    WebSocketSession,
    handshake_refusal,
)
from chat2responses.emulator.signing import credential_digest
from chat2responses.emulator.steps import Close, Drop, Emit, Headers, Reject, Sleep, Step

log = logging.getLogger(__name__)

# Frames a client may send ahead of the response in flight before the reader stops reading.
MAX_QUEUED_FRAMES = 16

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Frames = asyncio.Queue[tuple[WSMsgType, str | bytes]]


def websocket_handler(emulator: Emulator, max_message_bytes: int) -> Handler:
    """The aiohttp handler serving `emulator` over WebSocket; frames up to `max_message_bytes`."""

    async def handle(request: web.Request) -> web.StreamResponse:
        return await _serve(request, emulator, max_message_bytes)

    return handle


async def _serve(request: web.Request, emulator: Emulator, max_bytes: int) -> web.StreamResponse:
    refusal = emulator.check_login(request.headers.get("authorization"))
    if refusal is None:
        refusal = handshake_refusal(emulator.config, request.headers.get(REFUSE_HEADER))
    if refusal is not None:
        log.info("WebSocket handshake -> %d", refusal.status)
        return _refuse(refusal)
    ws = web.WebSocketResponse(max_msg_size=max_bytes)
    if not ws.can_prepare(request).ok:
        return _refuse(NOT_AN_UPGRADE)
    ws.headers.update(emulator.quota_headers())
    if emulator.config.latency.rtt > 0:
        await asyncio.sleep(emulator.config.latency.rtt)
    await ws.prepare(request)
    emulator.stats.websocket_connections += 1
    session = WebSocketSession(
        emulator,
        credential=credential_digest(request.headers),
        client_version=client_version(request.headers),
    )
    frames: Frames = asyncio.Queue(MAX_QUEUED_FRAMES)
    tasks = {
        asyncio.create_task(_read(ws, frames)),
        asyncio.create_task(_answer(ws, request, session, frames)),
    }
    try:
        # The client closed (reader done), or the worker dropped the connection.
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        with contextlib.suppress(ConnectionResetError):  # the client left mid-stream
            task.result()  # a bug in either task surfaces here, not silently
    return ws


def _refuse(rejection: Rejection) -> web.Response:
    return web.json_response(
        rejection.http_body(), status=rejection.status, headers=dict(rejection.headers)
    )


async def _read(ws: web.WebSocketResponse, frames: Frames) -> None:
    async for message in ws:  # ends at the close handshake or EOF; pings answered inside
        if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
            await frames.put((message.type, message.data))


async def _answer(
    ws: web.WebSocketResponse, request: web.Request, session: WebSocketSession, frames: Frames
) -> None:
    while True:
        kind, data = await frames.get()
        if kind is WSMsgType.TEXT and isinstance(data, str):
            reply = session.receive_text(data)
        else:
            reply = session.receive_binary()
        try:
            connected = await _perform(ws, request, reply.frames())
        except (ConnectionResetError, asyncio.CancelledError):
            log.info(
                "WebSocket %s -> stopped mid-stream (client gone or server stopping)", reply.what
            )
            raise
        session.settle()  # after the last frame went out: in no answer's way
        log.info("WebSocket %s -> %s", reply.what, reply.outcome)
        if not connected:
            return


async def _perform(ws: web.WebSocketResponse, request: web.Request, steps: Iterable[Step]) -> bool:
    """Run `steps`; False once the connection is dropped or closed."""
    for step in steps:
        match step:
            case Emit(event):
                await ws.send_str(json.dumps(event, ensure_ascii=False, separators=(",", ":")))
            case Sleep(seconds):
                await asyncio.sleep(seconds)
            case Drop():
                if request.transport is not None:
                    request.transport.close()  # frames already written still flush
                return False
            case Close(code, reason):
                await ws.close(code=code, message=reason.encode())
                return False
            case Headers():
                continue  # the handshake is long over: no place for them
            case Reject():
                raise RuntimeError("the session turns rejections into error frames")
    return True
