"""Benchmarks for chat2responses. Run with `scripts/bench`; every figure is also a ratio against a
baseline measured in the same run, because absolute numbers depend on the machine.

1. Translator CPU: a long recorded Responses stream through the whole pipeline (SSE decoding,
   event parsing, translation, chunk encoding), per upstream event, against the bare
   `json.loads` + `json.dumps` of the same events.
2. Added latency: one mitmdump with the addon in front of a local SSE upstream; the same events
   (each carrying its send time) reach the client untouched (a model the catalog does not list,
   passed through) and translated (gpt-5.5 on each route). Per-chunk latency and time to first
   chunk are medians; "added" is translated minus untouched.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from addon.catalog import Catalog  # noqa: E402
from addon.emulator.builder import Emit  # noqa: E402
from addon.emulator.scenarios import play  # noqa: E402
from addon.pipeline import ChatStreamPipeline, ChunkContext  # noqa: E402
from addon.profiles import profile_for_url  # noqa: E402
from addon.translate_request import translate_request  # noqa: E402
from addon.wire import ReasoningMode  # noqa: E402
from tests.proxy_helpers import run_mitmdump  # noqa: E402

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
        pipe = ChatStreamPipeline(ctx, include_usage=True)
        for piece in pieces:
            pipe.feed(piece)
        pipe.finish()
        assert pipe.error is None

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

    ours = best(lambda: translate_request(json.loads(raw), catalog=catalog, profile=profile))
    floor = best(lambda: json.dumps(json.loads(raw)))
    return {"messages": len(history), "floor_us": floor, "ours_us": ours}


# ---- 2. added latency --------------------------------------------------------------------------


def timed_events(count: int, model: str) -> Iterator[dict[str, Any]]:
    """A Responses stream whose text deltas carry their send time (monotonic ns) as text."""
    response = {
        "id": "resp_bench",
        "object": "response",
        "created_at": 1_764_000_000,
        "model": model,
        "status": "in_progress",
        "output": [],
    }
    yield {"type": "response.created", "sequence_number": 0, "response": response}
    item = {"id": "msg_1", "type": "message", "role": "assistant", "status": "in_progress"}
    yield {"type": "response.output_item.added", "output_index": 0, "item": {**item, "content": []}}
    for i in range(count):
        yield {
            "type": "response.output_text.delta",
            "sequence_number": i + 2,
            "item_id": "msg_1",
            "output_index": 0,
            "content_index": 0,
            "delta": f"{time.monotonic_ns()} ",
            "logprobs": [],
        }
    yield {
        "type": "response.completed",
        "response": {**response, "status": "completed", "output": []},
    }


async def upstream_app(count: int, gap: float) -> web.Application:
    async def sse(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for event in timed_events(count, str(body.get("model"))):
            data = json.dumps(event)
            await response.write(f"event: {event['type']}\ndata: {data}\n\n".encode())
            await asyncio.sleep(gap)
        await response.write_eof()
        return response

    async def ws(request: web.Request) -> web.StreamResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        async for message in socket:
            body = json.loads(message.data)
            for event in timed_events(count, str(body.get("model"))):
                await socket.send_str(json.dumps(event))
                await asyncio.sleep(gap)
        return socket

    async def responses(request: web.Request) -> web.StreamResponse:
        if request.headers.get("upgrade", "").lower() == "websocket":
            return await ws(request)
        return await sse(request)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", sse)  # the untouched path
    app.router.add_route("*", "/v1/responses", responses)
    return app


async def one_call(session: ClientSession, url: str, model: str) -> tuple[float, list[float]]:
    """(time to first chunk, per-chunk latencies) in ms for one streamed call."""
    body = {"model": model, "stream": True, "messages": [{"role": "user", "content": "go"}]}
    started = time.monotonic_ns()
    first: float | None = None
    latencies: list[float] = []
    async with session.post(url, json=body, headers={"authorization": "Bearer x"}) as resp:
        assert resp.status == 200, await resp.text()
        buffer = b""
        async for data in resp.content.iter_any():
            now = time.monotonic_ns()
            buffer += data
            *events, buffer = buffer.split(b"\n\n")
            for event in events:
                sent = _sent_at(event)
                if sent is None:
                    continue
                if first is None:
                    first = (now - started) / 1e6
                latencies.append((now - sent) / 1e6)
    assert first is not None and latencies
    return first, latencies


def _sent_at(event: bytes) -> int | None:
    for line in event.split(b"\n"):
        if not line.startswith(b"data: ") or line == b"data: [DONE]":
            continue
        obj = json.loads(line[6:])
        text = obj.get("delta") if "delta" in obj and isinstance(obj["delta"], str) else None
        if text is None and obj.get("choices"):
            text = obj["choices"][0]["delta"].get("content")
        if text and text.strip().isdigit():
            return int(text.strip())
    return None


async def bench_latency(count: int, gap: float, calls: int) -> dict[str, dict[str, float]]:
    runner = web.AppRunner(await upstream_app(count, gap), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    results: dict[str, dict[str, list[float]]] = {}
    paths = {"untouched": "bench-passthrough", "http": "bench-http", "websocket": "bench-ws"}
    with tempfile.TemporaryDirectory() as tmp:
        catalog = Path(tmp) / "catalog.json"
        catalog.write_text(
            json.dumps({"models": [_entry("bench-http", False), _entry("bench-ws", True)]})
        )
        mitm_opts = {
            "responses_rewrite": "catalog",
            "responses_url": f"http://127.0.0.1:{port}/v1",
            "responses_catalog": str(catalog),
            "termlog_verbosity": "info",  # as people run it: one line per call
        }
        with run_mitmdump(f"reverse:http://127.0.0.1:{port}", Path(tmp), mitm_opts) as proxy:
            url = proxy.base_url + "/chat/completions"
            async with ClientSession() as session:
                for model in paths.values():  # warm up: connections, and the learned routes
                    await one_call(session, url, model)
                for _ in range(calls):
                    for name, model in paths.items():
                        ttfc, lat = await one_call(session, url, model)
                        entry = results.setdefault(name, {"ttfc": [], "latency": []})
                        entry["ttfc"].append(ttfc)
                        entry["latency"].extend(lat)
    await runner.cleanup()
    return {
        name: {"ttfc": statistics.median(v["ttfc"]), "latency": statistics.median(v["latency"])}
        for name, v in results.items()
    }


def _entry(slug: str, websocket: bool) -> dict[str, Any]:
    return {
        "slug": slug,
        "prefer_websockets": websocket,
        "supported_reasoning_levels": [{"effort": "low"}, {"effort": "medium"}],
        "default_reasoning_level": "medium",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deltas", type=int, default=5000, help="events in the CPU stream")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--chunks", type=int, default=200, help="chunks per latency call")
    parser.add_argument("--gap-ms", type=float, default=2.0, help="upstream gap between events")
    parser.add_argument("--calls", type=int, default=20, help="latency calls per route")
    args = parser.parse_args()

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
    print(
        f"  json.loads + translate_request {req['ours_us']:8.1f} µs"
        f"  = {req['ours_us'] / req['floor_us']:.2f} x floor (budget < 1000 µs)"
    )
    lat = asyncio.run(bench_latency(args.chunks, args.gap_ms / 1000, args.calls))
    base = lat["untouched"]
    print(
        f"Latency through mitmdump ({args.calls} calls x {args.chunks} chunks per route, medians):"
    )
    print(f"  {'route':<11} {'per chunk':>10} {'added':>9}   {'first chunk':>11} {'added':>9}")
    for name, v in lat.items():
        added_chunk = v["latency"] - base["latency"]
        added_first = v["ttfc"] - base["ttfc"]
        print(
            f"  {name:<11} {v['latency']:8.3f}ms {added_chunk:+8.3f}ms   "
            f"{v['ttfc']:9.3f}ms {added_first:+8.3f}ms"
        )
    print("  budgets: added per chunk ≤ 0.3 ms (http), ≤ 1 ms (websocket); first chunk ≤ 2 ms")


if __name__ == "__main__":
    main()
