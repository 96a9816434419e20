"""How late the event loop runs: the health answer's first fact (call/health.py).

A task wakes every `interval` seconds and notes how much later than asked it woke. A loop that a
long computation (or a stopped process, SIGSTOP) holds cannot answer the health check at all, and
the load balancer's timeout says so; one that was held a while ago and runs again reports the
worst lateness of the last `window` seconds, so a loop that keeps stalling is not called fine
between two stalls.

Must not: do anything on the loop but note times (it runs twice a second on every instance).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque


class LoopWatch:
    def __init__(self, interval: float = 0.5, window: float = 5.0) -> None:
        self.interval = interval
        self.window = window
        self._lags: deque[tuple[float, float]] = deque()  # (when, how late), oldest first
        self._task: asyncio.Task[None] | None = None
        self._due: float | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def lag(self) -> float:
        """The worst lateness, in seconds, of the last `window` seconds (a tick overdue now
        counts too)."""
        now = time.monotonic()
        while self._lags and now - self._lags[0][0] > self.window:
            self._lags.popleft()
        overdue = 0.0 if self._due is None else max(0.0, now - self._due)
        return max([overdue, *(lag for _, lag in self._lags)])

    async def _run(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            while True:
                self._due = time.monotonic() + self.interval
                await asyncio.sleep(self.interval)
                now = time.monotonic()
                self._lags.append((now, max(0.0, now - self._due)))
                self._due = None
                while len(self._lags) > 1 and now - self._lags[0][0] > self.window:
                    self._lags.popleft()
