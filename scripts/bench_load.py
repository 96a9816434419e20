"""The load benchmark (`scripts/bench --only load`): what a proxy process spends per request.

1000 streamed requests at concurrency 200, each of 200 workers on its own kept-alive connection,
spread over several client processes (one process alone is the bottleneck of such a run: it would
hide the proxy's cost), against (a) a mitmdump without the addon passing the upstream's
Responses SSE through untouched and (b) the addon, half the requests over each route (gpt-5-codex
over HTTP, gpt-5.5 over the WebSocket). Per run: failures, requests per second, and each proxy
process's own CPU time per request, read from `/proc/PID/stat` before and after the run (user +
system time of the mitmdump process alone: neither the client's nor the emulator's). Runs
alternate between the two proxies; the ratio is the median over runs of the addon's CPU per
request against the mean of the untouched runs just before and after it.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, ClientTimeout, TCPConnector

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far (its threads included, not its children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14, 15)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


Target = tuple[str, dict[str, Any]]


async def _worker(session: ClientSession, targets: list[Target], failures: list[str]) -> None:
    """One worker: its own connection (a session of one), its share of the requests in turn."""
    for url, body in targets:
        try:
            async with session.post(url, json=body, headers={"authorization": "Bearer sk"}) as r:
                data = await r.read()
                if r.status != 200 or not (
                    b"[DONE]" in data[-64:] or b"response.completed" in data[-4096:]
                ):
                    failures.append(f"HTTP {r.status}: {data[:120]!r}")
        except Exception as exc:  # counted, and the run goes on
            failures.append(repr(exc)[:160])


async def _client(targets: list[Target], workers: int) -> list[str]:
    failures: list[str] = []
    timeout = ClientTimeout(total=120)
    sessions = [
        ClientSession(connector=TCPConnector(limit=1), timeout=timeout) for _ in range(workers)
    ]
    try:
        shares = [targets[i::workers] for i in range(workers)]
        await asyncio.gather(
            *(_worker(s, share, failures) for s, share in zip(sessions, shares, strict=True))
        )
    finally:
        await asyncio.gather(*(s.close() for s in sessions))
    return failures


def _client_process(targets: list[Target], workers: int, out: Any) -> None:
    out.send(asyncio.run(_client(targets, workers)))
    out.close()


@dataclass
class Run:
    requests: int
    seconds: float
    cpu: float  # the proxy process's CPU seconds over the run
    failures: list[str]

    @property
    def cpu_ms_per_request(self) -> float:
        return self.cpu / self.requests * 1000

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def load_run(pid: int, targets: list[Target], concurrency: int, processes: int) -> Run:
    """`targets` (URL, body) sent by `concurrency` workers spread over `processes` client
    processes; the proxy `pid`'s CPU time is read around it."""
    per = [targets[i::processes] for i in range(processes)]
    workers = [concurrency // processes + (i < concurrency % processes) for i in range(processes)]
    pipes, children = [], []
    context = multiprocessing.get_context("fork")
    for share, count in zip(per, workers, strict=True):
        mine, theirs = context.Pipe(duplex=False)
        child = context.Process(target=_client_process, args=(share, count, theirs))
        pipes.append(mine)
        children.append(child)
    before, started = cpu_seconds(pid), time.perf_counter()
    for child in children:
        child.start()
    failures: list[str] = []
    for pipe in pipes:
        failures += pipe.recv()
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(pid) - before
    for child in children:
        child.join()
    return Run(len(targets), elapsed, cpu, failures)


def median_ratio(addon: list[Run], untouched: list[Run]) -> tuple[float, float, float]:
    """(median, min, max) of each addon run's CPU per request against the mean of the untouched
    runs just before and after it (untouched has one run more: it brackets every addon run)."""
    ratios = [
        run.cpu_ms_per_request
        / statistics.mean((untouched[i].cpu_ms_per_request, untouched[i + 1].cpu_ms_per_request))
        for i, run in enumerate(addon)
    ]
    return statistics.median(ratios), min(ratios), max(ratios)
