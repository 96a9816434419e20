"""Screenshots of mitmweb showing rewritten calls, and of the report, for the README.

Starts the emulator and mitmweb with the addon (127.0.0.1 only), makes one streamed call over the
WebSocket route (gpt-5.5, with reasoning), one over the HTTP route (gpt-5-codex, two tool calls)
and a three-turn conversation continued on its WebSocket, then has headless Chromium take three
pictures: the flow list, the gpt-5.5 call's detail on its response tab, and the report that
`chat2responses report` makes of the saved flows. Everything it started is stopped at the end.

    scripts/screenshot [--out DIR] [--chromium PATH] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import openai  # noqa: E402

from tests.chromium_helpers import HEIGHT, WIDTH, Page, chromium_page, find_chromium  # noqa: E402
from tests.emulator_helpers import emulator_subprocess  # noqa: E402
from tests.mitmweb_helpers import Flow, Mitmweb, free_port, run_mitmweb  # noqa: E402

CHAT_PATH = "/v1/chat/completions"
LIST_HEIGHT = 500  # the flow list's picture; the detail is HEIGHT tall
REPORT_WIDTH, REPORT_HEIGHT = 1280, 1020  # the report's totals and first conversation
# Column widths (px) for mitmweb's flow table, as its own column resizing stores them: the list
# alone gets room for the whole comment; beside the detail pane the comment still leads.
COLUMN_WIDTHS_KEY = "mitmweb-column-widths"
LIST_WIDTHS = {"path": 250, "comment": 1100}
DETAIL_WIDTHS = {"path": 130, "method": 50, "status": 55, "time": 60, "comment": 315}
DETAIL_SPLIT = 640  # the list keeps this much of the width, the detail the rest
# When the page is ready to be shot (JavaScript expressions evaluated in it).
FLOWS_READY = (
    "document.body.innerText.includes('upstream leg of gpt-5-codex')"
    " && document.body.innerText.includes('gpt-5.5 →')"
)
DETAIL_READY = "!!document.querySelector('.flow-detail pre')"
REPORT_READY = "document.querySelectorAll('svg.chart rect.bar').length > 0"
SYSTEM = "You are a careful coding agent. " + "Follow the house rules. " * 300
TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "description": "Local time in an IANA time zone",
            "parameters": {
                "type": "object",
                "properties": {"timezone": {"type": "string"}},
                "required": ["timezone"],
            },
        },
    },
]
CALLS: list[dict[str, Any]] = [
    {
        "model": "gpt-5.5",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "[scenario:reasoning] Why is the sky blue?"},
        ],
    },
    {
        "model": "gpt-5-codex",
        "messages": [
            {"role": "user", "content": "[scenario:tools] weather in Paris and the time in Tokyo"}
        ],
        "tools": TOOLS,
    },
]


TURNS = 3  # of the conversation continued on its WebSocket, then one that edits its prompt


def drive(web: Mitmweb) -> None:
    """The conversation, then both calls, streamed, through the proxy with the openai SDK."""
    with openai.OpenAI(base_url=web.base_url, api_key="sk-local", max_retries=0, timeout=30) as c:
        messages: list[Any] = [{"role": "system", "content": SYSTEM}]
        for turn in range(1, TURNS + 2):
            if turn > TURNS:  # the system prompt edited: the cache misses, and the view says why
                messages[0] = {"role": "system", "content": SYSTEM + " Today is Monday."}
            messages.append({"role": "user", "content": f"Step {turn} of the refactoring"})
            with c.chat.completions.create(
                model="gpt-5.5", messages=messages, stream=True,
                stream_options={"include_usage": True},
            ) as stream:  # fmt: skip
                text = "".join(ch.choices[0].delta.content or "" for ch in stream if ch.choices)
            messages.append({"role": "assistant", "content": text})
        print(f"  gpt-5.5: a conversation of {TURNS + 1} turns")
        for call in CALLS:
            with c.chat.completions.create(
                stream=True, stream_options={"include_usage": True}, **call
            ) as stream:
                chunks = list(stream)
            print(f"  {call['model']}: {len(chunks)} chunks")


def settled(flows: list[Flow]) -> bool:
    chat = [f for f in flows if f["request"]["path"] == CHAT_PATH and f.get("comment")]
    return len(chat) == len(CALLS) + TURNS + 1


@dataclass(frozen=True)
class Shot:
    url: str
    out: Path
    what: str  # for the message when the page never gets ready
    ready: str  # a JavaScript expression, true once the page shows what it should
    widths: dict[str, int]  # flow-table column widths
    height: int = HEIGHT
    split: int | None = None  # where to drag the list/detail splitter (px from the left)


def shoot(page: Page, shot: Shot) -> None:
    """Load the shot's page with its column widths and viewport, wait until it is ready, save
    the viewport as PNG."""
    page.viewport(WIDTH, shot.height)
    setup = f"localStorage.setItem({COLUMN_WIDTHS_KEY!r}, {json.dumps(json.dumps(shot.widths))})"
    page.navigate(shot.url, ready=shot.ready, what=shot.what, setup=setup)
    if shot.split is not None:
        where = page.evaluate(
            "(() => { const r = document.querySelector('.splitter-x > div')"
            ".getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        page.drag((where[0], where[1]), shot.split)
    time.sleep(0.5)  # let the last renders and fonts settle
    page.screenshot(shot.out)


def report(web: Mitmweb, scratch: Path, page: Page, out: Path) -> None:
    """The flows saved as mitmweb saves them, `chat2responses report` of them, and its top."""
    flows = scratch / "flows"
    flows.write_bytes(web.get("/flows/dump"))
    html = scratch / "report.html"
    command = [sys.executable, "-m", "chat2responses", "report", str(flows), "-o", str(html)]
    subprocess.run(command, check=True, timeout=120)
    page.viewport(REPORT_WIDTH, REPORT_HEIGHT)
    page.navigate(html.as_uri(), ready=REPORT_READY, what="the report's charts")
    time.sleep(0.5)
    page.screenshot(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where the PNGs go")
    parser.add_argument("--chromium", help="the Chromium binary (default /usr/bin/chromium)")
    parser.add_argument("--keep", action="store_true", help="keep mitmweb running until Ctrl-C")
    args = parser.parse_args()
    chromium = find_chromium(args.chromium)
    if chromium is None:
        sys.exit("screenshot: Chromium not found (scripts/screenshot installs Debian's chromium)")
    args.out.mkdir(parents=True, exist_ok=True)
    flows_png, detail_png = args.out / "mitmweb-flows.png", args.out / "mitmweb-detail.png"
    report_png = args.out / "report.png"
    # Everything here talks to 127.0.0.1: keep any configured HTTP proxy out of it.
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

    with (
        tempfile.TemporaryDirectory(prefix="c2r-screenshot-") as scratch,
        emulator_subprocess() as emulator_url,
        run_mitmweb(
            emulator_url,
            Path(scratch) / "mitmproxy",
            {"web_theme": "light"},  # the addon shows the comment column itself
            listen_port=free_port(),  # mitmweb's status bar shows the port it was given
        ) as web,
    ):
        print(f"emulator {emulator_url}")
        print(f"mitmweb: proxy 127.0.0.1:{web.proxy_port}, UI {web.web_url}")
        drive(web)
        flows = web.wait_for_flows(settled)
        (chosen,) = [
            f for f in flows if " · gpt-5.5 → " in f.get("comment", "") and "full" in f["comment"]
            and "reasoning" in f["comment"] and f["request"]["path"] == CHAT_PATH
            and "Why is the sky blue" in web.body(f["id"], "request").decode()
        ]  # fmt: skip
        with chromium_page(chromium, Path(scratch) / "chromium") as page:
            shoot(page, Shot(web.ui_url("#/flows"), flows_png, "the flows", FLOWS_READY,
                             LIST_WIDTHS, LIST_HEIGHT))  # fmt: skip
            shoot(page, Shot(web.ui_url(f"#/flows/{chosen['id']}/response"), detail_png,
                             "the response of the gpt-5.5 call", DETAIL_READY, DETAIL_WIDTHS,
                             split=DETAIL_SPLIT))  # fmt: skip
            report(web, Path(scratch), page, report_png)
        view = web.content(chosen["id"], "response")["view_name"]
        print(f"The gpt-5.5 call's response is shown with the {view!r} content view.")
        if view != "Chat stream":
            print("  (expected 'Chat stream': is the addon's content view registered?)")
        if args.keep:
            print(f"mitmweb stays up at {web.ui_url()} (Ctrl-C to stop)")
            try:
                while web.process.poll() is None:
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
    print(f"Screenshots:\n  {flows_png}\n  {detail_png}\n  {report_png}")


if __name__ == "__main__":
    main()
