"""The loopback driver: where mitmproxy sends every rewritten call, and who answers it.

mitmproxy cannot stream a body an addon makes (reference/mitmproxy.md §2), so the glue re-points
each rewritten flow at this small aiohttp server on 127.0.0.1. The server runs the flow's
`UpstreamCall`, which answers in the client's own format; mitmproxy only relays the bytes.

Rules:
1. Only calls the glue registered are served, each once, by a random token; an unclaimed job is
   gone after JOB_TTL seconds, and `discard` removes a job (and cancels its running call) when
   its flow errors or ends.
2. Bound to 127.0.0.1 only; never reached through an upstream proxy (the glue sets the flow's
   server connection).
3. A request for an unknown token gets a 404 OpenAI error body, nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket

from aiohttp import ClientSession, ClientTimeout, TCPConnector, web

from chat2responses.errors import UpstreamError, error_body
from chat2responses.transports.call import CONNECT_TIMEOUT, UpstreamCall
from chat2responses.transports.job import CallJob
from chat2responses.transports.sessions import close_session_now
from chat2responses.transports.websocket import WebSocketPool

logger = logging.getLogger(__name__)

JOB_TTL = 10.0  # seconds a registered job waits for mitmproxy to connect
PATH_PREFIX = "/call/"


class Driver:
    """The loopback server; `start` in mitmproxy's `running`, `stop` in `done`."""

    def __init__(self) -> None:
        self.port = 0
        self._jobs: dict[str, CallJob] = {}
        self._expiry: dict[str, asyncio.TimerHandle] = {}
        self._running: dict[str, asyncio.Task[object]] = {}
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None
        self.pool = WebSocketPool()

    @property
    def started(self) -> bool:
        return self._runner is not None

    def start(self) -> None:
        """Bind now (so `port` is known at once) and serve on the running event loop."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(512)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        app = web.Application()
        app.router.add_route("*", PATH_PREFIX + "{token}", self._handle)
        self._runner = web.AppRunner(
            app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0
        )
        asyncio.get_running_loop().create_task(self._serve(self._runner, sock))

    async def _serve(self, runner: web.AppRunner, sock: socket.socket) -> None:
        await runner.setup()
        try:
            await web.SockSite(runner, sock).start()
        except Exception:
            logger.exception("the loopback driver could not start: rewritten calls will fail")
            raise
        logger.debug("driver listening on 127.0.0.1:%d", self.port)

    def stop(self) -> None:
        """Stop serving; sockets close in the background (mitmproxy's `done` is sync)."""
        for token in list(self._jobs) + list(self._running):
            self.discard(token)
        if self._session is not None:
            close_session_now(self._session)
            self._session = None
        with contextlib.suppress(RuntimeError):  # no loop any more: the process is ending
            asyncio.get_running_loop().create_task(self.aclose())

    async def aclose(self) -> None:
        runner, session, pool = self._runner, self._session, self.pool
        self.pool = WebSocketPool()
        self._runner = self._session = None
        if runner is not None:
            await runner.cleanup()
        if session is not None:
            await session.close()
        await pool.close()

    def register(self, job: CallJob) -> str:
        """Keep `job` for one request; returns its token (the path is PATH_PREFIX + token)."""
        token = secrets.token_urlsafe(24)
        self._jobs[token] = job
        with contextlib.suppress(RuntimeError):
            loop = asyncio.get_running_loop()
            self._expiry[token] = loop.call_later(JOB_TTL, self._expire, token)
        return token

    def discard(self, token: str) -> None:
        """Forget `token`'s job, and cancel its call if it is running (its flow is over)."""
        self._jobs.pop(token, None)
        timer = self._expiry.pop(token, None)
        if timer is not None:
            timer.cancel()
        task = self._running.pop(token, None)
        if task is not None and not task.done():
            task.cancel()

    def pending(self) -> int:
        """Jobs registered and not yet claimed (for tests and the status command)."""
        return len(self._jobs)

    def _expire(self, token: str) -> None:
        self._expiry.pop(token, None)
        if self._jobs.pop(token, None) is not None:
            logger.debug("an unclaimed call expired")

    def session(self) -> ClientSession:
        if self._session is None or self._session.closed:
            self._session = ClientSession(
                connector=TCPConnector(limit=0),  # as many upstream calls as flows
                timeout=ClientTimeout(total=None, connect=CONNECT_TIMEOUT),
                auto_decompress=True,
                trust_env=False,  # never through HTTPS_PROXY: it may be this very mitmproxy
            )
        return self._session

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        job = self._jobs.pop(token, None)
        timer = self._expiry.pop(token, None)
        if timer is not None:
            timer.cancel()
        if job is None or request.method != "POST":
            err = UpstreamError("unknown or expired call", status=404, code="not_found")
            return web.Response(status=404, body=error_body(err), content_type="application/json")
        task = asyncio.current_task()
        if task is not None:
            self._running[token] = task
        try:
            return await UpstreamCall(job, self.session, self.pool).run(request)
        finally:
            self._running.pop(token, None)
