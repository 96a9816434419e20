"""Screenshots of mitmweb showing two rewritten calls, for the README.

Starts the emulator and mitmweb with the addon (127.0.0.1 only), makes one streamed call over the
WebSocket route (gpt-5.5, with reasoning) and one over the HTTP route (gpt-5-codex, two tool
calls), then has headless Chromium take two pictures: the flow list, and the gpt-5.5 call's
detail on its response tab. Everything it started is stopped at the end.

    scripts/screenshot [--out DIR] [--chromium PATH] [--keep]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import openai  # noqa: E402
from websockets.sync.client import ClientConnection, connect  # noqa: E402

from tests.emulator_helpers import emulator_subprocess  # noqa: E402
from tests.mitmweb_helpers import Flow, Mitmweb, free_port, run_mitmweb, stop  # noqa: E402

CHAT_PATH = "/v1/chat/completions"
WIDTH, HEIGHT = 1600, 760  # the detail; the flow list is shot LIST_HEIGHT tall
LIST_HEIGHT = 360
COLUMNS = ["icon", "path", "method", "status", "time", "comment"]
# Column widths (px) for mitmweb's flow table, as its own column resizing stores them: the list
# alone gets room for the whole comment; beside the detail pane the comment still leads.
COLUMN_WIDTHS_KEY = "mitmweb-column-widths"
LIST_WIDTHS = {"path": 410, "comment": 940}
DETAIL_WIDTHS = {"path": 130, "method": 50, "status": 55, "time": 60, "comment": 315}
DETAIL_SPLIT = 640  # the list keeps this much of the width, the detail the rest
# When the page is ready to be shot (JavaScript expressions evaluated in it).
FLOWS_READY = (
    "document.body.innerText.includes('upstream leg of gpt-5-codex')"
    " && document.body.innerText.includes('gpt-5.5 →')"
)
DETAIL_READY = "!!document.querySelector('.flow-detail pre')"
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


def drive(web: Mitmweb) -> None:
    """Both calls, streamed, through the proxy with the openai SDK."""
    with openai.OpenAI(base_url=web.base_url, api_key="sk-local", max_retries=0, timeout=30) as c:
        for call in CALLS:
            with c.chat.completions.create(
                stream=True, stream_options={"include_usage": True}, **call
            ) as stream:
                chunks = list(stream)
            print(f"  {call['model']}: {len(chunks)} chunks")


def settled(flows: list[Flow]) -> bool:
    chat = [f for f in flows if f["request"]["path"] == CHAT_PATH and f.get("comment")]
    return len(chat) == len(CALLS) and len(flows) == 2 * len(CALLS)


def find_chromium(explicit: str | None) -> str:
    for candidate in (explicit, "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    sys.exit("screenshot: Chromium not found (scripts/screenshot installs Debian's chromium)")


CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-proxy-server",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    f"--window-size={WIDTH},{HEIGHT}",
    "--remote-debugging-port=0",
)


@contextlib.contextmanager
def chromium_page(binary: str, profile: Path) -> Iterator[Page]:
    """Headless Chromium with a fresh profile, and its one page over the DevTools protocol.
    Chromium is stopped when the block ends."""
    command = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"]
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        port = _devtools_port(process, profile / "DevToolsActivePort")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
            pages = [t for t in json.load(answer) if t.get("type") == "page"]
        with connect(pages[0]["webSocketDebuggerUrl"], max_size=None) as socket:
            page = Page(socket)
            page.call("Page.enable")  # else scripts for new documents never run
            yield page
    finally:
        stop(process)


def _devtools_port(process: subprocess.Popen[bytes], file: Path, timeout: float = 30.0) -> int:
    """The port Chromium chose, from the file it writes into its profile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"screenshot: Chromium exited at start ({process.returncode})")
        lines = file.read_text().splitlines() if file.exists() else []
        if lines and lines[0].isdigit():
            return int(lines[0])
        time.sleep(0.05)
    sys.exit("screenshot: Chromium did not open its DevTools port")


class Page:
    """One page, driven with DevTools protocol commands."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.next_id = 0

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:  # events in between are not needed
            message = json.loads(self.socket.recv(timeout=30))
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, what: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.evaluate(expression):
            if time.monotonic() > deadline:
                text = self.evaluate("document.body ? document.body.innerText : ''")
                sys.exit(f"screenshot: the page never showed {what}; it shows:\n{text!s:.2000}")
            time.sleep(0.1)

    def drag_splitter(self, x: int) -> None:
        """Drag the list/detail splitter to `x`, as a person would with the mouse."""
        where = self.evaluate(
            "(() => { const r = document.querySelector('.splitter-x > div')"
            ".getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        start_x, y = where
        for kind, at in (("mousePressed", start_x), ("mouseMoved", x), ("mouseReleased", x)):
            self.call(
                "Input.dispatchMouseEvent",
                type=kind,
                x=at,
                y=y,
                button="left",
                buttons=0 if kind == "mouseReleased" else 1,
                clickCount=1,
            )

    def shoot(self, shot: Shot) -> None:
        """Load the shot's page with its column widths and viewport, wait until it is ready,
        save the viewport as PNG."""
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=WIDTH,
            height=shot.height,
            deviceScaleFactor=1,
            mobile=False,
        )
        setup = (
            f"localStorage.setItem({COLUMN_WIDTHS_KEY!r}, {json.dumps(json.dumps(shot.widths))})"
        )
        script = self.call("Page.addScriptToEvaluateOnNewDocument", source=setup)["identifier"]
        self.call("Page.navigate", url="about:blank")  # a fresh document, not a hash change
        self.call("Page.navigate", url=shot.url)
        self.wait_for(shot.ready, shot.what)
        self.call("Page.removeScriptToEvaluateOnNewDocument", identifier=script)
        if shot.split is not None:
            self.drag_splitter(shot.split)
        time.sleep(0.5)  # let the last renders and fonts settle
        png = self.call("Page.captureScreenshot", format="png")
        shot.out.write_bytes(base64.b64decode(png["data"]))


@dataclass(frozen=True)
class Shot:
    url: str
    out: Path
    what: str  # for the message when the page never gets ready
    ready: str  # a JavaScript expression, true once the page shows what it should
    widths: dict[str, int]  # flow-table column widths
    height: int = HEIGHT
    split: int | None = None  # where to drag the list/detail splitter (px from the left)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where the PNGs go")
    parser.add_argument("--chromium", help="the Chromium binary (default /usr/bin/chromium)")
    parser.add_argument("--keep", action="store_true", help="keep mitmweb running until Ctrl-C")
    args = parser.parse_args()
    chromium = find_chromium(args.chromium)
    args.out.mkdir(parents=True, exist_ok=True)
    flows_png, detail_png = args.out / "mitmweb-flows.png", args.out / "mitmweb-detail.png"
    # Everything here talks to 127.0.0.1: keep any configured HTTP proxy out of it.
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

    with (
        tempfile.TemporaryDirectory(prefix="c2r-screenshot-") as scratch,
        emulator_subprocess() as emulator_url,
        run_mitmweb(
            emulator_url,
            Path(scratch) / "mitmproxy",
            {"web_columns": COLUMNS, "web_theme": "light"},
            listen_port=free_port(),  # mitmweb's status bar shows the port it was given
        ) as web,
    ):
        print(f"emulator {emulator_url}")
        print(f"mitmweb: proxy 127.0.0.1:{web.proxy_port}, UI {web.web_url}")
        drive(web)
        flows = web.wait_for_flows(settled)
        (chosen,) = [f for f in flows if f.get("comment", "").startswith("gpt-5.5 ")]
        profile = Path(scratch) / "chromium"
        profile.mkdir()
        with chromium_page(chromium, profile) as page:
            page.shoot(
                Shot(
                    web.ui_url("#/flows"),
                    flows_png,
                    "the flows",
                    FLOWS_READY,
                    LIST_WIDTHS,
                    LIST_HEIGHT,
                )
            )
            page.shoot(
                Shot(
                    web.ui_url(f"#/flows/{chosen['id']}/response"),
                    detail_png,
                    "the response of the gpt-5.5 call",
                    DETAIL_READY,
                    DETAIL_WIDTHS,
                    split=DETAIL_SPLIT,
                )
            )
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
    print(f"Screenshots:\n  {flows_png}\n  {detail_png}")


if __name__ == "__main__":
    main()
