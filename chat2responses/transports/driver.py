"""The loopback driver: where mitmproxy sends every rewritten call, and who answers it.

mitmproxy cannot stream a body an addon makes (reference/mitmproxy.md §2), so the glue re-points
each rewritten flow at this small server on 127.0.0.1 (loopback.py). Each call starts when the
glue registers it: its upstream request goes out while mitmproxy makes the hop, and its answer,
in the client's own format, goes to the exchange mitmproxy's request opens; mitmproxy only relays
the bytes.

Rules:
1. Only calls the glue registered are served, each once, by a random token; a call unclaimed for
   JOB_TTL seconds is cancelled, and `discard` cancels a call when its flow errors or ends.
2. Bound to 127.0.0.1 only; never reached through an upstream proxy (the glue sets the flow's
   server connection).
3. A request for an unknown token gets a 404 OpenAI error body, nothing else.
4. mitmproxy closing the connection mid-answer (its client left) cancels the call.
5. A call whose flow is held (`held()`: mitmproxy's intercept, which runs after the glue) does
   nothing while held: it is not started, its token is refused (404) to whoever presents it,
   and it does not expire. It starts when mitmproxy, the flow released, claims it; so an
   intercept of any length works, and a call is made (and billed) only once released.
6. A client's Responses WebSocket the glue took over comes to a second server on 127.0.0.1
   (`sockets`, socket_desk.py) at `SOCKET_PREFIX + token`, each token once, within JOB_TTL; its
   frames are served by client_socket.py, each call kept like any other (for `stop_calls`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import ClientSession, ClientTimeout, TCPConnector

from chat2responses.call.job import CallJob
from chat2responses.protocol.errors import ProxyError, UpstreamError, error_body
from chat2responses.transports.call import UpstreamCall
from chat2responses.transports.loopback import JSON, Exchange, LoopbackConnection
from chat2responses.transports.sessions import close_session_now, upstream_session
from chat2responses.transports.socket_desk import SocketDesk
from chat2responses.transports.upstream import CONNECT_TIMEOUT, Connector, connect_upstream
from chat2responses.transports.websocket import WebSocketPool
from chat2responses.transports.websocket.server import SOCKET_PREFIX
from chat2responses.upstream.proxies import DIRECT

logger = logging.getLogger(__name__)

JOB_TTL = 10.0  # seconds a registered call waits for mitmproxy to connect
STOP_GRACE = 2.0  # seconds, at most, for the answers to end and mitmproxy to relay them
PATH_PREFIX = "/call/"
SOCKET_PATH_PREFIX = SOCKET_PREFIX  # where a client socket is pointed (rule 6)


class Driver:
    """The loopback server; `start` in mitmproxy's `running`, `stop` in `done`."""

    def __init__(self, *, connect: Connector = connect_upstream) -> None:
        self.port = 0
        self._connect = connect  # how calls reach the upstream (tests give a fake one)
        self._unclaimed: dict[str, UpstreamCall] = {}
        self._expiry: dict[str, asyncio.TimerHandle] = {}
        self._running: dict[str, asyncio.Task[None]] = {}
        self._calls: dict[str, UpstreamCall] = {}  # the running ones, by token
        self._held: dict[str, Callable[[], bool]] = {}  # rule 5, by token
        self._stopping: ProxyError | None = None  # set once the proxy stops (stop_calls)
        self._sock: socket.socket | None = None
        self._server: asyncio.Server | None = None
        self._connections: set[LoopbackConnection] = set()
        self._session: ClientSession | None = None
        self.pool = WebSocketPool()
        self.egress = DIRECT  # how upstream calls leave: set by the glue (upstream/proxies.py)
        # Clients' Responses WebSockets (rule 6).
        self.sockets = SocketDesk(self._launch_socket_call, ttl=JOB_TTL)
        # What each call runs before its first attempt (call.py rule 6): shared state's pull.
        self.prepare: Callable[[CallJob], Awaitable[None]] | None = None

    @property
    def started(self) -> bool:
        return self._sock is not None

    @property
    def stopping(self) -> bool:
        """The proxy is stopping: calls are being ended (`stop_calls`)."""
        return self._stopping is not None

    def start(self) -> None:
        """Bind now (so `port` is known at once) and serve on the running event loop."""
        sock = _listening()
        self.port = sock.getsockname()[1]
        self._sock = sock
        asyncio.get_running_loop().create_task(self._serve(sock))
        self.sockets.start(_listening())

    async def _serve(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(
                lambda: LoopbackConnection(self._dispatch, self._connections), sock=sock
            )
        except Exception:
            logger.exception("the loopback driver could not start: rewritten calls will fail")
            raise
        logger.debug("driver listening on 127.0.0.1:%d", self.port)

    def stop(self) -> None:
        """Stop serving; sockets close in the background (mitmproxy's `done` is sync)."""
        for token in list(self._unclaimed) + list(self._running):
            self.discard(token)
        if self._server is not None:
            self._server.close()
        elif self._sock is not None:
            self._sock.close()
        self.sockets.stop()
        for connection in list(self._connections):
            connection.close()
        self._server = self._sock = None
        if self._session is not None:
            close_session_now(self._session)
            self._session = None
        with contextlib.suppress(RuntimeError):  # no loop any more: the process is ending
            asyncio.get_running_loop().create_task(self.aclose())

    async def aclose(self) -> None:
        session, pool = self._session, self.pool
        self.pool = WebSocketPool()
        self._session = None
        if session is not None:
            await session.close()
        await pool.close()

    def register(
        self,
        job: CallJob,
        held: Callable[[], bool] | None = None,
        received: float | None = None,
    ) -> str:
        """Keep `job` for one request and start its call; returns its token (the path is
        PATH_PREFIX + token). With `held`, the call starts only once the hooks have run and the
        flow is not held (rule 5). `received`: when the request hook began (monotonic), where
        the call's own time starts. Without a running server (a test of the glue) it starts when
        claimed."""
        token = secrets.token_urlsafe(24)
        call = UpstreamCall(
            job,
            self.session,
            self.pool,
            connect=self._connect,
            egress=self.egress,
            prepare=self.prepare,
            received=received,
        )
        self._unclaimed[token] = call
        if held is not None:
            self._held[token] = held
        with contextlib.suppress(RuntimeError):
            loop = asyncio.get_running_loop()
            self._expiry[token] = loop.call_later(JOB_TTL, self._expire, token)
            if held is None:
                self._launch_early(token)
            else:  # mitmproxy's intercept decides after this hook: look once it is done
                loop.call_soon(self._launch_early, token)
        return token

    def _launch_early(self, token: str) -> None:
        """Start a registered call before mitmproxy claims it, unless its flow is held."""
        call = self._unclaimed.get(token)
        if call is None or self._is_held(token) or token in self._running:
            return
        if self.started and self._stopping is None:
            self._launch(token, call)

    def _is_held(self, token: str) -> bool:
        held = self._held.get(token)
        return held is not None and held()

    def _launch_socket_call(self, job: CallJob) -> tuple[UpstreamCall, asyncio.Task[None]]:
        call = UpstreamCall(job, self.session, self.pool, connect=self._connect)
        if self._stopping is not None:
            call.stopping = self._stopping
        token = secrets.token_urlsafe(24)
        self._launch(token, call)
        return call, self._running[token]

    def discard(self, token: str) -> None:
        """Forget `token`'s call, and cancel it if it is running (its flow is over)."""
        self._unclaimed.pop(token, None)
        self._held.pop(token, None)
        timer = self._expiry.pop(token, None)
        if timer is not None:
            timer.cancel()
        task = self._running.pop(token, None)
        self._calls.pop(token, None)
        if task is not None and not task.done():
            task.cancel()

    def release(self, token: str) -> None:
        """The flow ended: a call never claimed (another addon answered it) is cancelled; a
        claimed one finishes on its own (its upstream connection may still be read to its end)."""
        if token in self._unclaimed:
            self.discard(token)

    def pending(self) -> int:
        """Calls registered and not yet claimed (for tests and the status command)."""
        return len(self._unclaimed)

    def _expire(self, token: str) -> None:
        self._expiry.pop(token, None)
        if token in self._unclaimed and self._is_held(token):  # rule 5: held, not forgotten
            loop = asyncio.get_running_loop()
            self._expiry[token] = loop.call_later(JOB_TTL, self._expire, token)
            return
        if token in self._unclaimed:
            self.discard(token)
            logger.debug("an unclaimed call expired")

    def _launch(self, token: str, call: UpstreamCall) -> None:
        task = asyncio.get_running_loop().create_task(call.run())
        self._running[token], self._calls[token] = task, call
        task.add_done_callback(functools.partial(self._ended, token))

    def _ended(self, token: str, task: asyncio.Task[None]) -> None:
        if self._running.get(token) is task:
            del self._running[token]
            self._calls.pop(token, None)

    def stop_calls(self, err: ProxyError) -> list[asyncio.Task[None]]:
        """The proxy is stopping: every running call ends its answer with `err` (call.py rule
        4), and from now on mitmproxy's request for any call gets `err` at once (a call it has
        not claimed yet, or one registered since). Returns the running calls' tasks."""
        self._stopping = err
        ending = []
        for token, task in list(self._running.items()):
            call = self._calls.get(token)
            if call is not None and not task.done():
                call.stopping = err
                task.cancel()
                ending.append(task)
        return ending

    def wind_down(
        self, err: ProxyError, *, flows_done: Callable[[], bool], then: Callable[[], None]
    ) -> asyncio.Task[None] | None:
        """`stop_calls(err)`, then `then()` once those calls wrote their last bytes and
        `flows_done()` (mitmproxy relayed them), or after STOP_GRACE seconds: in a task to
        await, or at once (returning None) when no call runs."""
        ending = self.stop_calls(err)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a test of the glue): nothing can be relayed any more
            loop = None
        if loop is None or (not ending and flows_done()):
            then()
            return None
        return loop.create_task(_settle(ending, flows_done, then))

    def session(self) -> ClientSession:
        if self._session is None or self._session.closed:
            self._session = upstream_session(
                connector=TCPConnector(limit=0),  # as many upstream calls as flows
                timeout=ClientTimeout(total=None, connect=CONNECT_TIMEOUT),
                auto_decompress=True,
            )
        return self._session

    def _dispatch(self, method: str, target: str, exchange: Exchange) -> None:
        """mitmproxy's request for one call: its answer goes to `exchange`."""
        target = _origin_form(target)
        token = target[len(PATH_PREFIX) :] if target.startswith(PATH_PREFIX) else ""
        if self._is_held(token):  # rule 5: not usable while held, and the call stays
            err = UpstreamError("unknown or expired call", status=404, code="not_found")
            exchange.respond(404, JSON, error_body(err))
            return
        self._held.pop(token, None)
        call = self._unclaimed.pop(token, None)
        timer = self._expiry.pop(token, None)
        if timer is not None:
            timer.cancel()
        if call is None or method != "POST":
            if call is not None:
                self.discard(token)
            err = UpstreamError("unknown or expired call", status=404, code="not_found")
            exchange.respond(404, JSON, error_body(err))
            return
        if self._stopping is not None:  # the call never answers: the client hears why at once
            stopping = self._stopping
            call.machine.stop(stopping)  # the call's outcome says so
            exchange.respond(stopping.status, JSON, error_body(stopping))
            return
        if token not in self._running:
            self._launch(token, call)
        exchange.on_lost = functools.partial(self.discard, token)  # rule 4
        call.answer.attach(exchange)


def _listening() -> socket.socket:
    """A listening socket on 127.0.0.1 and a free port (rule 2), for the event loop."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    sock.setblocking(False)
    return sock


def _origin_form(target: str) -> str:
    """The path of a request target in absolute form (`http://host/call/…`, which mitmproxy
    passes on when its client sent one, and which HTTP/1.1 servers must accept), else `target`."""
    parts = urlsplit(target)
    return (parts.path or "/") if parts.scheme in ("http", "https") else target


async def _settle(
    ending: list[asyncio.Task[None]], flows_done: Callable[[], bool], then: Callable[[], None]
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STOP_GRACE
    try:
        if ending:  # (asyncio.wait refuses an empty set)
            await asyncio.wait(ending, timeout=STOP_GRACE)
        # The flows end in mitmproxy's own hooks, once it relayed the answers' ends.
        while not flows_done() and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    finally:
        then()
