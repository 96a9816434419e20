"""Seeing a whole conversation: what a person sees in mitmweb (through its HTTP API and a real
headless Chromium), the Server-Timing header, the metrics, the per-call log and the report.

A real mitmweb (reverse proxy, the addon from its entry script, metrics and the calls log on)
sits in front of the emulator. Four conversations go through it with the openai SDK:
- `continued`: three streamed turns of gpt-5.5 (the WebSocket route), the second and third
  continued on the kept socket;
- `edited`: two turns whose second edits the system prompt (a cache miss: instructions changed);
- `rekeyed`: two turns of gpt-5-codex (HTTP) whose client-chosen prompt_cache_key changes;
- `whole`: one answer not streamed (its Server-Timing has the total).
Every system prompt is long enough (about 2000 tokens) to be cached at all.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from chat2responses.call.timing import parse_server_timing
from tests.chromium_helpers import Page, chromium_page, ensure_chromium
from tests.emulator_helpers import emulator_subprocess
from tests.mitmweb_helpers import Flow, Mitmweb, free_port, run_mitmweb

KEY = "sk-insight-credential-0451"
MARK = "PROMPT-MARK-7f3a"  # in every prompt: must never reach the log
SYSTEM = f"You answer briefly. {MARK} " + "The house rules are long. " * 320
WS_MODEL, HTTP_MODEL = "gpt-5.5", "gpt-5-codex"
CHAT_PATH = "/v1/chat/completions"


@dataclass
class Call:
    """One call as the client saw it."""

    conversation: str
    model: str
    usage: dict[str, Any]
    timing: dict[str, float]  # the Server-Timing header, parsed
    elapsed_ms: float  # the client's own measure, request to the end of the answer
    tag: str  # in the last user message: finds the flow


@dataclass
class Shown:
    web: Mitmweb
    log: Path
    metrics_url: str
    scratch: Path
    calls: list[Call] = field(default_factory=list)
    flows: dict[str, Flow] = field(default_factory=dict)  # tag → the client's flow

    def flow(self, tag: str) -> Flow:
        return self.flows[tag]


def _ask(shown: Shown, client: openai.OpenAI, conversation: str, model: str,
         messages: list[dict[str, Any]], *, stream: bool = True, **extra: Any) -> str:  # fmt: skip
    """One call; its answer, and what the client saw of it in `shown.calls`. The last message
    gets the call's tag (in `messages` itself: the next turn resends it so)."""
    tag = f"{conversation}-{len(shown.calls)}"
    messages[-1] = {**messages[-1], "content": f"{messages[-1]['content']} [{tag}]"}
    start = time.monotonic()
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=messages, stream=stream,  # type: ignore[arg-type]
        **({"stream_options": {"include_usage": True}} if stream else {}), **extra,
    )  # fmt: skip
    text, usage = "", None
    if stream:
        for chunk in raw.parse():
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
            if chunk.usage is not None:
                usage = chunk.usage.model_dump()
    else:
        completion = raw.parse()
        text = completion.choices[0].message.content or ""
        usage = completion.usage.model_dump() if completion.usage else None
    elapsed = (time.monotonic() - start) * 1000
    timing = parse_server_timing(raw.headers.get("server-timing", ""))
    assert usage is not None
    shown.calls.append(Call(conversation, model, usage, timing, elapsed, tag))
    return text


def _conversations(shown: Shown) -> None:
    with openai.OpenAI(base_url=shown.web.base_url, api_key=KEY, max_retries=0, timeout=30) as c:
        messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM}]
        for n in range(3):
            messages.append({"role": "user", "content": f"question {n + 1} {MARK}"})
            answer = _ask(shown, c, "continued", WS_MODEL, messages)
            messages.append({"role": "assistant", "content": answer})
        edited = [{"role": "system", "content": SYSTEM},
                  {"role": "user", "content": f"edited question {MARK}"}]  # fmt: skip
        answer = _ask(shown, c, "edited", WS_MODEL, edited)
        edited = [
            {"role": "system", "content": SYSTEM.replace("long", "longer")},
            *edited[1:],
            {"role": "assistant", "content": answer},
            {"role": "user", "content": "more"},
        ]
        _ask(shown, c, "edited", WS_MODEL, edited)
        rekeyed = [{"role": "system", "content": SYSTEM},
                   {"role": "user", "content": f"keyed question {MARK}"}]  # fmt: skip
        answer = _ask(shown, c, "rekeyed", HTTP_MODEL, rekeyed, prompt_cache_key="alpha")
        rekeyed += [{"role": "assistant", "content": answer}, {"role": "user", "content": "more"}]
        _ask(shown, c, "rekeyed", HTTP_MODEL, rekeyed, prompt_cache_key="beta")
        whole = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": f"{MARK}"}]
        _ask(shown, c, "whole", HTTP_MODEL, whole, stream=False)


@pytest.fixture(scope="module")
def shown(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shown]:
    scratch = tmp_path_factory.mktemp("insight")
    metrics_port = free_port()
    log = scratch / "calls.jsonl"
    options = {"responses_metrics": f"127.0.0.1:{metrics_port}", "responses_calls_log": str(log)}
    with emulator_subprocess() as emulator_url, run_mitmweb(
        emulator_url, scratch / "mitmproxy", options
    ) as web:  # fmt: skip
        seen = Shown(web, log, f"http://127.0.0.1:{metrics_port}/metrics", scratch)
        _conversations(seen)
        tags = {call.tag for call in seen.calls}

        def settled(flows: list[Flow]) -> bool:
            chat = [f for f in flows if f["request"]["path"] == CHAT_PATH and f.get("comment")]
            return len(chat) == len(tags)

        for flow in web.wait_for_flows(settled):
            if flow["request"]["path"] != CHAT_PATH:
                continue
            last = json.loads(web.body(flow["id"], "request"))["messages"][-1]["content"]
            found = re.search(r"\[([a-z]+-\d+)\]$", last)
            assert found is not None and found[1] in tags, last
            seen.flows[found[1]] = flow
        deadline = time.monotonic() + 5  # the log is flushed within FLUSH_AFTER of a call
        while log.read_text().count("\n") < len(tags) and time.monotonic() < deadline:
            time.sleep(0.05)
        yield seen


def _calls(shown: Shown, conversation: str) -> list[Call]:
    return [c for c in shown.calls if c.conversation == conversation]


def _share(usage: dict[str, Any]) -> str:
    cached = usage["prompt_tokens_details"]["cached_tokens"]
    return f"cached {math.floor(cached / usage['prompt_tokens'] * 100 + 1e-9)} %"


# ---- the flow list reads at a glance ---------------------------------------------------------


def test_the_addon_shows_the_comment_column(shown: Shown) -> None:
    columns = shown.web.api("/options")["web_columns"]["value"]
    assert "comment" in columns


def test_each_comment_starts_with_route_status_first_token_cached_share(shown: Shown) -> None:
    for call in shown.calls:
        comment = shown.flow(call.tag)["comment"]
        route = "websocket" if call.model == WS_MODEL else "http"
        head = rf"{route} · 200 · first token [\d.]+ ms · {re.escape(_share(call.usage))}"
        assert re.match(head, comment), comment
        assert not shown.flow(call.tag)["marked"]
    first, second, third = (shown.flow(c.tag)["comment"] for c in _calls(shown, "continued"))
    assert " · full · " in first
    assert " · continued 1 of 4 items, " in second and " · continued 1 of 6 items, " in third


@pytest.fixture(scope="module")
def browser(shown: Shown) -> Iterator[Page]:
    with chromium_page(ensure_chromium(), shown.scratch / "chromium") as page:
        page.viewport()
        yield page


def test_chromium_shows_the_comment_column_with_route_and_cached_share(
    shown: Shown, browser: Page
) -> None:
    third = _calls(shown, "continued")[2]
    browser.navigate(
        shown.web.ui_url("#/flows"),
        ready="document.querySelectorAll('td.col-comment').length >= 8",
        what="the flow list with its comments",
    )
    headers = browser.evaluate("[...document.querySelectorAll('th')].map(t => t.innerText)")
    assert "Comment" in headers
    cells = browser.evaluate(
        "[...document.querySelectorAll('td.col-comment')].map(td => td.innerText)"
    )
    chat = [cell for cell in cells if re.match(r"(websocket|http) · 200 · first token", cell)]
    assert len(chat) == len(shown.calls)
    assert any(cell.startswith("websocket · 200") and _share(third.usage) in cell for cell in chat)
    browser.screenshot(shown.scratch / "flows.png")


def test_the_request_tab_opens_on_the_chat_request_view(shown: Shown, browser: Page) -> None:
    flow = shown.flow(_calls(shown, "continued")[0].tag)
    view = shown.web.content(flow["id"], "request")
    assert view["view_name"] == "Chat request"
    assert "2 messages · 0 tools" in view["text"]
    browser.navigate(
        shown.web.ui_url(f"#/flows/{flow['id']}/request"),
        ready="document.body.innerText.includes('chat request · model gpt-5.5')",
        what="the Chat request view on the request tab",
    )


# ---- the Conversation view -------------------------------------------------------------------


def _rows(text: str) -> list[list[str]]:
    """The table's rows, cells split on the runs of spaces between columns."""
    lines = text.splitlines()
    assert lines[1].split()[0] == "turn"
    rows = []
    for line in lines[2:]:
        if not line.strip() or not line.lstrip()[0].isdigit():
            break
        rows.append(re.split(r"\s{2,}", line.strip()))
    return rows


def test_conversation_view_of_the_third_continued_turn(shown: Shown) -> None:
    calls = _calls(shown, "continued")
    third = shown.flow(calls[2].tag)
    text = shown.web.content(third["id"], "request", "Conversation")["text"]
    header = re.split(r"\s{2,}", text.splitlines()[1].strip())
    rows = _rows(text)
    assert len(rows) == 3, text
    sockets = set()
    for n, (row, call) in enumerate(zip(rows, calls, strict=True), 1):
        cell = dict(zip(header, row, strict=False))
        usage = call.usage
        assert cell["turn"] == str(n)
        assert cell["model"] == WS_MODEL
        route, socket_turn = cell["route"].rsplit("·", 1)
        sockets.add(route)
        assert socket_turn == str(n)
        assert cell["input"] == str(usage["prompt_tokens"])
        assert cell["cached"] == str(usage["prompt_tokens_details"]["cached_tokens"])
        assert cell["output"] == str(usage["completion_tokens"])
        assert cell["reasoning"] == str(usage["completion_tokens_details"]["reasoning_tokens"])
        assert cell["cached %"] == _share(usage).removeprefix("cached ")
        assert cell["sent"] == ("full 2" if n == 1 else f"continued 1 of {2 * n}")
        assert cell["retries"] == "0"
        assert re.fullmatch(r"[\d.]+ ms", cell["first token"])
    assert len(sockets) == 1  # one socket across the three turns
    assert text.splitlines()[4].endswith("← this call")


def test_the_kept_websocket_is_one_leg_across_its_turns(shown: Shown) -> None:
    legs = [
        f for f in shown.web.flows() if f.get("websocket") and "upstream leg of" in f["comment"]
    ]
    continued = [leg for leg in legs if "3 turns on this socket, 2 continued" in leg["comment"]]
    assert len(continued) == 1, [leg["comment"] for leg in legs]
    messages = shown.web.content(continued[0]["id"], "messages", "raw")
    creates = [m for m in messages if m["from_client"]]
    assert len(creates) == 3
    assert '"previous_response_id"' not in creates[0]["text"]
    assert all('"previous_response_id"' in m["text"] for m in creates[1:])
    # the terminal event of the second turn shows that turn's transcript only
    views = shown.web.content(continued[0]["id"], "messages")
    terminal = [i for i, m in enumerate(messages) if '"response.completed"' in m["text"]]
    assert len(terminal) == 3
    second = views[terminal[1]]["text"]
    assert "[continued-1]" in second  # the emulator's answer says what it was asked
    assert "[continued-0]" not in second and "[continued-2]" not in second


# ---- why the cache missed --------------------------------------------------------------------


def test_an_edited_system_prompt_is_named_as_the_miss(shown: Shown) -> None:
    second = shown.flow(_calls(shown, "edited")[1].tag)
    assert "(missed: instructions changed)" in second["comment"].splitlines()[0]
    text = shown.web.content(second["id"], "request", "Conversation")["text"]
    assert len(_rows(text)) == 2
    assert "turn 2: instructions changed" in text


def test_a_changed_key_is_named_as_the_miss(shown: Shown) -> None:
    second = shown.flow(_calls(shown, "rekeyed")[1].tag)
    assert "(missed: conversation key changed (alpha → beta))" in second["comment"]


# ---- where the time went ---------------------------------------------------------------------


def test_server_timing_on_every_answer(shown: Shown) -> None:
    log = {line["id"]: line for line in map(json.loads, shown.log.read_text().splitlines())}
    for call in shown.calls:
        assert {"c2r", "upstream"} <= set(call.timing), call
        assert call.timing["c2r"] < call.elapsed_ms
        logged = log[shown.flow(call.tag)["id"]]
        assert call.timing["c2r"] < logged["total_ms"]
        if call.conversation == "whole":  # a whole answer: the total is in the header too
            assert call.timing["c2r"] < call.timing["total"] <= call.elapsed_ms
        else:
            assert "total" not in call.timing
        comment = shown.flow(call.tag)["comment"]
        assert re.search(r" ms \(c2r [\d.]+ ms, upstream [\d.]+ ms\)", comment), comment


# ---- metrics and the per-call log ------------------------------------------------------------


def test_metrics_parse_and_hold_the_counts(shown: Shown) -> None:
    with urllib.request.urlopen(shown.metrics_url, timeout=10) as answer:
        text = answer.read().decode()
    samples: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)

    def total(name: str, **labels: str) -> float:
        found = samples.get(name, [])
        return sum(s.value for s in found if all(s.labels.get(k) == v for k, v in labels.items()))

    calls = shown.calls
    assert total("chat2responses_calls_total") == len(calls)
    assert total("chat2responses_calls_total", route="websocket", model=WS_MODEL) == 5
    assert total("chat2responses_calls_total", route="http", status="200", kind="chat") == 3
    usage_sum = sum(c.usage["prompt_tokens"] for c in calls)
    assert total("chat2responses_tokens_total", type="input") == usage_sum
    cached = sum(c.usage["prompt_tokens_details"]["cached_tokens"] for c in calls)
    assert total("chat2responses_tokens_total", type="cached") == cached
    assert total("chat2responses_continuations_total") == 2
    assert total("chat2responses_cache_misses_total", cause="instructions") == 1
    assert total("chat2responses_cache_misses_total", cause="conversation") == 1
    assert total("chat2responses_first_token_seconds_count") == len(calls)
    assert total("chat2responses_own_seconds_count") == len(calls)
    assert total("chat2responses_websocket_connections_open") >= 1
    assert samples["chat2responses_quota_used_percent"]


def test_the_calls_log_has_one_line_per_call_and_no_secret(shown: Shown) -> None:
    text = shown.log.read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == len(shown.calls)
    assert {line["id"] for line in lines} == {f["id"] for f in shown.flows.values()}
    for secret in (KEY, MARK, "house rules", "question 1", "edited question"):
        assert secret not in text
    assert all(line["status"] == 200 and line["time"].endswith("+00:00") for line in lines)


# ---- the report ------------------------------------------------------------------------------


def test_the_report_renders_its_charts(shown: Shown, browser: Page) -> None:
    flows_file = shown.scratch / "flows"
    flows_file.write_bytes(shown.web.get("/flows/dump"))
    out = shown.scratch / "report.html"
    done = subprocess.run(
        [sys.executable, "-m", "chat2responses", "report", str(flows_file), "-o", str(out)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(f"{len(shown.calls)} rewritten calls in 4 conversations")
    page = out.read_text()
    assert not re.search(r"""(src|href)\s*=|@import|url\(""", page)  # nothing fetched
    for secret in (KEY, MARK):
        assert secret not in page
    browser.viewport(1280, 900)
    browser.navigate(
        out.as_uri(), ready="document.querySelectorAll('svg.chart').length > 0", what="the charts"
    )
    assert browser.evaluate("document.querySelectorAll('section.conversation').length") == 4
    assert browser.evaluate("document.querySelectorAll('svg.chart').length") == 12
    drawn = browser.evaluate(
        "[...document.querySelectorAll('svg.chart rect.bar')]"
        ".filter(r => { const b = r.getBoundingClientRect(); return b.width > 0 && b.height > 0 })"
        ".length"
    )
    assert drawn >= 3 * len(shown.calls)  # cached or not, output, time: every turn has bars
    assert browser.evaluate("document.querySelectorAll('svg.chart text.mark').length") == 2
    assert "instructions changed" in browser.text()
    shot = shown.scratch / "report.png"
    browser.screenshot(shot, full_page=True)
    assert shot.stat().st_size > 20_000
