"""`chat2responses status` against a real running proxy, against nothing, and against a program
that is not ours."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from openai import OpenAI

from tests.run_helpers import READY, running

MESSAGES = [{"role": "user", "content": "Say hello"}]
CLI = [sys.executable, "-m", "chat2responses"]


def status(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "status", *args], capture_output=True, text=True, timeout=30, check=False
    )


def test_status_prints_a_running_instances_quota_and_routes() -> None:
    with running([*CLI, "run", "--port", "0"]) as proxy:
        port = int(proxy.wait_for(READY)[1])
        before = status("--port", str(port))
        assert before.returncode == 0, before.stderr
        assert before.stdout.splitlines() == [
            "chat2responses status",
            "quota: no readings yet",
            "learned routes: none (every model goes where the catalog says)",
        ]
        client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-local")
        client.chat.completions.create(model="gpt-5.5", messages=MESSAGES)  # type: ignore[arg-type]
        after = status("--port", str(port))
        assert after.returncode == 0, after.stderr
        lines = after.stdout.splitlines()
        assert lines[:2] == ["chat2responses status", "quota by account:"]
        assert "weekly" in lines[2] and "[plus]" in lines[2]  # the emulator's quota, by digest
        assert "sk-local" not in after.stdout
    # The status request was answered by the addon: no console line, nothing passed upstream.
    assert not any("_chat2responses" in line for line in proxy.after_banner())


def test_nothing_listening_says_how_to_start_it() -> None:
    with _server(404) as port:
        pass  # the port is free again
    done = status("--port", str(port))
    assert done.returncode == 1
    assert f"nothing listens on 127.0.0.1:{port}" in done.stderr
    assert "chat2responses status --port N (or C2R_PORT=N)" in done.stderr


def test_another_program_on_the_port_is_named_as_such() -> None:
    with _server(404) as port:
        done = status("--port", str(port))
    assert done.returncode == 1
    assert f"127.0.0.1:{port} answered 404" in done.stderr
    assert "not a chat2responses proxy" in done.stderr


@contextmanager
def _server(code: int) -> Iterator[int]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_error(code)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
