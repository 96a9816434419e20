"""The upstream restarted between two turns of a conversation, through a real mitmdump: the next
turn costs at most a second more than a normal one, on both routes, streamed and not.

The restart is a redeploy's: the old emulator is told to stop (SIGTERM) and a new one listens on
the same port at once. The old process closes its listener but holds its WebSocket connections
open for tens of seconds without answering even a ping, so a kept socket still looks open: the
addon must find it dead at once (upstream/liveness.py) rather than after websockets' keep-alive
timeout (about 40 s)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.emulator_helpers import ROOT, _read_base_url, stop_process
from tests.proxy_helpers import Mitmdump, run_mitmdump

ROUTES = {"gpt-5.5": "websocket", "gpt-5-codex": "http"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Upstream:
    """An emulator on a fixed port that can be restarted in place."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/backend-api/codex"
        self.process = self._start()
        self.stopping: list[subprocess.Popen[str]] = []

    def _start(self) -> subprocess.Popen[str]:
        command = [sys.executable, "-m", "chat2responses.emulator", "--port", str(self.port)]
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        _read_base_url(process, 15.0)
        return process

    def restart(self) -> None:
        """SIGTERM the running emulator and start the next one on its port, at once."""
        self.process.send_signal(signal.SIGTERM)
        self.stopping.append(self.process)
        for _ in range(50):  # the old one closes its listener first
            try:
                self.process = self._start()
                return
            except RuntimeError:
                time.sleep(0.05)
        raise AssertionError("the restarted emulator could not listen")

    def close(self) -> None:
        for process in [*self.stopping, self.process]:
            stop_process(process, signal.SIGKILL)


@pytest.fixture(scope="module")
def restartable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Upstream, Mitmdump]]:
    upstream = Upstream(free_port())
    try:
        options = {"responses_url": upstream.url, "responses_rewrite": "all"}
        origin = f"http://127.0.0.1:{upstream.port}"
        confdir = tmp_path_factory.mktemp("restart")
        with run_mitmdump(f"reverse:{origin}", Path(confdir), options) as proxy:
            yield upstream, proxy
    finally:
        upstream.close()


def turn(api: openai.OpenAI, model: str, messages: list[Any], stream: bool) -> float:
    """One turn of the conversation (its answer appended, then the next question); seconds."""
    started = time.monotonic()
    if stream:
        chunks = api.chat.completions.create(model=model, messages=messages, stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        answer = api.chat.completions.create(model=model, messages=messages)
        text = answer.choices[0].message.content or ""
    took = time.monotonic() - started
    assert text.startswith("Hello from the emulator")
    messages += [{"role": "assistant", "content": text}, {"role": "user", "content": "more"}]
    return took


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("model", list(ROUTES))
def test_a_restart_between_turns_costs_the_next_turn_under_a_second(
    restartable: tuple[Upstream, Mitmdump], model: str, stream: bool
) -> None:
    upstream, proxy = restartable
    api = openai.OpenAI(base_url=proxy.base_url, api_key="sk-test", max_retries=0)
    messages: list[Any] = [{"role": "user", "content": f"restart {model} {stream}"}]
    turn(api, model, messages, stream)
    normal = turn(api, model, messages, stream)  # warm: a kept socket, a kept connection
    since = len(proxy.lines)
    upstream.restart()
    after = turn(api, model, messages, stream)
    assert after <= normal + 1.0, (normal, after, "\n".join(proxy.lines[since:]))
    summary = f"{ROUTES[model]} · 200 · ", f" · {model} → {model} ("
    deadline = time.monotonic() + 5  # the summary follows the answer, when the flow ends
    while not any(all(s in line for s in summary) for line in proxy.lines[since:]):
        assert time.monotonic() < deadline, "\n".join(proxy.lines[since:])
        time.sleep(0.02)
    assert "keepalive ping timeout" not in "\n".join(proxy.lines[since:])
