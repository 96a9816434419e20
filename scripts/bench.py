"""Benchmarks for chat2responses. Run with `scripts/bench`; every figure is also a ratio against a
baseline measured in the same run, because absolute numbers depend on the machine.

1. Translator CPU: a long recorded Responses stream through the whole pipeline (SSE decoding,
   event parsing, translation, chunk encoding), per upstream event, against the bare
   `json.loads` + `json.dumps` of the same events.
2. Request translation of a 200-message history (body checks included).
3. One long stream: the emulator's 2000-delta answer read by a client (a) through a mitmdump
   without the addon passing the Responses SSE through untouched, (b) through the addon over
   HTTP, (c) through the addon over WebSocket, one after the other in each round (bench_socket.py
   is the client). Whole-stream time and time to first byte, medians of several rounds after a
   warm-up; the ratios b/a and c/a, and the added first-byte time as the median over rounds of
   each round's own difference (a shared machine drifts between rounds more than the routes
   differ within one). The first byte is timed at its arrival on the client's socket; the time
   the client's read returned it is printed beside it.
4. Load: 1000 streamed requests at 200 concurrency through the addon (half each route) against
   the mean of the same through untouched mitmdump run just before and just after it; failures,
   requests per second, and the addon process's memory after each of ten such runs; the ratio
   is the median of the ten runs' (their range is printed too).
5. Conversations (`--only conversation`, `--only bigturn`): scripts/bench_conversation.py.
6. The metrics and the per-call log on against off (`--only insight`): scripts/bench_insight.py.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chat2responses.emulator.scenarios import play  # noqa: E402
from chat2responses.emulator.steps import Emit  # noqa: E402
from chat2responses.protocol.body import parse_json_body  # noqa: E402
from chat2responses.protocol.events import UpstreamSSE  # noqa: E402
from chat2responses.protocol.wire import ReasoningMode  # noqa: E402
from chat2responses.request.translate import translate_request  # noqa: E402
from chat2responses.response.chat_sinks import ChatStreamSink  # noqa: E402
from chat2responses.response.chunks import ChunkContext  # noqa: E402
from chat2responses.upstream.catalog import Catalog  # noqa: E402
from chat2responses.upstream.profiles import profile_for_url  # noqa: E402
from scripts.bench_load import load_run, median_ratio, rss_mb  # noqa: E402
from scripts.bench_socket import StreamClient  # noqa: E402
from tests.emulator_helpers import emulator_subprocess  # noqa: E402
from tests.proxy_helpers import Mitmdump, run_mitmdump  # noqa: E402

# ---- 1. translator CPU -------------------------------------------------------------------------


def recorded_stream(deltas: int) -> tuple[bytes, list[bytes]]:
    body = {
        "model": "gpt-5.5",
        "input": [{"role": "user", "content": f"[scenario:long:{deltas}]"}],
        "tools": [],
    }
    steps = play(body, response_id="resp_bench", created_at=1_764_000_000)
    payloads = [json.dumps(s.event).encode() for s in steps if isinstance(s, Emit)]
    events = [s.event for s in steps if isinstance(s, Emit)]
    sse = b"".join(
        b"event: " + e["type"].encode() + b"\ndata: " + p + b"\n\n"
        for e, p in zip(events, payloads, strict=True)
    )
    return sse, payloads


def reads(body: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(body), size):
        yield body[i : i + size]


def bench_cpu(deltas: int, repeats: int) -> dict[str, float]:
    sse, payloads = recorded_stream(deltas)
    pieces = list(reads(sse, 4096))
    ctx = ChunkContext("chatcmpl-bench", 1_764_000_000, "gpt-5.5", ReasoningMode.REASONING_CONTENT)

    def floor() -> None:
        for p in payloads:
            json.dumps(json.loads(p))

    def pipeline() -> None:
        reader, sink = UpstreamSSE(), ChatStreamSink(ctx, include_usage=True)
        for piece in pieces:
            for event in reader.feed(piece):
                sink.feed(event)
        for event in reader.finish():
            sink.feed(event)
        sink.finish()
        assert sink.error is None

    def best(fn: Any) -> float:
        times = []
        for _ in range(repeats):
            start = time.process_time()
            fn()
            times.append(time.process_time() - start)
        return min(times) / len(payloads) * 1e6

    floor_us, ours_us = best(floor), best(pipeline)
    return {"events": len(payloads), "floor_us": floor_us, "ours_us": ours_us}


def bench_request(messages: int, repeats: int) -> dict[str, float]:
    """Translating a long chat history, against json.loads + json.dumps of the same body."""
    history: list[dict[str, Any]] = [{"role": "system", "content": "You are terse."}]
    for i in range(messages // 2):
        history.append({"role": "user", "content": f"question {i} " * 20})
        history.append({"role": "assistant", "content": f"answer {i} " * 40})
    body = {"model": "gpt-5.5", "messages": history, "tools": [], "stream": True}
    raw = json.dumps(body).encode()
    catalog = Catalog.default()
    profile = profile_for_url("https://chatgpt.com/backend-api/codex")

    def best(fn: Any) -> float:
        times = []
        for _ in range(repeats * 5):
            start = time.process_time()
            fn()
            times.append(time.process_time() - start)
        return min(times) * 1e6

    ours = best(lambda: translate_request(parse_json_body(raw), catalog=catalog, profile=profile))
    floor = best(lambda: json.dumps(json.loads(raw)))
    return {"messages": len(history), "floor_us": floor, "ours_us": ours}


# ---- 3. one long stream -------------------------------------------------------------------------


@dataclass
class Proxies:
    plain: Mitmdump  # no addon: the Responses SSE passed through untouched
    addon: Mitmdump
    emulator: str  # the emulator's base URL


@contextmanager
def proxies(tmp: Path) -> Iterator[Proxies]:
    with emulator_subprocess("--log-level", "WARNING") as base:
        origin = base.split("/backend-api")[0]
        options = {"termlog_verbosity": "info", "flow_detail": "1"}  # as people run it
        addon_options = {**options, "responses_url": base, "responses_rewrite": "all"}
        (tmp / "a").mkdir()
        (tmp / "b").mkdir()
        with (
            run_mitmdump(
                # Streamed, not buffered: what the addon does with the streams it answers.
                f"reverse:{origin}",
                tmp / "a",
                {**options, "stream_large_bodies": "1"},
                addon=False,
            ) as plain,
            run_mitmdump(f"reverse:{origin}", tmp / "b", addon_options) as addon,
        ):
            yield Proxies(plain, addon, base)


def target(p: Proxies, kind: str, text: str) -> tuple[str, dict[str, Any]]:
    """(URL, body) of one streamed request: a Responses request passed through untouched, or a
    chat request rewritten onto the HTTP or the WebSocket route."""
    if kind == "untouched":
        path = urlsplit(p.emulator).path
        body = {
            "model": "gpt-5-codex",
            "instructions": "",
            "input": [{"role": "user", "content": text}],
            "stream": True,
            "store": False,
        }
        return f"http://127.0.0.1:{p.plain.port}{path}/responses", body
    model = "gpt-5-codex" if kind == "http" else "gpt-5.5"
    body = {"model": model, "stream": True, "messages": [{"role": "user", "content": text}]}
    return f"{p.addon.base_url}/chat/completions", body


def bench_stream(p: Proxies, deltas: int, rounds: int) -> dict[str, dict[str, float]]:
    """Each round reads the three routes one after the other, the rounds going through the six
    orders in turn: what ran just before a stream (the same route, another, the emulator's other
    transport) moves its first byte by up to a millisecond here, so every route follows every
    other equally often."""
    kinds = ("untouched", "http", "websocket")
    orders = list(itertools.permutations(kinds))
    text = f"[scenario:long:{deltas}]"
    got: dict[str, list[tuple[float, float, float]]] = {k: [] for k in kinds}
    client = StreamClient()
    try:
        for _ in range(2):  # warm up: connections, sockets, caches
            for kind in kinds:
                client.post(*target(p, kind, text))
        for i in range(rounds):
            for kind in orders[i % len(orders)]:
                got[kind].append(client.post(*target(p, kind, text)))
    finally:
        client.close()
    base = got["untouched"]

    def added(v: list[tuple[float, float, float]], at: int) -> float:
        # Paired by round: each round's difference to that round's untouched stream.
        return statistics.median(t[at] - b[at] for t, b in zip(v, base, strict=True))

    return {
        k: {
            "ttfb": statistics.median(t for t, _, _ in v),
            "total": statistics.median(w for _, _, w in v),
            "added": added(v, 0),
            "added_read": added(v, 1),
        }
        for k, v in got.items()
    }


# ---- 4. load ------------------------------------------------------------------------------------


def bench_load(p: Proxies, requests: int, concurrency: int, runs: int, processes: int) -> Any:
    """Runs through the addon alternate with runs through untouched mitmdump (one more, so that
    each addon run sits between two): a shared machine drifts between runs more than the two
    proxies differ, and a drift spreads over both sides of the run alike."""
    untouched = [target(p, "untouched", f"load {i}") for i in range(requests)]
    rewritten = [target(p, ("http", "websocket")[i % 2], f"load {i}") for i in range(requests)]
    plain_pid, addon_pid = p.plain.process.pid, p.addon.process.pid
    for pid, warm in ((plain_pid, untouched), (addon_pid, rewritten)):  # connections, caches
        load_run(pid, warm[: concurrency * 2], concurrency, processes)
    base = [load_run(plain_pid, untouched, concurrency, processes)]
    ours, rss = [], []
    for _ in range(runs):
        ours.append(load_run(addon_pid, rewritten, concurrency, processes))
        rss.append(rss_mb(addon_pid))
        base.append(load_run(plain_pid, untouched, concurrency, processes))
    return base, ours, rss


def bench_routes(
    p: Proxies, requests: int, concurrency: int, runs: int, processes: int
) -> dict[str, tuple[float, float, float]]:
    """Each route alone (every request over HTTP, then every one over the WebSocket), its runs
    between untouched ones as in `bench_load`: where the mixed load's CPU goes."""
    untouched = [target(p, "untouched", f"route {i}") for i in range(requests)]
    plain_pid, addon_pid = p.plain.process.pid, p.addon.process.pid
    ratios = {}
    for route in ("http", "websocket"):
        rewritten = [target(p, route, f"{route} {i}") for i in range(requests)]
        base, ours = [load_run(plain_pid, untouched, concurrency, processes)], []
        for _ in range(runs):
            ours.append(load_run(addon_pid, rewritten, concurrency, processes))
            base.append(load_run(plain_pid, untouched, concurrency, processes))
        ratios[route] = median_ratio(ours, base)
    return ratios


def run_apart(args: argparse.Namespace) -> bool:
    """The parts that start proxies of their own (scripts/bench_conversation.py,
    scripts/bench_insight.py); True when only one of them was asked for."""
    if args.only in (None, "conversation", "bigturn"):
        from scripts.bench_conversation import bench_bigturn, bench_conversation

        if args.only in (None, "conversation"):
            bench_conversation(args.turns)
        if args.only in (None, "bigturn"):
            bench_bigturn(args.turns)
    if args.only in (None, "insight"):
        from scripts.bench_insight import bench_insight

        bench_insight(args.requests, args.concurrency, args.insight_runs, args.processes)
    return args.only in ("conversation", "bigturn", "insight")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deltas", type=int, default=5000, help="events in the CPU stream")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--stream-deltas", type=int, default=2000, help="deltas of the long stream")
    # 102, a multiple of the six orders: on this shared 2-core machine one round's difference
    # between routes ranges over several milliseconds, so a 21-round median moved by ±2 ms.
    parser.add_argument("--rounds", type=int, default=102, help="rounds of the long stream")
    parser.add_argument("--requests", type=int, default=1000, help="requests per load run")
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--runs", type=int, default=10, help="load runs through the addon")
    parser.add_argument("--processes", type=int, default=4, help="client processes of the load")
    parser.add_argument(
        "--route-runs", type=int, default=3, help="load runs of each route alone (0: none)"
    )
    parser.add_argument("--turns", type=int, default=30, help="turns of the conversation loop")
    parser.add_argument(
        "--only",
        choices=("cpu", "stream", "load", "conversation", "bigturn", "insight"),
        default=None,
    )
    parser.add_argument(
        "--insight-runs", type=int, default=6, help="load runs with metrics and log on"
    )
    args = parser.parse_args()

    if args.only in (None, "cpu"):
        cpu = bench_cpu(args.deltas, args.repeats)
        print(f"Translator CPU ({cpu['events']} events, best of {args.repeats}):")
        print(f"  json.loads + json.dumps floor  {cpu['floor_us']:7.2f} µs/event")
        print(
            f"  chat2responses pipeline        {cpu['ours_us']:7.2f} µs/event"
            f"  = {cpu['ours_us'] / cpu['floor_us']:.2f} x floor (budget 1.5 x)"
        )
        req = bench_request(200, args.repeats)
        print(f"Request translation ({req['messages']} messages, best of {args.repeats * 5}):")
        print(f"  json.loads + json.dumps floor  {req['floor_us']:8.1f} µs")
        print(f"  body checks + translate_request {req['ours_us']:7.1f} µs  (budget < 1000 µs)")
    if args.only == "cpu":
        return
    if run_apart(args):
        return
    with tempfile.TemporaryDirectory() as tmp, proxies(Path(tmp)) as p:
        if args.only in (None, "stream"):
            res = bench_stream(p, args.stream_deltas, args.rounds)
            base = res["untouched"]
            print(
                f"One {args.stream_deltas}-delta stream (median of {args.rounds} rounds after "
                "2 warm-up rounds):"
            )
            print(
                f"  {'route':<11} {'whole stream':>12} {'ratio':>7} {'first byte':>11} {'added':>9}"
                f" {'(as read)':>10}"
            )
            for kind, v in res.items():
                print(
                    f"  {kind:<11} {v['total']:10.1f}ms {v['total'] / base['total']:7.2f}"
                    f" {v['ttfb']:9.2f}ms {v['added']:+8.2f}ms {v['added_read']:+8.2f}ms"
                )
            print("  budgets: ratio ≤ 1.25 (http), ≤ 1.40 (websocket); added first byte ≤ 2 ms")
            print(
                "  first byte: its arrival at the client's socket (kernel time stamp); as read: "
                "when the client's read returned it"
            )
        if args.only in (None, "load"):
            print_load(p, args)


def print_load(p: Proxies, args: argparse.Namespace) -> None:
    base, ours, rss = bench_load(p, args.requests, args.concurrency, args.runs, args.processes)
    print(
        f"Load: {args.requests} streamed requests at concurrency {args.concurrency}, one "
        f"kept-alive connection per worker, {args.processes} client processes; {args.runs} runs "
        "through the addon (half per route), each between two through untouched mitmdump:"
    )
    for i, run in enumerate(ours):
        around = (base[i], base[i + 1])
        print(
            f"  run {i + 1:2}: addon {run.rps:6.1f} req/s, "
            f"{run.cpu_ms_per_request:5.2f} ms CPU/req, {len(run.failures)} failures, "
            f"RSS {rss[i]:6.1f} MB | untouched "
            f"{statistics.mean(r.rps for r in around):6.1f} req/s, "
            f"{statistics.mean(r.cpu_ms_per_request for r in around):5.2f} ms CPU/req"
        )
    failures = [f for run in ours for f in run.failures]
    for failure in failures[:3]:
        print(f"    e.g. {failure}")
    mid, low, high = median_ratio(ours, base)
    rps = [r.rps / statistics.mean((base[i].rps, base[i + 1].rps)) for i, r in enumerate(ours)]
    print(
        f"  CPU per request vs untouched: median {mid:.2f} x (range {low:.2f} to {high:.2f}; "
        "budget 1.5 x)"
    )
    print(
        f"  requests per second vs untouched: median {statistics.median(rps):.1%} "
        f"(range {min(rps):.1%} to {max(rps):.1%}; budget 60 %)"
    )
    print(
        f"  failures: addon {len(failures)}, untouched {sum(len(r.failures) for r in base)}; "
        f"RSS after run {args.runs} vs run 1: {rss[-1] / rss[0] - 1:+.1%} (budgets: 0, within 10 %)"
    )
    if args.route_runs > 0:
        routes = bench_routes(p, args.requests, args.concurrency, args.route_runs, args.processes)
        shown = ", ".join(
            f"{name} median {mid:.2f} x ({low:.2f} to {high:.2f})"
            for name, (mid, low, high) in (
                ("HTTP", routes["http"]),
                ("WebSocket", routes["websocket"]),
            )
        )
        print(
            f"  CPU per request vs untouched, each route alone ({args.route_runs} runs each; "
            f"not a budget): {shown}"
        )


if __name__ == "__main__":
    main()
