"""The emulator's HTTP front end (aiohttp): routes, SSE framing, and starting/stopping a server.

Serves, under `BASE_PATH` (`/backend-api/codex`, as the ChatGPT Codex backend):
- `POST …/responses`: the `Emulator`'s steps as `text/event-stream` (`event: <type>` and
  `data: <json>` per event, a blank line after each, no `[DONE]`; openai-protocols.md §1.1).
  A `Reject` step is an HTTP error before any byte; a `Drop` closes the connection without the
  chunked body's last chunk, so the client sees a truncated body rather than a clean end.
- `GET …/responses` with an Upgrade: the WebSocket transport (websocket.py).
- `GET …/models?client_version=…`: the catalog, `{"models": [...]}`, less the models that
  version is too old for, with `x-models-etag` and `ETag`; a matching `If-None-Match` gets 304;
  without `client_version`, 400 "Field required" (catalog_rules.py rule 2).
- `POST …/responses/compact`: 404, as the backend answers since 2026-08-12 (compaction is a
  `/responses` call ending in a `compaction_trigger` item now).
- `POST /oauth/token` (at the root, as `auth.openai.com` serves it): the login refresh (login.py).
- anything else: 404 with an OpenAI error body, `Invalid URL (GET /v1/models)`, as OpenAI answers
  an unknown URL (a chat call passed through to it, say, since the backend has no chat endpoint).

Every `/responses` answer carries the quota headers (quota.py), and the headers of a scenario's
leading `Headers` step (safety buffering); under `--require-login` one without a valid Bearer
gets 401 first. The request's client version (its `version` or `User-Agent` header) goes to the
backend with it. Leading `Sleep` steps (the latency model) run before the
status is sent, so a refusal is delayed too; `Close` cuts the connection like `Drop`.

The only thing this module decides is framing; what to send comes from backend.py.
Logs one line per request; never logs headers (they carry Authorization).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from chat2responses.emulator.backend import Caller, Emulator
from chat2responses.emulator.catalog_rules import client_version, listed_models
from chat2responses.emulator.lite import LITE_HEADER, is_true
from chat2responses.emulator.rules import NOT_JSON, Rejection, Transport
from chat2responses.emulator.signing import credential_digest
from chat2responses.emulator.steps import Close, Drop, Emit, Headers, Reject, Sleep, Step
from chat2responses.emulator.tokens import canonical_json
from chat2responses.emulator.websocket import websocket_handler

log = logging.getLogger(__name__)

BASE_PATH = "/backend-api/codex"
MAX_BODY_BYTES = (
    64 * 1024 * 1024
)  # long chat histories with images are big; aiohttp's default is 1 MiB

TOKEN_PATH = "/oauth/token"

EMULATOR = web.AppKey("emulator", Emulator)


def build_app(emulator: Emulator) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[EMULATOR] = emulator
    app.router.add_post(f"{BASE_PATH}/responses", post_responses)
    app.router.add_post(f"{BASE_PATH}/responses/compact", post_compact)
    app.router.add_get(f"{BASE_PATH}/responses", websocket_handler(emulator, MAX_BODY_BYTES))
    app.router.add_get(f"{BASE_PATH}/models", get_models)
    app.router.add_post(TOKEN_PATH, post_token)
    app.router.add_route("*", "/{path:.*}", unknown_url)  # last: only what nothing else serves
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


def reject_response(rejection: Rejection, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(
        rejection.http_body(),
        status=rejection.status,
        headers=(headers or {}) | dict(rejection.headers),
    )


async def post_responses(request: web.Request) -> web.StreamResponse:
    emulator = request.app[EMULATOR]
    emulator.stats.http_requests += 1
    refusal = emulator.check_login(request.headers.get("authorization"))
    if refusal is not None:
        log.info("POST responses -> %d (login)", refusal.status)
        return reject_response(refusal)
    body: object = None
    raw = await request.read()
    try:
        body = json.loads(raw)
    except ValueError:
        steps: list[Step] = [Reject(NOT_JSON)]
    else:
        marked = is_true(request.headers.get(LITE_HEADER))
        caller = Caller(
            credential_digest(request.headers), marked, len(raw), client_version(request.headers)
        )
        steps = emulator.respond(body, Transport.HTTP, caller)
    model = body.get("model") if isinstance(body, dict) else None
    while steps and isinstance(pause := steps[0], Sleep):  # the latency model: before the status
        await asyncio.sleep(pause.seconds)
        steps = steps[1:]
    quota = emulator.quota_headers()
    while steps and isinstance(extra := steps[0], Headers):
        quota |= dict(extra.headers)
        steps = steps[1:]
    first = steps[0]
    if isinstance(first, Reject):
        log.info("POST responses model=%s -> %d", model, first.rejection.status)
        return reject_response(first.rejection, quota)
    log.info("POST responses model=%s -> 200 stream", model)
    response = web.StreamResponse(
        headers={"content-type": "text/event-stream", "cache-control": "no-cache"} | quota
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
            case Drop() | Close():
                _drop(request)
                return
            case Reject() | Headers():
                raise RuntimeError("a Reject or Headers step can only come first")
    await response.write_eof()


def _drop(request: web.Request) -> None:
    """Close the socket without the chunked body's terminator (already-written bytes flush)."""
    transport = request.transport
    if transport is not None:
        transport.close()


async def unknown_url(request: web.Request) -> web.Response:
    log.info("%s %s -> 404", request.method, request.path)
    message = f"Invalid URL ({request.method} {request.path})"
    return reject_response(Rejection(404, message, code="unknown_url"))


async def post_compact(request: web.Request) -> web.Response:
    log.info("POST responses/compact -> 404 (gone: send a compaction_trigger item instead)")
    return web.json_response({"detail": "Not Found"}, status=404)


async def get_models(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    status, answer = listed_models(emulator.config.catalog, request.query.get("client_version"))
    if status != 200:
        log.info("GET models -> %d", status)
        return web.json_response(answer, status=status)
    body = canonical_json(answer)
    etag = hashlib.sha256(body).hexdigest()[:32]
    headers = {"x-models-etag": etag, "etag": f'"{etag}"'}
    asked = {tag.strip().removeprefix("W/").strip('"') for tag in _if_none_match(request)}
    if etag in asked or "*" in asked:
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, content_type="application/json", headers=headers)


def _if_none_match(request: web.Request) -> list[str]:
    return [
        tag for value in request.headers.getall("if-none-match", []) for tag in value.split(",")
    ]


async def post_token(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    try:
        body: object = json.loads(await request.read())
    except ValueError:
        body = None
    status, answer = emulator.login.refresh(body, int(emulator.now()))
    log.info("POST oauth/token -> %d", status)  # never the tokens
    return web.json_response(answer, status=status)
