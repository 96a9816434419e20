"""The loopback bridge: the upstream leg of every flow whose answer the addon must shape itself.

mitmproxy cannot stream a body an addon makes, so flows that need more than forwarding are
re-pointed at this small aiohttp server on 127.0.0.1: it holds the real upstream leg (a
WebSocket, or an HTTP request whose route is still uncertain or whose errors must be caught)
and answers mitmproxy with plain Responses SSE, which the same stream pipeline translates.

Rules:
1. Only flows the addon registered are served: each job is reachable once, by a random token.
2. A job may fall back once, before any byte was answered: HTTP refused for needing WebSocket →
   WebSocket; WebSocket handshake refused with 426 → HTTP. `on_route` learns the outcome.
3. Before the first byte an upstream error keeps its status (OpenAI error body); after it, the
   SSE body simply ends and the pipeline reports the missing terminal event as an error chunk.
4. When mitmproxy drops the connection (the client left), the handler is cancelled and the
   upstream connection closed with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout, TCPConnector, web

from addon.errors import ProxyError, UpstreamError, error_body, upstream_error_from_body
from addon.events import EventType, error_of_event, parse_event
from addon.pipeline import DISPLAY_LIMIT
from addon.routing import Route, refused_for_websocket
from addon.sse import encode_data
from addon.transports.websocket import (
    HandshakeRefused,
    WebSocketPool,
    open_response_stream,
    redacted_url,
)

logger = logging.getLogger(__name__)

JOB_TTL = 60.0  # seconds a registered job waits for mitmproxy to connect
CONNECT_TIMEOUT = 15.0
MAX_PLAIN_BODY = 64 * 1024 * 1024  # a non-streamed upstream answer, read whole
IDLE_TIMEOUT = 300.0
# Events that precede any client-visible output: held back so an early error keeps its status.
_PREAMBLE = frozenset({EventType.CREATED, EventType.IN_PROGRESS, EventType.QUEUED})
_EARLY_FAILURE = frozenset({EventType.ERROR, EventType.FAILED})


@dataclass(slots=True)
class BridgeJob:
    """One upstream call the bridge makes on behalf of one flow."""

    http_url: str
    ws_url: str
    body: dict[str, Any]
    headers: dict[str, str]
    route: Route
    fallback: bool
    ws_headers: dict[str, str] = field(default_factory=dict)  # added to the handshake only
    on_route: Callable[[Route], None] = lambda route: None
    on_summaries_refused: Callable[[], None] = lambda: None
    ssl: ssl.SSLContext | None = None
    registered: float = field(default_factory=time.monotonic)
    route_taken: Route | None = None
    # The WebSocket leg's messages from the upstream, kept (bounded) for display.
    frames: list[str] = field(default_factory=list)
    frames_size: int = 0
    frames_truncated: bool = False

    def keep(self, frame: str) -> None:
        if self.frames_size + len(frame) > DISPLAY_LIMIT:
            self.frames_truncated = True
            return
        self.frames.append(frame)
        self.frames_size += len(frame)


class Bridge:
    """The loopback server; `start` in mitmproxy's `running`, `stop` in `done`."""

    def __init__(self) -> None:
        self.jobs: dict[str, BridgeJob] = {}
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self.pool = WebSocketPool()

    def start(self) -> None:
        """Bind now (so `port` is known at once) and serve on the running event loop."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        app = web.Application()
        app.router.add_post("/bridge/{token}", self._handle)
        self._runner = web.AppRunner(
            app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0
        )
        self._task = asyncio.get_running_loop().create_task(self._serve(sock))

    async def _serve(self, sock: socket.socket) -> None:
        assert self._runner is not None
        await self._runner.setup()
        try:
            await web.SockSite(self._runner, sock).start()
        except Exception:
            logger.exception("the loopback bridge could not start: WebSocket calls will fail")
            raise
        logger.debug("bridge listening on 127.0.0.1:%d", self.port)

    def stop(self) -> None:
        """Stop serving; the sockets close in the background (mitmproxy's `done` is sync)."""
        with contextlib.suppress(RuntimeError):  # no loop any more: the process is ending
            asyncio.get_running_loop().create_task(self.aclose())

    async def aclose(self) -> None:
        """Stop serving and close every socket the bridge holds."""
        runner, session, pool = self._runner, self._session, self.pool
        self.pool = WebSocketPool()
        self._runner = self._session = None
        self.jobs.clear()
        if runner is not None:
            await runner.cleanup()
        if session is not None:
            await session.close()
        await pool.close()

    def register(self, job: BridgeJob) -> str:
        """Keep `job` for one request; returns the path mitmproxy must POST to."""
        now = time.monotonic()
        for token in [t for t, j in self.jobs.items() if now - j.registered > JOB_TTL]:
            del self.jobs[token]
        token = secrets.token_urlsafe(24)
        self.jobs[token] = job
        return f"/bridge/{token}"

    def session(self) -> ClientSession:
        if self._session is None or self._session.closed:
            self._session = ClientSession(
                connector=TCPConnector(limit=0),  # as many upstream calls as flows
                timeout=ClientTimeout(total=None, connect=CONNECT_TIMEOUT, sock_read=IDLE_TIMEOUT),
                auto_decompress=True,
            )
        return self._session

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        job = self.jobs.pop(request.match_info["token"], None)
        if job is None:
            err = UpstreamError("unknown or expired bridge token", status=404, code="not_found")
            return _error_response(err)
        try:
            return await self._run(job, request)
        except ProxyError as err:
            return _error_response(err)

    async def _run(self, job: BridgeJob, request: web.Request) -> web.StreamResponse:
        route = job.route
        for attempt in range(3):  # at most: a transport fallback and a summary-less retry
            try:
                if route is Route.HTTP:
                    response = await self._over_http(job, request)
                else:
                    response = await self._over_websocket(job, request)
            except ProxyError as err:
                if attempt == 2:
                    raise
                fallback = _fallback_for(route, err) if job.fallback else None
                if fallback is not None and job.route_taken is None:
                    logger.info(
                        "%s refused over %s (%s); retrying over %s",
                        job.body.get("model"),
                        route.value,
                        err.status,
                        fallback.value,
                    )
                    route, job.route_taken = fallback, fallback
                    continue
                if _refuses_summaries(err) and _without_summary(job.body):
                    logger.info(
                        "the upstream refuses reasoning summaries (%s); retrying without, and "
                        "leaving them out from now on",
                        err.message,
                    )
                    job.on_summaries_refused()
                    continue
                raise
            job.route_taken = route
            job.on_route(route)
            return response
        raise AssertionError("unreachable")

    async def _over_http(self, job: BridgeJob, request: web.Request) -> web.StreamResponse:
        headers = {**job.headers, "content-type": "application/json", "accept": "text/event-stream"}
        try:
            upstream = await self.session().post(
                job.http_url, data=json.dumps(job.body), headers=headers, ssl=job.ssl or True
            )
        except (ClientError, TimeoutError) as exc:
            raise _connection_error(job.http_url, exc) from None
        async with upstream:
            if upstream.status != 200:
                body = await upstream.content.read(1 << 20)
                raise upstream_error_from_body(upstream.status, body, dict(upstream.headers))
            if upstream.content_type != "text/event-stream":
                # Not a stream (a JSON Response, say): pass it on as it is; the addon converts it.
                body = await upstream.content.read(MAX_PLAIN_BODY)
                return web.Response(status=200, body=body, content_type=upstream.content_type)
            response = _sse_response()
            await response.prepare(request)
            try:
                async for data in upstream.content.iter_any():
                    await response.write(data)
            except (ClientError, TimeoutError) as exc:
                # The upstream died mid-body: end ours cleanly; the pipeline reports the
                # missing terminal event to the client.
                logger.info("upstream %s broke off: %s", redacted_url(job.http_url), exc)
            except ConnectionResetError:
                return response  # mitmproxy left: nothing more to write
        await response.write_eof()
        return response

    async def _over_websocket(self, job: BridgeJob, request: web.Request) -> web.StreamResponse:
        async with open_response_stream(
            job.ws_url,
            headers={**job.headers, **job.ws_headers},
            body=job.body,
            ssl=job.ssl,
            connect_timeout=CONNECT_TIMEOUT,
            idle_timeout=IDLE_TIMEOUT,
            pool=self.pool,
        ) as frames:
            held: list[str] = []
            response: web.StreamResponse | None = None
            try:
                async for frame in frames:
                    job.keep(frame)
                    if response is None:
                        kind = parse_event(frame)["type"]
                        if kind in _PREAMBLE:
                            held.append(frame)
                            continue
                        if kind in _EARLY_FAILURE:
                            raise _early_error([*held, frame])
                        response = _sse_response()
                        await response.prepare(request)
                        await response.write(_frames_as_sse(held))
                    await response.write(_frames_as_sse([frame]))
            except ProxyError:
                if response is None:
                    raise
                # After the first byte the SSE body just ends; the pipeline reports it.
            if response is None:
                response = _sse_response()
                await response.prepare(request)
                await response.write(_frames_as_sse(held))
            await response.write_eof()
            return response


# A refused WebSocket upgrade that says nothing about the caller (426, or the 400/404/405 of an
# upstream or proxy without WebSocket support) means: use HTTP. These statuses do not.
_NOT_A_TRANSPORT_REFUSAL = frozenset({401, 403, 407, 429})


def _fallback_for(route: Route, err: ProxyError) -> Route | None:
    if route is Route.HTTP and refused_for_websocket(err):
        return Route.WEBSOCKET
    if (
        route is Route.WEBSOCKET
        and isinstance(err, HandshakeRefused)
        and err.status < 500
        and err.status not in _NOT_A_TRANSPORT_REFUSAL
    ):
        return Route.HTTP
    return None


def _refuses_summaries(err: ProxyError) -> bool:
    """OpenAI refuses `reasoning.summary` for organizations that are not verified (400)."""
    return err.status == 400 and err.param == "reasoning.summary"


def _without_summary(body: dict[str, Any]) -> bool:
    """Take `reasoning.summary` out of `body`; False when there was none to take."""
    reasoning = body.get("reasoning")
    return isinstance(reasoning, dict) and reasoning.pop("summary", None) is not None


def _early_error(frames: list[str]) -> ProxyError:
    """The error an early `error` / `response.failed` frame stands for, status included."""
    for frame in frames:
        err = error_of_event(parse_event(frame))
        if err is not None:
            return err
    return UpstreamError("upstream failed before answering")


def _frames_as_sse(frames: list[str]) -> bytes:
    return b"".join(encode_data(f) for f in frames)  # a frame may hold newlines


def _sse_response() -> web.StreamResponse:
    response = web.StreamResponse(
        status=200, headers={"content-type": "text/event-stream", "cache-control": "no-cache"}
    )
    response.enable_chunked_encoding()
    return response


def _error_response(err: ProxyError) -> web.Response:
    return web.Response(
        status=err.status,
        body=error_body(err),
        headers={"content-type": "application/json", **err.headers},
    )


def _connection_error(url: str, exc: BaseException) -> UpstreamError:
    where = redacted_url(url)
    if isinstance(exc, TimeoutError):
        return UpstreamError(f"upstream {where} timed out", status=504, code="upstream_timeout")
    reason = getattr(exc, "strerror", None) or type(exc).__name__
    return UpstreamError(
        f"cannot reach upstream {where}: {reason}", status=502, code="upstream_unreachable"
    )
