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
"""

from __future__ import annotations

import argparse
import asyncio
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

from aiohttp import ClientSession, ClientTimeout, TCPConnector

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chat2responses.emulator.builder import Emit  # noqa: E402
from chat2responses.emulator.scenarios import play  # noqa: E402
from chat2responses.protocol.body import parse_json_body  # noqa: E402
from chat2responses.protocol.events import UpstreamSSE  # noqa: E402
from chat2responses.protocol.wire import ReasoningMode  # noqa: E402
from chat2responses.request.translate import translate_request  # noqa: E402
from chat2responses.response.chat_sinks import ChatStreamSink  # noqa: E402
from chat2responses.response.chunks import ChunkContext  # noqa: E402
from chat2responses.upstream.catalog import Catalog  # noqa: E402
from chat2responses.upstream.profiles import profile_for_url  # noqa: E402
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


async def read_stream(
    session: ClientSession, url: str, body: dict[str, Any]
) -> tuple[float, float]:
    """(time to first byte, whole-stream time) in ms; raises unless the stream ends properly."""
    started = time.perf_counter()
    first: float | None = None
    tail, ended = b"", False
    async with session.post(url, json=body, headers={"authorization": "Bearer sk-bench"}) as r:
        if r.status != 200:
            raise RuntimeError(f"{url}: HTTP {r.status}: {(await r.read())[:200]!r}")
        async for data in r.content.iter_any():
            if first is None:
                first = time.perf_counter()
            window = tail + data
            ended = ended or b"[DONE]" in window or b"event: response.completed" in window
            tail = window[-64:]
    end = time.perf_counter()
    if not ended:
        raise RuntimeError(f"{url}: the stream did not end properly: {tail[-120:]!r}")
    assert first is not None
    return (first - started) * 1000, (end - started) * 1000


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


async def load_run(
    p: Proxies, kinds: tuple[str, ...], requests: int, concurrency: int
) -> tuple[int, float]:
    """(failures, requests per second) of `requests` streamed calls, `concurrency` at a time."""
    gate = asyncio.Semaphore(concurrency)
    failures = 0

    async def one(i: int, session: ClientSession) -> None:
        nonlocal failures
        async with gate:
            try:
                await read_stream(session, *target(p, kinds[i % len(kinds)], f"load {i}"))
            except Exception:  # counted, and the run goes on
                failures += 1

    connector = TCPConnector(limit=concurrency)
    async with ClientSession(connector=connector, timeout=ClientTimeout(total=120)) as session:
        started = time.perf_counter()
        await asyncio.gather(*(one(i, session) for i in range(requests)))
        elapsed = time.perf_counter() - started
    return failures, requests / elapsed


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def bench_load(p: Proxies, requests: int, concurrency: int, runs: int) -> dict[str, Any]:
    """Each run through the addon sits between two runs through untouched mitmdump, and is held
    against their mean: a shared machine drifts between runs more than the two proxies differ,
    and a drift spreads over both sides of the run alike."""
    base_fail, before = await load_run(p, ("untouched",), requests, concurrency)
    results = []
    for _ in range(runs):
        fail, rps = await load_run(p, ("http", "websocket"), requests, concurrency)
        rss = rss_mb(p.addon.process.pid)
        after_fail, after = await load_run(p, ("untouched",), requests, concurrency)
        base_fail += after_fail
        results.append((fail, rps, (before + after) / 2, rss))
        before = after
    return {"base_fail": base_fail, "runs": results}


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
    parser.add_argument("--turns", type=int, default=30, help="turns of the conversation loop")
    parser.add_argument(
        "--only", choices=("cpu", "stream", "load", "conversation", "bigturn"), default=None
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
    if args.only in (None, "conversation", "bigturn"):
        from scripts.bench_conversation import bench_bigturn, bench_conversation

        if args.only in (None, "conversation"):
            bench_conversation(args.turns)
        if args.only in (None, "bigturn"):
            bench_bigturn(args.turns)
        if args.only in ("conversation", "bigturn"):
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
            load = asyncio.run(bench_load(p, args.requests, args.concurrency, args.runs))
            print(
                f"Load: {args.requests} streamed requests at concurrency {args.concurrency} "
                f"({args.runs} runs through the addon, half per route):"
            )
            print(f"  untouched mitmdump: {load['base_fail']} failures in {args.runs + 1} runs")
            for i, (fail, rps, base, rss) in enumerate(load["runs"], 1):
                print(
                    f"  run {i:2}: addon {rps:6.1f} req/s = {rps / base:5.1%} of untouched "
                    f"({base:6.1f} req/s, mean of the runs before and after), {fail} failures, "
                    f"RSS {rss:6.1f} MB"
                )
            ratios = [rps / base for _, rps, base, _ in load["runs"]]
            print(
                f"  requests per second vs untouched: median {statistics.median(ratios):.1%} of "
                f"the {args.runs} runs (range {min(ratios):.1%} to {max(ratios):.1%}, "
                f"{sum(r >= 0.6 for r in ratios)} of {args.runs} at or above 60 %)"
            )
            first, last = load["runs"][0][3], load["runs"][-1][3]
            print(
                f"  RSS after run {args.runs} vs run 1: {last / first - 1:+.1%} "
                "(budgets: 0 failures, ≥ 60 % of untouched, RSS within 10 %)"
            )


if __name__ == "__main__":
    main()
