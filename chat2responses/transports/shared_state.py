"""Shared state on Redis (`responses_state_url`): the I/O side of call/shared.py.

`SharedState` is the `Backing` of the process's reasoning cache and memory: what they write is
queued and pushed by one writer task (a pipeline per batch); what a call is about to replay and
this process lacks is pulled once, before its first attempt (`prepare`); what other instances
learned is pulled every `pull_every` seconds. The call's hot path reads only local tables: a
turn served where its conversation ran before makes no round trip at all.

Rule 1: never a failed call. Every Redis operation is bounded (`timeout`); the first failure
        logs one warning and the instance serves from memory (nothing is pulled, pushes are
        dropped) until a probe finds Redis back, which is logged once too.
Rule 2: names and values as call/shared.py says (digests and JSON, bounded); reasoning entries
        expire with their table's TTL; the learned table is one hash of at most its cap entries
        (past it, the hash is emptied: every entry in it can be learned again).
Rule 3: the URL's password never reaches a log line or the status: `label` is host, port and db.
Rule 4: a pull that finds nothing is remembered for NEGATIVE_TTL seconds, so a conversation
        whose answers carry no reasoning does not ask Redis each turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from chat2responses.call.job import CallJob
from chat2responses.call.memory import Memory
from chat2responses.call.shared import BOUNDS, MAX_VALUE_BYTES, Table, shared_name

logger = logging.getLogger(__name__)

PREFIX = "c2r:"
TIMEOUT = 0.25  # seconds, for each operation on the hot path
BACKGROUND_TIMEOUT = 2.0  # seconds, for the writer's and the puller's
PULL_EVERY = 2.0  # seconds between pulls of what others learned (and probes while away)
MAX_QUEUED = 10_000  # writes waiting for the writer; the oldest go first
NEGATIVE_TTL = 60.0
MAX_NEGATIVE = 4096

_FAILURES = (RedisError, OSError, TimeoutError)


def state_label(url: str) -> str:
    """`url` without its user or password (rule 3)."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix:{parts.path}"
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}{parts.path or '/0'}"


class SharedState:
    """The Redis mirror of one process's state between turns (see the module rules)."""

    def __init__(
        self,
        url: str,
        *,
        memory: Callable[[], Memory],
        client: Redis | None = None,
        pull_every: float = PULL_EVERY,
        timeout: float = TIMEOUT,
    ) -> None:
        self.label = state_label(url)
        self._memory = memory
        self._redis = client or Redis.from_url(
            url,
            socket_connect_timeout=BACKGROUND_TIMEOUT,
            socket_timeout=BACKGROUND_TIMEOUT,
            retry=Retry(NoBackoff(), 0),  # rule 1: a failure is handled here, at once
        )
        self._pull_every = pull_every
        self._timeout = timeout
        self._queue: deque[tuple[str, Table, str, bytes]] = deque(maxlen=MAX_QUEUED)
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._absent: OrderedDict[str, float] = OrderedDict()  # rule 4
        self.away: str | None = None  # why Redis is unusable now (None: in use)

    @property
    def status(self) -> str:
        return "redis" if self.away is None else f"memory (Redis at {self.label} is away)"

    # ---- Backing (call/shared.py): queue only -----------------------------------------------

    def put(self, table: Table, name: str, value: Any) -> None:
        data = json.dumps(value, separators=(",", ":")).encode()
        if len(data) <= MAX_VALUE_BYTES and self.away is None:
            self._queue.append(("put", table, name, data))
            self._wake.set()

    def drop(self, table: Table, name: str) -> None:
        if self.away is None:
            self._queue.append(("drop", table, name, b""))
            self._wake.set()

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._write()), loop.create_task(self._pull())]

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        with contextlib.suppress(*_FAILURES):
            await self._redis.aclose()

    # ---- a call's pull ----------------------------------------------------------------------

    async def prepare(self, job: CallJob) -> None:
        """Before the call's first attempt: the reasoning its full request would replay and this
        process lacks, pulled from Redis (one MGET), bounded by `timeout` (rule 1)."""
        turn, items = job.turn, job.body.get("input")
        if self.away is not None or turn is None or not isinstance(items, list):
            return
        now = time.monotonic()
        wanted = [
            key
            for key in turn.cache.wanted(turn.credential, items)
            if not self._known_absent(shared_name(turn.credential, key), now)
        ]
        if not wanted:
            return
        names = [shared_name(turn.credential, key) for key in wanted]
        try:
            values = await asyncio.wait_for(
                self._redis.mget([_key(Table.REASONING, name) for name in names]), self._timeout
            )
        except _FAILURES as exc:
            self._lost(exc)
            return
        for key, name, raw in zip(wanted, names, values, strict=True):
            if raw is None or not turn.cache.absorb(turn.credential, key, _loads(raw)):
                self._absent[name] = now
                while len(self._absent) > MAX_NEGATIVE:
                    self._absent.popitem(last=False)

    def _known_absent(self, name: str, now: float) -> bool:
        at = self._absent.get(name)
        if at is not None and now - at >= NEGATIVE_TTL:
            del self._absent[name]
            return False
        return at is not None

    # ---- the background tasks ---------------------------------------------------------------

    async def _write(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch = list(self._queue)
            self._queue.clear()
            if not batch or self.away is not None:
                continue
            try:
                await asyncio.wait_for(self._send(batch), BACKGROUND_TIMEOUT)
            except _FAILURES as exc:
                self._lost(exc)

    async def _send(self, batch: list[tuple[str, Table, str, bytes]]) -> None:
        pipe = self._redis.pipeline(transaction=False)
        learned = False
        for op, table, name, data in batch:
            ttl = BOUNDS[table].ttl
            if table is Table.LEARNED:
                learned = True
                if op == "put":
                    pipe.hset(_key(table), name, data)
                else:
                    pipe.hdel(_key(table), name)
            elif op == "put":
                pipe.set(_key(table, name), data, ex=int(ttl) if ttl else None)
            else:
                pipe.delete(_key(table, name))
        if learned:
            pipe.hlen(_key(Table.LEARNED))
        results = await pipe.execute()
        cap = BOUNDS[Table.LEARNED].cap
        if learned and cap is not None and isinstance(results[-1], int) and results[-1] > cap:
            await self._redis.delete(_key(Table.LEARNED))  # rule 2

    async def _pull(self) -> None:
        while True:
            try:
                learned = await asyncio.wait_for(
                    self._redis.hgetall(_key(Table.LEARNED)), BACKGROUND_TIMEOUT
                )
            except _FAILURES as exc:
                self._lost(exc)
            else:
                self._back()
                memory = self._memory()
                for raw in learned.values():
                    memory.absorb(_loads(raw))
            await asyncio.sleep(self._pull_every)

    def _lost(self, exc: BaseException) -> None:
        """Rule 1: one warning, then memory only until `_back`."""
        if self.away is None:
            self.away = str(exc) or type(exc).__name__
            self._queue.clear()
            logger.warning(
                "shared state: Redis at %s is unreachable (%s); this instance keeps its "
                "conversations' state in memory until it is back",
                self.label,
                self.away,
            )

    def _back(self) -> None:
        if self.away is not None:
            self.away = None
            self._absent.clear()
            logger.warning("shared state: Redis at %s is back; sharing again", self.label)


def _key(table: Table, name: str = "") -> str:
    return f"{PREFIX}{table.value}:{name}" if name else f"{PREFIX}{table.value}"


def _loads(raw: object) -> object:
    if not isinstance(raw, bytes | str):
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None
