"""A real headless Chromium, driven over the DevTools protocol: for the tests that look at mitmweb
and the report as a person would, and for scripts/screenshot.py.

    binary = ensure_chromium()                 # Debian's chromium, installed when missing
    with chromium_page(binary, profile) as page:
        page.navigate(url, ready="!!document.querySelector('svg')")
        page.evaluate("document.title")
        page.screenshot(path)

Chromium runs with the flags this machine needs (no sandbox as root, no GPU, no background
networking: its connections to Google's hosts are refused here), a fresh profile, and is
stopped when the block ends.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

from tests.emulator_helpers import stop_process

WIDTH, HEIGHT = 1600, 760
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


class ChromiumError(RuntimeError):
    pass


def find_chromium(explicit: str | None = None) -> str | None:
    for candidate in (
        explicit,
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def ensure_chromium() -> str:
    """Debian's chromium: found, or installed with apt-get (as root) when missing."""
    found = find_chromium()
    if found is not None:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise ChromiumError("Chromium is missing; install Debian's chromium package (as root)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", "chromium"],
    ):
        subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, timeout=900)
    found = find_chromium()
    if found is None:
        raise ChromiumError("apt-get installed chromium, but no chromium binary was found")
    return found


@contextlib.contextmanager
def chromium_page(binary: str, profile: Path) -> Iterator[Page]:
    """Headless Chromium with a fresh profile, and its one page over the DevTools protocol."""
    profile.mkdir(parents=True, exist_ok=True)
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
        stop_process(process, timeout=10)


def _devtools_port(process: subprocess.Popen[bytes], file: Path, timeout: float = 30.0) -> int:
    """The port Chromium chose, from the file it writes into its profile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ChromiumError(f"Chromium exited at start ({process.returncode})")
        lines = file.read_text().splitlines() if file.exists() else []
        if lines and lines[0].isdigit():
            return int(lines[0])
        time.sleep(0.05)
    raise ChromiumError("Chromium did not open its DevTools port")


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
                    raise ChromiumError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def text(self) -> str:
        return str(self.evaluate("document.body ? document.body.innerText : ''") or "")

    def wait_for(self, expression: str, what: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.evaluate(expression):
            if time.monotonic() > deadline:
                raise ChromiumError(f"the page never showed {what}; it shows:\n{self.text():.2000}")
            time.sleep(0.1)

    def viewport(self, width: int = WIDTH, height: int = HEIGHT) -> None:
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    def navigate(self, url: str, *, ready: str, what: str, setup: str = "") -> None:
        """Load `url` in a fresh document (after running `setup` in it first, when given), and
        wait until `ready` (a JavaScript expression) is true."""
        script = None
        if setup:
            added = self.call("Page.addScriptToEvaluateOnNewDocument", source=setup)
            script = added["identifier"]
        self.call("Page.navigate", url="about:blank")  # a fresh document, not a hash change
        self.call("Page.navigate", url=url)
        self.wait_for(ready, what)
        if script is not None:
            self.call("Page.removeScriptToEvaluateOnNewDocument", identifier=script)

    def screenshot(self, out: Path, *, full_page: bool = False) -> None:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": size["width"], "height": size["height"],
                              "scale": 1}  # fmt: skip
        png = self.call("Page.captureScreenshot", **params)
        out.write_bytes(base64.b64decode(png["data"]))

    def drag(self, start: tuple[float, float], x: float) -> None:
        """Drag from `start` to `x` on the same height, as a person would with the mouse."""
        start_x, y = start
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
