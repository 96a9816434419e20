"""Stopping mitmdump with calls in flight (glue/shutdown.py, call.py rule 7), for real.

A client mid-stream reads one error chunk saying the proxy is stopping, and its stream ends
properly (the chunked body's end, not a cut connection); a client still waiting for its first
byte gets a 503 OpenAI error body. mitmdump then exits in bounded time.
"""

from __future__ import annotations

import http.client
import json
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.hostile_upstream import Fault, hostile_upstream, marker
from tests.proxy_helpers import run_mitmdump

ROUTES = ["http", "websocket"]


class Reader(threading.Thread):
    """One chat request read to its end in the background: status, body, and whether the body
    ended properly."""

    def __init__(self, port: int, body: dict[str, Any]) -> None:
        super().__init__(daemon=True)
        self.port, self.body = port, body
        self.status = 0
        self.data = b""
        self.first = threading.Event()  # the head (and for a stream, some data) arrived
        self.ended_properly = False

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"content-type": "application/json", "authorization": "Bearer sk-test"}
        connection.request("POST", "/v1/chat/completions", json.dumps(self.body), headers)
        response = connection.getresponse()
        self.status = response.status
        try:
            while chunk := response.read1(65536):
                self.data += chunk
                self.first.set()
            self.ended_properly = True
        except http.client.IncompleteRead:
            pass
        finally:
            self.first.set()
            connection.close()


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM])
def test_stopping_mid_stream_ends_each_answer_with_an_error(
    tmp_path: Path, route: str, how: signal.Signals
) -> None:
    with hostile_upstream() as upstream:
        options = {
            "responses_url": upstream.url,
            "responses_rewrite": "all",
            "responses_transport": route,
        }
        with run_mitmdump(f"reverse:{upstream.origin}", tmp_path, options) as proxy:
            streaming = Reader(
                proxy.port,
                {
                    "model": "gpt-5.5",
                    "stream": True,
                    "messages": [{"role": "user", "content": marker(Fault.STALL_DELTA)}],
                },
            )
            waiting = Reader(
                proxy.port,
                {
                    "model": "gpt-5.5",
                    "messages": [{"role": "user", "content": marker(Fault.STALL_START)}],
                },
            )
            streaming.start()
            waiting.start()
            assert streaming.first.wait(15), proxy.log
            deadline = time.monotonic() + 15
            while len(upstream.containing(Fault.STALL_START.value)) < 1:
                assert time.monotonic() < deadline, proxy.log
                time.sleep(0.02)
            time.sleep(0.2)  # the second call is waiting on its upstream
            stopped = time.monotonic()
            proxy.process.send_signal(how)
            proxy.process.wait(timeout=15)
            took = time.monotonic() - stopped
            streaming.join(10)
            waiting.join(10)
    assert took < 8, proxy.log
    # Mid-stream: the text so far, then one error chunk, and a proper end.
    assert streaming.status == 200 and streaming.ended_properly, streaming.data[-300:]
    lines = streaming.data.decode().splitlines()
    events = [line.removeprefix("data: ") for line in lines if line.startswith("data: ")]
    assert "Hello" in "".join(events)
    errors = [json.loads(e)["error"] for e in events if e.startswith('{"error"')]
    assert [e["code"] for e in errors] == ["proxy_stopping"], events[-3:]
    assert "stopping" in errors[0]["message"]
    # Before the first byte: a 503 OpenAI error body.
    assert waiting.status == 503 and waiting.ended_properly, waiting.data
    assert json.loads(waiting.data)["error"]["code"] == "proxy_stopping"
    assert "Traceback" not in proxy.log
