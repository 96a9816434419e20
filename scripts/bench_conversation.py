"""The conversation benchmarks (`scripts/bench --only conversation` and `--only bigturn`).

A tool loop — a system prompt, each turn one tool call answered with a tool result — driven by
the openai SDK through the addon (gpt-5.5: the WebSocket route, continuation on), and in the same
run the same loop by a Responses client calling the emulator directly over HTTP with the full
context every turn and a fixed `prompt_cache_key` (the best a stateless client can do).

- `conversation`: a 30-turn loop, 40 KB system prompt, 2 KB results, against the emulator with
  its latency model on. Per turn: upstream request bytes, cached-token share, time to first token.
- `bigturn`: Codex-sized requests, a 30-turn loop from about 430 KB to 720 KB (a 420 KB system
  prompt, 10 KB results), the emulator's latency model off: the time to first token is then the
  client's, the proxy's and the emulator's own time, and the addon's own time per turn is its
  first token less the direct client's.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.emulator_helpers import emulator_subprocess  # noqa: E402
from tests.proxy_helpers import Mitmdump, run_mitmdump  # noqa: E402

LATENCY = ("--rtt-ms", "20", "--upload-kbps", "10000")
PREFILL = ("--prefill-us-per-token", "40", "--prefill-us-per-cached-token", "4")
_RULES = "You are a careful coding agent. Follow the repository's conventions. "


@dataclass(frozen=True)
class Loop:
    """One tool loop's sizes."""

    system: str
    result: str


SMALL = Loop(_RULES * 580, "x" * 2048)  # 40 KB, 2 KB
BIG = Loop(
    _RULES * 6100, ("    line = read(source, offset)  # a tool's output\n" * 200)
)  # 420 KB, 10 KB
TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "read_file",
            "description": "Read a file",
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
        },
    }
]
_SUMMARY = re.compile(r"· gpt-5\.5 → gpt-5\.5\b")  # the call's console line, however it goes on
_CONTINUED = re.compile(r"continued (\d+) of (\d+) items, ([\d.]+) of ([\d.]+) KB")


def addon_loop(proxy: Mitmdump, turns: int, loop: Loop = SMALL) -> Iterator[dict[str, float]]:
    api = openai.OpenAI(base_url=proxy.base_url, api_key="sk-bench", max_retries=0)
    messages: list[Any] = [
        {"role": "system", "content": loop.system},
        {"role": "user", "content": "[scenario:tool] refactor the module"},
    ]
    for turn in range(turns):
        before = len(proxy.lines)
        started = time.perf_counter()
        first: float | None = None
        calls: dict[int, dict[str, Any]] = {}
        usage: Any = None
        stream = api.chat.completions.create(
            model="gpt-5.5",
            messages=messages,
            tools=TOOLS,
            stream=True,
            stream_options={"include_usage": True},
        )
        for chunk in stream:
            if chunk.usage is not None:
                usage = chunk.usage
            for choice in chunk.choices:
                for tc in choice.delta.tool_calls or ():
                    if first is None:
                        first = time.perf_counter()
                    call = calls.setdefault(tc.index, {"id": tc.id, "name": "", "args": ""})
                    if tc.function and tc.function.name:
                        call["name"] = tc.function.name
                    if tc.function and tc.function.arguments:
                        call["args"] += tc.function.arguments
        assert first is not None and calls and usage is not None
        call = calls[0]
        messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": call["name"], "arguments": call["args"]},
                    }
                ],
            }
        )
        messages.append({"role": "tool", "tool_call_id": call["id"], "content": loop.result})
        sent, full = _upstream_kb(proxy, before, messages)
        details = usage.prompt_tokens_details
        cached = (details.cached_tokens or 0) if details else 0
        yield (
            {
                "turn": turn + 1,
                "sent_kb": sent,
                "full_kb": full,
                "cached": cached / usage.prompt_tokens,
                "ttft": (first - started) * 1000,
            }
        )


SETTLE = 0.3  # seconds between turns


def lockstep(
    ours: Iterator[dict[str, float]], theirs: Iterator[dict[str, float]]
) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
    """Both loops a turn at a time, the order within each turn's pair alternating, so that what
    the machine is doing meanwhile weighs on both alike (one loop after the other drifts); each
    turn starts after a pause, so that what the one before left to do (the proxy's report, the
    emulator remembering the response) is not counted against the next."""
    mine: list[dict[str, float]] = []
    others: list[dict[str, float]] = []
    while True:
        pulls = ((ours, mine), (theirs, others))
        for loop, rows in pulls if len(mine) % 2 == 0 else pulls[::-1]:
            time.sleep(SETTLE)
            row = next(loop, None)
            if row is None:
                return mine, others
            rows.append(row)


def _upstream_kb(proxy: Mitmdump, before: int, messages: list[Any]) -> tuple[float, float]:
    """What went upstream for the last call (the summary says it when it continued), and what
    the full request is (estimated from the history when the summary has no figures)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = [line for line in proxy.lines[before:] if _SUMMARY.search(line)]
        if lines:
            found = _CONTINUED.search(lines[-1])
            if found:
                return float(found.group(3)), float(found.group(4))
            break
        time.sleep(0.01)
    full = len(json.dumps(messages[:-2])) / 1024  # the request this turn answered
    return full, full


def direct_loop(base: str, turns: int, loop: Loop = SMALL) -> Iterator[dict[str, float]]:
    """The best a stateless Responses client can do: full context, a fixed cache key (the same
    openai SDK as the chat client, so both sides pay the same client costs)."""
    api = openai.OpenAI(base_url=base, api_key="sk-bench", max_retries=0)
    items: list[Any] = [{"role": "user", "content": "[scenario:tool] refactor the module"}]
    tools: Any = [{"type": "function", **TOOLS[0]["function"]}]
    for turn in range(turns):
        body = {
            "model": "gpt-5.5",
            "instructions": loop.system,
            "input": items,
            "tools": tools,
            "store": False,
            "include": ["reasoning.encrypted_content"],
            "prompt_cache_key": "bench-direct",
        }
        size = len(json.dumps({**body, "stream": True}))
        started = time.perf_counter()
        first: float | None = None
        output: list[Any] = []
        usage: Any = None
        stream = api.responses.create(stream=True, **body)  # type: ignore[call-overload]
        for event in stream:
            item = getattr(event, "item", None)
            if first is None and item is not None and item.type == "function_call":
                first = time.perf_counter()  # the call's name: what a chat client sees first
            if event.type == "response.output_item.done":
                output.append(event.item.model_dump(exclude_none=True))
            if event.type == "response.completed":
                usage = event.response.usage
        assert first is not None and usage is not None
        call = next(i for i in output if i["type"] == "function_call")
        items += [{k: v for k, v in i.items() if k not in ("id", "status")} for i in output]
        items.append(
            {"type": "function_call_output", "call_id": call["call_id"], "output": loop.result}
        )
        details = usage.input_tokens_details
        cached = details.cached_tokens if details else 0
        yield (
            {
                "turn": turn + 1,
                "sent_kb": size / 1024,
                "cached": cached / max(usage.input_tokens, 1),
                "ttft": (first - started) * 1000,
            }
        )


def bench_conversation(turns: int) -> None:
    flags = (*LATENCY, *PREFILL, "--http-models", "gpt-5.5", "--log-level", "WARNING")
    with emulator_subprocess(*flags) as base, tempfile.TemporaryDirectory() as tmp:
        origin = base.split("/backend-api")[0]
        options = {"responses_url": base, "responses_rewrite": "all", "termlog_verbosity": "info"}
        with run_mitmdump(f"reverse:{origin}", Path(tmp), options) as proxy:
            ours, direct = lockstep(addon_loop(proxy, turns), direct_loop(base, turns))
    print(
        f"Conversation: a {turns}-turn tool loop, 40 KB system prompt, 2 KB tool results; "
        "emulator latency: rtt 20 ms, upload 10 Mbit/s, prefill 40 µs/token (4 µs cached)"
    )
    print(
        f"  {'turn':>4} {'addon sent':>11} {'of full':>8} {'saved':>6} {'cached':>7}"
        f" {'direct':>7} {'share':>6} {'TTFT addon':>11} {'direct':>8}"
    )
    worst_saved, worst_share, slower = 1.0, 10.0, 0
    for mine, theirs in zip(ours, direct, strict=True):
        saved = 1 - mine["sent_kb"] / mine["full_kb"] if mine["full_kb"] else 0.0
        share = mine["cached"] / theirs["cached"] if theirs["cached"] else 1.0
        if mine["turn"] >= 5:
            worst_saved, worst_share = min(worst_saved, saved), min(worst_share, share)
        if mine["turn"] >= 2 and mine["ttft"] > theirs["ttft"]:
            slower += 1
        print(
            f"  {mine['turn']:4} {mine['sent_kb']:9.1f}KB {mine['full_kb']:6.1f}KB {saved:6.0%}"
            f" {mine['cached']:7.0%} {theirs['cached']:7.0%} {share:6.2f}"
            f" {mine['ttft']:9.1f}ms {theirs['ttft']:6.1f}ms"
        )
    print(
        f"  from turn 5: bytes saved ≥ {worst_saved:.0%} (budget 90 %), cached share ≥ "
        f"{worst_share:.2f} of the direct client's (budget 0.90); turns from 2 where the addon's "
        f"first token came later than the direct client's: {slower} (budget 0)"
    )


def bench_bigturn(turns: int) -> None:
    """Codex-sized turns: the addon's own time per turn against the direct client's."""
    flags = ("--http-models", "gpt-5.5", "--log-level", "WARNING")  # no latency model
    with emulator_subprocess(*flags) as base, tempfile.TemporaryDirectory() as tmp:
        origin = base.split("/backend-api")[0]
        options = {"responses_url": base, "responses_rewrite": "all", "termlog_verbosity": "info"}
        with run_mitmdump(f"reverse:{origin}", Path(tmp), options) as proxy:
            ours, direct = lockstep(addon_loop(proxy, turns, BIG), direct_loop(base, turns, BIG))
    print(
        f"Big turns: a {turns}-turn tool loop, {len(BIG.system) // 1024} KB system prompt, "
        f"{len(BIG.result) // 1024} KB tool results; emulator latency model off"
    )
    print(
        f"  {'turn':>4} {'request':>9} {'addon sent':>11} {'TTFT addon':>11} {'direct':>8}"
        f" {'own time':>9}"
    )
    first, owns = 0.0, []
    for mine, theirs in zip(ours, direct, strict=True):
        own = mine["ttft"] - theirs["ttft"]
        if mine["turn"] == 1:
            first = own
        elif 500 <= theirs["sent_kb"] <= 750:
            owns.append(own)
        print(
            f"  {mine['turn']:4} {theirs['sent_kb']:7.0f}KB {mine['sent_kb']:9.1f}KB"
            f" {mine['ttft']:9.1f}ms {theirs['ttft']:6.1f}ms {own:+8.1f}ms"
        )
    owns.sort()
    print(
        f"  the addon's own time: first (uncached) turn {first:+.1f} ms (budget +30 ms); "
        f"at 500-750 KB, over {len(owns)} turns: median {statistics.median(owns):+.1f} ms "
        f"(budget +10 ms), p90 {owns[int(0.9 * (len(owns) - 1))]:+.1f} ms, most {owns[-1]:+.1f} ms"
    )
