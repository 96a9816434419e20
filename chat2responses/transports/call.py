"""One upstream call, carried out: the runner of the call machine (call/machine.py).

`UpstreamCall.run` is the one path of every rewritten call. It asks the machine what to do and
does it: an attempt (`Open`: the login's headers, then the upstream through the connector), the
client's bytes (`Write`), the answer's end (`Finish`, `Fail`). It tells the machine what
happened: each upstream event, the events' end, a failure, the answer's head going out. It
decides nothing itself.

Rule 1: the call starts as soon as the glue registers it, before mitmproxy's request reaches the
        driver: the upstream's answer is on its way while mitmproxy makes the loopback hop.
Rule 2: first bytes first. mitmproxy relays the answer on this same event loop, and an upstream
        that answers in a burst keeps the loop busy reading, decoding and translating; so once
        the first bytes are written, the upstream socket is not read (its data waits in the
        kernel) until the glue says mitmproxy relayed them (`job.relayed`), at most
        FIRST_RELAY_WAIT. The client's first byte comes that much sooner; nothing is lost.
Rule 3: the answer's end is written before the rest of an HTTP body is drained (the machine made
        the outcome final when it said `Finish`); a stop sequence closes the upstream instead.
Rule 4: the client leaving cancels the call; leaving the connector's `async with` closes the
        upstream. A call the proxy cancels as it stops (`stopping` set) ends its answer with that
        error, as far as the answer got; never a cut stream.
Rule 5: an exception that is not the project's own is a bug: it still ends in an OpenAI error.
Rule 6: `prepare`, when given (transports/shared_state.py), runs before the first attempt: it
        may fill the process's caches with what the call is about to need; it never fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable

from aiohttp import ClientSession

from chat2responses.call.commands import Command, Fail, Finish, Linger, Open, Write
from chat2responses.call.job import CallJob
from chat2responses.call.machine import CallMachine
from chat2responses.protocol.errors import ProxyError, error_body
from chat2responses.transports.answer import ClientAnswer
from chat2responses.transports.conversation_expiry import watch
from chat2responses.transports.loopback import JSON
from chat2responses.transports.upstream import (
    AttemptEvents,
    Connector,
    connect_upstream,
    reading_paused,
)
from chat2responses.transports.websocket import WebSocketPool
from chat2responses.upstream.login import bearer_of
from chat2responses.upstream.proxies import DIRECT, Egress

logger = logging.getLogger(__name__)

FIRST_RELAY_WAIT = 0.02  # seconds, at most (rule 2)


class UpstreamCall:
    """Runs one `CallJob` for one loopback request (`run`)."""

    def __init__(
        self,
        job: CallJob,
        session: Callable[[], ClientSession],
        pool: WebSocketPool,
        *,
        connect: Connector = connect_upstream,
        egress: Egress = DIRECT,
        prepare: Callable[[CallJob], Awaitable[None]] | None = None,
        received: float | None = None,
    ) -> None:
        self.job = job
        self._prepare = prepare
        now = time.monotonic()
        job.times.received = now if received is None else received  # the request hook's start
        job.times.registered = now
        self.session = session
        self.pool = pool
        self.egress = egress  # the proxy and the hop mark (upstream/proxies.py)
        self._connect = connect
        self._bearer = ""  # the login's access token last sent (a 401 refreshes it)
        self.machine = CallMachine(job, jitter=random.random)
        self.answer = ClientAnswer(
            content_type=self.machine.content_type,
            streaming=self.machine.streaming,
            keepalive=job.keepalive,
            times=job.times,
            on_head=self.machine.head_out,
            head_headers=self.machine.answer_headers,
        )
        self.stopping: ProxyError | None = None  # why the proxy cancels it (rule 4)

    async def run(self) -> None:
        """The whole call; its answer goes to the exchange attached to `answer` (it waits for
        mitmproxy's request to arrive before its first write)."""
        self.answer.arm_keepalive()
        try:
            if self._prepare is not None:  # rule 6
                await self._prepare(self.job)
            command: Command | None = self.machine.start(self.pool.usable)
            while isinstance(command, Open):
                command = await self._attempt(command)
        except asyncio.CancelledError:
            if self.stopping is None:
                raise
            await self._stop(self.stopping)
        except ConnectionResetError:
            logger.debug("the loopback connection closed: nobody to answer")
        except Exception as exc:  # rule 5
            logger.exception("chat2responses: the call failed unexpectedly")
            await self._stop(ProxyError(f"chat2responses internal error: {exc}"))
        finally:
            self.answer.abandon()
            self.machine.note_quota()
            for socket in self.machine.sockets_to_release():
                self.pool.give_back(socket)
            turn = self.job.turn
            if turn is not None and turn.store is not None:
                watch(turn.store, self.pool)  # its sockets close on time with no call to come

    async def _stop(self, err: ProxyError) -> None:
        fail = self.machine.stop(err)
        if fail is not None and self.answer.attached:  # else nobody is there to answer
            with contextlib.suppress(ConnectionResetError):  # mitmproxy let go of it meanwhile
                await self._end(fail)

    async def _attempt(self, command: Open) -> Command | None:
        """One attempt, start to end: returns the next attempt, or None once the answer ended."""
        if command.attempt.delay > 0:
            await asyncio.sleep(command.attempt.delay)
        machine = self.machine
        try:
            headers = await self._headers(command)
            machine.sending(headers)
            times = self.job.times
            times.sent, times.first_event = time.monotonic(), None
            if times.first_sent is None:
                times.first_sent = times.sent
            async with self._connect(self, command, headers) as events:
                following = await self._events(events)
                if isinstance(following, Open):
                    return following  # leaving the `async with` closes this upstream first
                await self._end(following)
                if isinstance(following, Finish) and not following.close:
                    await events.drain()  # rule 3: its connection can serve another call
                return None
        except ProxyError as err:
            if self.job.times.first_event is None:  # its error answer (or failure) came first
                self.job.times.first_event = time.monotonic()
            following = machine.failure(err)
        except (asyncio.CancelledError, ConnectionResetError):
            raise  # ConnectionResetError: mitmproxy is gone (the client left), nobody to answer
        except Exception as exc:  # rule 5
            logger.exception("chat2responses: the upstream call failed unexpectedly")
            following = machine.failure(ProxyError(f"chat2responses internal error: {exc}"))
        if isinstance(following, Open):
            return following
        await self._end(following)
        return None

    async def _events(self, events: AttemptEvents) -> Command:
        """Feed the attempt's events to the machine and write what it returns, up to the
        command that ends the attempt."""
        machine, answer, times = self.machine, self.answer, self.job.times
        relayed = self.job.relayed
        stream = aiter(events)
        deadline: float | None = None  # a stopped answer's wait for its usage (machine rule 7)
        while True:
            try:
                if deadline is None:
                    event = await anext(stream)
                else:
                    async with asyncio.timeout_at(deadline):
                        event = await anext(stream)
            except StopAsyncIteration:
                return machine.end()
            except TimeoutError:
                if deadline is None:
                    raise
                return machine.lingered()
            if times.first_event is None:
                times.first_event = time.monotonic()
            command = machine.event(event)
            if times.first_output is None and machine.output_started:
                times.first_output = time.monotonic()
            if isinstance(command, Write | Linger):
                await answer.send(command.data, more=events.buffered())
                if relayed is not None and answer.started:  # rule 2
                    with reading_paused(events.transport()):
                        await relayed.wait(FIRST_RELAY_WAIT)
                    relayed = None
                if isinstance(command, Linger):
                    await answer.flush()  # the client has the whole text now
                    deadline = asyncio.get_running_loop().time() + command.seconds
                command = None
            if command is None:
                command = machine.received(events.received)
            if command is not None:
                return command

    async def _end(self, command: Command) -> None:
        """Write the answer's end as the machine decided it."""
        answer = self.answer
        if isinstance(command, Finish):
            if answer.streaming:
                await answer.end(command.data)
            else:
                await answer.respond(200, {**self.machine.answer_headers(), **JSON}, command.data)
        elif isinstance(command, Fail):
            err = command.error
            if command.chunk is not None:
                await answer.end(command.chunk)
            else:
                await answer.respond(err.status, {**err.headers, **JSON}, error_body(err))

    async def _headers(self, command: Open) -> dict[str, str]:
        """The attempt's headers: the client's, the login's (fetched now; refreshed after a
        401), then the conversation's and the route's."""
        headers = dict(command.headers)
        login = self.job.login
        if login is not None:
            if command.attempt.fresh_login:
                headers.update(await login.refresh_after_401(self._bearer))
            else:
                headers.update(await login.headers())
            self._bearer = bearer_of(headers)
        headers.update(command.extra)
        return headers
