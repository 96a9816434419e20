"""Start a real mitmweb with the addon and read what it shows through its HTTP API (127.0.0.1 only).

    with run_mitmweb(emulator_url, confdir) as web:
        openai.OpenAI(base_url=web.base_url, ...)  # through the proxy (reverse mode)
        web.flows()                                 # GET /flows
        web.content(flow_id, "response")            # GET /flows/<id>/response/content/auto.json
        web.ui_url("#/flows/<id>/response")         # the page, with its auth token

mitmweb 12 protects its UI and API with a token: without `web_password` it makes one up and
prints `Web server listening at http://HOST:PORT/?token=…`. The API accepts it as
`Authorization: Bearer …` (GET needs nothing more; the XSRF check applies to browsers' non-GET
requests only); a browser passes it once as `?token=` and then holds the auth cookie. The proxy's
own port (`--listen-port 0`) is read from `… listening at 127.0.0.1:PORT`. The web port cannot be
0 (mitmweb would print `:0`), so a free one is picked first.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.emulator_helpers import stop_process

ROOT = Path(__file__).resolve().parent.parent
ENTRY = ROOT / "addon" / "chat2responses.py"
_PROXY_LISTENING = re.compile(r"proxy .*listening at (?:\*|127\.0\.0\.1|\[::1?\]):(\d+)")
_WEB_LISTENING = re.compile(r"Web server listening at (http://\S+?)/\?token=([0-9A-Za-z]+)")

Flow = dict[str, Any]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def mitmweb_binary() -> str:
    candidate = Path(sys.executable).parent / "mitmweb"
    return str(candidate) if candidate.exists() else "mitmweb"


@dataclass
class Mitmweb:
    process: subprocess.Popen[str]
    proxy_port: int
    web_url: str  # http://127.0.0.1:PORT, no trailing slash
    token: str
    lines: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        """The OpenAI base URL a client uses through the proxy."""
        return f"http://127.0.0.1:{self.proxy_port}/v1"

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    def ui_url(self, fragment: str = "") -> str:
        """The web UI's address with the token, e.g. `ui_url("#/flows/ID/response")`."""
        return f"{self.web_url}/?token={self.token}{fragment}"

    def get(self, path: str, timeout: float = 10.0) -> bytes:
        """GET `path` from mitmweb's API, authenticated with the token."""
        request = urllib.request.Request(
            self.web_url + path, headers={"Authorization": f"Bearer {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data: bytes = response.read()
            return data

    def api(self, path: str, timeout: float = 10.0) -> Any:
        """GET `path` from mitmweb's API and decode its JSON."""
        return json.loads(self.get(path, timeout))

    def flows(self) -> list[Flow]:
        flows: list[Flow] = self.api("/flows")
        return flows

    def body(self, flow_id: str, part: str) -> bytes:
        """A flow's stored `request` or `response` body, as bytes."""
        return self.get(f"/flows/{flow_id}/{part}/content.data")

    def content(self, flow_id: str, part: str, view: str = "auto") -> Any:
        """A flow's request / response body, or its WebSocket `messages`, through a content view:
        `{"text", "view_name", …}` (a list of them for `messages`)."""
        name = urllib.parse.quote(view, safe="")
        return self.api(f"/flows/{flow_id}/{part}/content/{name}.json")

    def wait_for_flows(
        self, ready: Callable[[list[Flow]], bool], timeout: float = 10.0
    ) -> list[Flow]:
        """Poll `/flows` until `ready(flows)`: a flow gets its comment and its upstream leg only
        after the call is over, which can be a moment after the client read `[DONE]`."""
        deadline = time.monotonic() + timeout
        while True:
            flows = self.flows()
            if ready(flows):
                return flows
            if time.monotonic() > deadline:
                shown = json.dumps([_brief(f) for f in flows], indent=1, ensure_ascii=False)
                raise AssertionError(
                    f"mitmweb's flows never got ready:\n{shown}\n{self.log[-3000:]}"
                )
            time.sleep(0.05)


def _brief(flow: Flow) -> dict[str, Any]:
    request = flow.get("request") or {}
    return {
        "id": flow.get("id"),
        "request": f"{request.get('method')} {request.get('host')}:{request.get('port')}"
        f"{request.get('path')}",
        "comment": flow.get("comment"),
        "marked": flow.get("marked"),
    }


@contextlib.contextmanager
def run_mitmweb(
    upstream_url: str,
    confdir: Path,
    options: Mapping[str, str | Sequence[str]] | None = None,
    *,
    listen_port: int = 0,
    startup_timeout: float = 30.0,
) -> Iterator[Mitmweb]:
    """mitmweb with the addon, as a reverse proxy in front of `upstream_url`'s origin, rewriting
    every chat request to `upstream_url`, the proxy on `listen_port` (0: any free port, read
    from the log). `options` are `--set`s (a list value sets a sequence option, e.g.
    `web_columns`). Stopped when the block ends, also on failure."""
    settings: dict[str, str | Sequence[str]] = {
        "web_open_browser": "false",
        "confdir": str(confdir),
        "responses_url": upstream_url,
        "responses_rewrite": "all",
        **(options or {}),
    }
    web_port = free_port()
    args = [
        mitmweb_binary(),
        "-s",
        str(ENTRY),
        "--mode",
        f"reverse:{origin(upstream_url)}",
        "--listen-host",
        "127.0.0.1",
        "--listen-port",
        str(listen_port),
        "--web-host",
        "127.0.0.1",
        "--web-port",
        str(web_port),
    ]
    for name, value in settings.items():
        for item in [value] if isinstance(value, str) else value:
            args += ["--set", f"{name}={item}"]
    process = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        cwd=ROOT,
    )
    lines: list[str] = []
    proxy_port: list[int] = []
    web: list[tuple[str, str]] = []

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if not proxy_port and (m := _PROXY_LISTENING.search(line)):
                proxy_port.append(int(m.group(1)))
            if not web and (m := _WEB_LISTENING.search(line)):
                web.append((m.group(1), m.group(2)))

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not (proxy_port and web):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("mitmweb did not start:\n" + "\n".join(lines))
            time.sleep(0.02)
        yield Mitmweb(process, proxy_port[0], web[0][0], web[0][1], lines)
    finally:
        stop_process(process, timeout=10)
        reader.join(timeout=5)
        if process.stdout is not None:
            process.stdout.close()
