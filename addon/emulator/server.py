"""The emulator's HTTP front end (aiohttp): routes, SSE framing, and starting/stopping a server.

Serves, under `BASE_PATH` (`/backend-api/codex`, as the ChatGPT Codex backend):
- `POST …/responses`: the `Emulator`'s steps as `text/event-stream` (`event: <type>` and
  `data: <json>` per event, a blank line after each, no `[DONE]`; openai-protocols.md §1.1).
  A `Reject` step is an HTTP error before any byte; a `Drop` closes the connection without the
  chunked body's last chunk, so the client sees a truncated body rather than a clean end.
- `GET …/responses` with an Upgrade: the WebSocket transport (websocket.py).
- `GET …/models`: the catalog, `{"models": [...]}`.

The only thing this module decides is framing; what to send comes from backend.py.
Logs one line per request; never logs headers (they carry Authorization).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from .backend import Emulator
from .builder import Drop, Emit, Reject, Sleep, Step
from .rules import NOT_JSON, Rejection, Transport
from .websocket import websocket_handler

log = logging.getLogger(__name__)

BASE_PATH = "/backend-api/codex"
MAX_BODY_BYTES = (
    64 * 1024 * 1024
)  # long chat histories with images are big; aiohttp's default is 1 MiB

EMULATOR = web.AppKey("emulator", Emulator)


def build_app(emulator: Emulator) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[EMULATOR] = emulator
    app.router.add_post(f"{BASE_PATH}/responses", post_responses)
    app.router.add_get(f"{BASE_PATH}/responses", websocket_handler(emulator, MAX_BODY_BYTES))
    app.router.add_get(f"{BASE_PATH}/models", get_models)
    return app


@asynccontextmanager
async def serving(emulator: Emulator, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve `emulator` until the block ends; yields the base URL (`http://HOST:PORT/backend-api/codex`)."""
    runner = web.AppRunner(build_app(emulator), access_log=None, handler_cancellation=True)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        yield f"http://{shown}:{bound_port}{BASE_PATH}"
    finally:
        await runner.cleanup()


def sse_frame(event: dict[str, Any]) -> bytes:
    data = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    return f"event: {event['type']}\ndata: {data}\n\n".encode()


def reject_response(rejection: Rejection) -> web.Response:
    return web.json_response(
        rejection.http_body(), status=rejection.status, headers=dict(rejection.headers)
    )


async def post_responses(request: web.Request) -> web.StreamResponse:
    body: object = None
    try:
        body = json.loads(await request.read())
    except ValueError:
        steps: list[Step] = [Reject(NOT_JSON)]
    else:
        steps = request.app[EMULATOR].respond(body, Transport.HTTP)
    model = body.get("model") if isinstance(body, dict) else None
    first = steps[0]
    if isinstance(first, Reject):
        log.info("POST responses model=%s -> %d", model, first.rejection.status)
        return reject_response(first.rejection)
    log.info("POST responses model=%s -> 200 stream", model)
    response = web.StreamResponse(
        headers={"content-type": "text/event-stream", "cache-control": "no-cache"}
    )
    await response.prepare(request)
    try:
        await _perform(request, response, steps)
    except ConnectionResetError:
        log.info("client went away mid-stream (model=%s)", model)
    return response


async def _perform(request: web.Request, response: web.StreamResponse, steps: list[Step]) -> None:
    for step in steps:
        match step:
            case Emit(event):
                await response.write(sse_frame(event))
            case Sleep(seconds):
                await asyncio.sleep(seconds)
            case Drop():
                _drop(request)
                return
            case Reject():
                raise RuntimeError("a Reject step can only come first")
    await response.write_eof()


def _drop(request: web.Request) -> None:
    """Close the socket without the chunked body's terminator (already-written bytes flush)."""
    transport = request.transport
    if transport is not None:
        transport.close()


async def get_models(request: web.Request) -> web.Response:
    return web.json_response(request.app[EMULATOR].config.catalog)
