"""What the metrics and the per-call log cost (`scripts/bench --only insight`).

Two mitmdumps with the addon in front of one emulator, the same in all but two options: "off"
with `responses_metrics` and `responses_calls_log` unset (the default), "on" with both set. The
same load (scripts/bench_load.py: streamed chat requests, half per route, one kept-alive
connection per worker over several client processes) goes through each in turn, "off" first and
last, so that each "on" run sits between two "off" runs (a shared machine drifts between runs
more than the two differ). Per run: requests per second, failures, and the proxy process's own
CPU time per request read from /proc/PID/stat. The budget: with both on, at most 5 % more CPU per
request, and at least 95 % of the requests per second (the medians over the runs of each "on"
run against the mean of the "off" runs around it).

"Nothing when off" is the code's shape: with the options unset the addon makes no `Metrics` and
no `CallsLog`, so nothing of either runs per call. What runs per call when on
(`Metrics.observe` and `CallsLog.write` of one record) is also timed in-process and held against
the CPU the "off" proxy spent per request. Afterwards the "on" proxy's /metrics must count every
request it served and its log hold one line for each.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
import timeit
import urllib.request
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chat2responses.call.digests import digests_of  # noqa: E402
from chat2responses.call.record import CallRecord  # noqa: E402
from chat2responses.transports.calls_log import CallsLog  # noqa: E402
from chat2responses.transports.metrics import Metrics  # noqa: E402
from scripts.bench_load import Run, Target, load_run, median_ratio  # noqa: E402
from tests.emulator_helpers import emulator_subprocess  # noqa: E402
from tests.mitmweb_helpers import free_port  # noqa: E402
from tests.proxy_helpers import Mitmdump, run_mitmdump  # noqa: E402

CPU_BUDGET = 1.05  # CPU per request, on against off
RPS_BUDGET = 0.95  # requests per second, on against off


def targets(proxy: Mitmdump, requests: int) -> list[Target]:
    """`requests` streamed chat calls through `proxy`, half per route."""
    return [
        (
            f"{proxy.base_url}/chat/completions",
            {
                "model": ("gpt-5-codex", "gpt-5.5")[i % 2],  # HTTP, the WebSocket
                "stream": True,
                "messages": [{"role": "user", "content": f"insight {i}"}],
            },
        )
        for i in range(requests)
    ]


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


def alternate(
    off: Mitmdump, on: Mitmdump, *, requests: int, concurrency: int, runs: int, processes: int
) -> tuple[list[Run], list[Run], int]:
    """The "off" runs (one more: they bracket each "on" run), the "on" runs, and how many
    requests went through "on" in all (its warm-up included)."""
    loads = {name: targets(proxy, requests) for name, proxy in (("off", off), ("on", on))}
    warm = min(requests, concurrency * 2)
    for name, proxy in (("off", off), ("on", on)):  # connections, sockets, caches
        load_run(proxy.process.pid, loads[name][:warm], concurrency, processes)
    base = [load_run(off.process.pid, loads["off"], concurrency, processes)]
    ours = []
    for _ in range(runs):
        ours.append(load_run(on.process.pid, loads["on"], concurrency, processes))
        base.append(load_run(off.process.pid, loads["off"], concurrency, processes))
    return base, ours, warm + runs * requests


def bench_insight(requests: int, concurrency: int, runs: int, processes: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch, emulator_subprocess(
        "--log-level", "WARNING"
    ) as base_url:  # fmt: skip
        tmp = Path(scratch)
        costs = per_call_us(tmp)
        origin = base_url.split("/backend-api")[0]
        common = {"termlog_verbosity": "info", "flow_detail": "1", "responses_url": base_url,
                  "responses_rewrite": "all"}  # fmt: skip
        port, log = free_port(), tmp / "calls.jsonl"
        insight = {"responses_metrics": f"127.0.0.1:{port}", "responses_calls_log": str(log)}
        (tmp / "off").mkdir()
        (tmp / "on").mkdir()
        with (
            run_mitmdump(f"reverse:{origin}", tmp / "off", common) as off,
            run_mitmdump(f"reverse:{origin}", tmp / "on", {**common, **insight}) as on,
        ):
            base, ours, served = alternate(
                off, on, requests=requests, concurrency=concurrency, runs=runs, processes=processes
            )
            time.sleep(1)  # the log is flushed within a second of the last call
            counted = _counted(f"http://127.0.0.1:{port}/metrics")
            lines = len(log.read_text().splitlines())
    shape = (requests, concurrency, processes)
    return report(base, ours, costs=costs, served=served, counted=counted, lines=lines, shape=shape)


def report(
    base: list[Run],
    ours: list[Run],
    *,
    costs: dict[str, float],
    served: int,
    counted: float,
    lines: int,
    shape: tuple[int, int, int],
) -> dict[str, Any]:
    requests, concurrency, processes = shape
    print(
        f"Metrics and the per-call log: {requests} streamed requests at concurrency "
        f"{concurrency}, {processes} client processes; {len(ours)} runs with both on, each "
        "between two with both off:"
    )
    for i, run in enumerate(ours):
        around = (base[i], base[i + 1])
        print(
            f"  run {i + 1:2}: on {run.rps:6.1f} req/s, {run.cpu_ms_per_request:5.2f} ms CPU/req, "
            f"{len(run.failures)} failures | off {statistics.mean(r.rps for r in around):6.1f} "
            f"req/s, {statistics.mean(r.cpu_ms_per_request for r in around):5.2f} ms CPU/req"
        )
    failures = [f for run in [*ours, *base] for f in run.failures]
    for failure in failures[:3]:
        print(f"    e.g. {failure}")
    cpu, cpu_low, cpu_high = median_ratio(ours, base)
    rps = [r.rps / statistics.mean((base[i].rps, base[i + 1].rps)) for i, r in enumerate(ours)]
    print(
        f"  CPU per request, on / off: median {cpu:.3f} (range {cpu_low:.3f} to {cpu_high:.3f}; "
        f"budget ≤ {CPU_BUDGET:.2f})"
    )
    print(
        f"  requests per second, on / off: median {statistics.median(rps):.3f} (range "
        f"{min(rps):.3f} to {max(rps):.3f}; budget ≥ {RPS_BUDGET:.2f}); {len(failures)} failures"
    )
    off_us = statistics.mean(r.cpu_ms_per_request for r in base) * 1000
    own = costs["metrics"] + costs["log"]
    print(
        f"  in-process, per call when on: metrics {costs['metrics']:.1f} µs + log line "
        f"{costs['log']:.1f} µs = {own / off_us:.2%} of the {off_us / 1000:.2f} ms of CPU the "
        "'off' proxy spent per request; when off neither is made (nothing per call)"
    )
    print(
        f"  the 'on' proxy counted {counted:.0f} calls in /metrics and logged {lines} lines, "
        f"of {served} requests it served"
    )
    result = {
        "cpu_ratio": cpu,
        "rps_ratio": statistics.median(rps),
        "in_process_share": own / off_us,
        "failures": len(failures),
        "counted": counted,
        "logged": lines,
        "served": served,
    } | costs
    print(json.dumps(result))
    return result
