"""What the metrics and the per-call log cost (`scripts/bench --only insight`).

Two mitmdumps with the addon in front of one emulator: one with `responses_metrics` and
`responses_calls_log` off (the default), one with both on. Load runs (streamed requests, half per
route) alternate between them, each run through the "on" proxy held against the mean of the
"off" runs just before and just after it (a shared machine drifts between runs more than the two
differ). The budget: requests per second with both on at least 95 % of with both off.

"Nothing when off" is the code's shape, shown by counting: with the options off the addon makes
no `Metrics` and no `CallsLog`, so neither runs per call; the in-process cost of what runs when
they are on (`Metrics.observe` and `CallsLog.write` of one call's record) is timed beside it, and
held against the CPU the "off" proxy spent per request in its runs (read from /proc): on a
shared machine the load runs' ratio moves by ±15 % from run to run, the CPU share does not.
Afterwards the "on" proxy's /metrics must count every request and its log hold one line each.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import timeit
import urllib.request
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, ClientTimeout, TCPConnector
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chat2responses.call.digests import digests_of  # noqa: E402
from chat2responses.call.record import CallRecord  # noqa: E402
from chat2responses.transports.calls_log import CallsLog  # noqa: E402
from chat2responses.transports.metrics import Metrics  # noqa: E402
from tests.emulator_helpers import emulator_subprocess  # noqa: E402
from tests.mitmweb_helpers import free_port  # noqa: E402
from tests.proxy_helpers import Mitmdump, run_mitmdump  # noqa: E402

BUDGET = 0.95


async def load_run(proxy: Mitmdump, requests: int, concurrency: int) -> tuple[int, float]:
    """(failures, requests per second) of `requests` streamed chat calls through `proxy`."""
    gate = asyncio.Semaphore(concurrency)
    failures = 0

    async def one(i: int, session: ClientSession) -> None:
        nonlocal failures
        model = "gpt-5-codex" if i % 2 else "gpt-5.5"  # HTTP and the WebSocket route
        body = {"model": model, "stream": True, "messages": [{"role": "user", "content": f"{i}"}]}
        async with gate:
            try:
                async with session.post(
                    f"{proxy.base_url}/chat/completions",
                    json=body,
                    headers={"authorization": "Bearer sk-bench"},
                ) as answer:
                    data = await answer.read()
                    if answer.status != 200 or b"[DONE]" not in data:
                        failures += 1
            except Exception:  # counted, and the run goes on
                failures += 1

    connector = TCPConnector(limit=concurrency)
    async with ClientSession(connector=connector, timeout=ClientTimeout(total=120)) as session:
        started = time.perf_counter()
        await asyncio.gather(*(one(i, session) for i in range(requests)))
        elapsed = time.perf_counter() - started
    return failures, requests / elapsed


def per_call_us(tmp: Path, repeats: int = 2000) -> dict[str, float]:
    """The in-process cost of one call's metrics and log line, in µs (when on)."""
    body = {"model": "gpt-5.5", "input": [{"role": "user", "content": "x" * 200}] * 4}
    record = CallRecord(id="bench", at=time.time(), model="gpt-5.5", route="websocket",
                        status=200, input_tokens=1200, cached_tokens=1100, output_tokens=40,
                        reasoning_tokens=12, first_token_ms=120.0, c2r_ms=1.1, upstream_ms=100.0,
                        total_ms=400.0, quota_used={"5 h": 3.0}, account="acct",
                        digests=digests_of(body))  # fmt: skip
    metrics, log = Metrics(), CallsLog(str(tmp / "bench.jsonl"))
    try:
        observe = min(timeit.repeat(lambda: metrics.observe(record), number=repeats, repeat=3))
        write = min(timeit.repeat(lambda: log.write(record), number=repeats, repeat=3))
    finally:
        log.close()
    return {"metrics": observe / repeats * 1e6, "log": write / repeats * 1e6}


def _counted(url: str) -> float:
    with urllib.request.urlopen(url, timeout=10) as answer:
        families = text_string_to_metric_families(answer.read().decode())
        return sum(
            s.value for f in families for s in f.samples if s.name == "chat2responses_calls_total"
        )


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of process `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _alternate(
    off: Mitmdump, on: Mitmdump, requests: int, concurrency: int, runs: int
) -> dict[str, Any]:
    """Load runs, "on" between two "off" ones; each proxy's CPU during its own runs."""
    await load_run(off, requests // 4, concurrency)  # warm up both
    await load_run(on, requests // 4, concurrency)
    cpu = {"off": 0.0, "on": 0.0}

    async def measured(name: str, proxy: Mitmdump) -> tuple[int, float]:
        start = cpu_seconds(proxy.process.pid)
        got = await load_run(proxy, requests, concurrency)
        cpu[name] += cpu_seconds(proxy.process.pid) - start
        return got

    failures, before = await measured("off", off)
    results = []
    for _ in range(runs):
        fail, rps = await measured("on", on)
        after_fail, after = await measured("off", off)
        failures += fail + after_fail
        results.append((rps, (before + after) / 2))
        before = after
    return {
        "failures": failures,
        "runs": results,
        "cpu_us": cpu["off"] / (requests * (runs + 1)) * 1e6,
        "cpu_on_us": cpu["on"] / (requests * runs) * 1e6,
    }


def bench_insight(requests: int, concurrency: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as scratch, emulator_subprocess(
        "--log-level", "WARNING"
    ) as base:  # fmt: skip
        tmp = Path(scratch)
        costs = per_call_us(tmp)
        origin = base.split("/backend-api")[0]
        common = {"termlog_verbosity": "info", "flow_detail": "1", "responses_url": base,
                  "responses_rewrite": "all"}  # fmt: skip
        port, log = free_port(), tmp / "calls.jsonl"
        insight = {"responses_metrics": f"127.0.0.1:{port}", "responses_calls_log": str(log)}
        (tmp / "off").mkdir()
        (tmp / "on").mkdir()
        with (
            run_mitmdump(f"reverse:{origin}", tmp / "off", common) as off,
            run_mitmdump(f"reverse:{origin}", tmp / "on", {**common, **insight}) as on,
        ):
            got = asyncio.run(_alternate(off, on, requests, concurrency, runs))
            served = requests // 4 + runs * requests
            counted = _counted(f"http://127.0.0.1:{port}/metrics")
            lines = len(log.read_text().splitlines())
    print(
        f"Metrics and the per-call log: {requests} streamed requests at concurrency "
        f"{concurrency}, {runs} runs with both on, each between two runs with both off:"
    )
    cost = costs["metrics"] + costs["log"]
    print(
        f"  in-process cost per call when on: metrics {costs['metrics']:.1f} µs, "
        f"log line {costs['log']:.1f} µs; when off: neither is made (0 per call)"
    )
    print(
        f"  = {cost / got['cpu_us']:.2%} of the {got['cpu_us'] / 1000:.2f} ms of CPU the 'off' "
        f"proxy spent per request (budget ≤ {1 - BUDGET:.0%})"
    )
    print(
        f"  CPU per request, read from /proc during each proxy's own runs: on "
        f"{got['cpu_on_us'] / 1000:.2f} ms, off {got['cpu_us'] / 1000:.2f} ms = "
        f"{got['cpu_on_us'] / got['cpu_us'] - 1:+.1%}"
    )
    for i, (rps, base) in enumerate(got["runs"], 1):
        print(f"  run {i:2}: on {rps:6.1f} req/s = {rps / base:6.1%} of off ({base:6.1f} req/s)")
    ratios = [rps / base for rps, base in got["runs"]]
    print(
        f"  requests per second on vs off: median {statistics.median(ratios):.1%} (range "
        f"{min(ratios):.1%} to {max(ratios):.1%}; budget ≥ {BUDGET:.0%}; two proxies with "
        f"the same options differ by ±15 % here on a busy shared machine), "
        f"{got['failures']} failures"
    )
    print(
        f"  the 'on' proxy counted {counted:.0f} calls in /metrics and logged {lines} lines, "
        f"of {served} requests"
    )
    share = cost / got["cpu_us"]
    cpu_ratio = got["cpu_on_us"] / got["cpu_us"]
    print(
        json.dumps(
            {"rps_ratio": statistics.median(ratios), "cpu_share": share, "cpu_ratio": cpu_ratio}
            | costs
        )
    )
