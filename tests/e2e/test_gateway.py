"""`scripts/gateway` for real: HAProxy in front of two addon instances on the emulator.

Each conversation stays on one instance (its API key, or its session id, picks it); when an
instance is killed, the next turn of every conversation still succeeds, on the other instance.
`scripts/gateway` installs HAProxy (Debian's package) when it is missing. 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from openai import OpenAI

from tests.emulator_helpers import stop_process

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = ROOT / "scripts" / "gateway"
READY = re.compile(r"gateway is ready: (http://127\.0\.0\.1:(\d+)/v1)")
INSTANCE = re.compile(r"instance (c2r-\d): mitmdump on 127\.0\.0\.1:(\d+), pid (\d+)")
MODEL = "gpt-5-codex"


@dataclass
class Gateway:
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    base_url: str = ""
    port: int = 0
    pids: dict[str, int] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found := pattern.search(self.log):
                return found
            assert self.process.poll() is None, f"scripts/gateway exited:\n{self.log}"
            time.sleep(0.05)
        raise AssertionError(f"{pattern.pattern!r} not printed:\n{self.log}")


def _listens(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
        return True
    return False


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    # The first run may install HAProxy with apt-get: allow for it, then everything is quick.
    process = subprocess.Popen(
        [str(GATEWAY), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "C2R_UPSTREAM": "emulator"},
    )
    running = Gateway(process)
    reader = threading.Thread(target=lambda: running.lines.extend(process.stdout or ()))
    reader.start()
    try:
        ready = running.wait_for(READY, timeout=240)
        running.base_url, running.port = ready[1], int(ready[2])
        deadline = time.monotonic() + 10  # the lines naming the instances may come just after
        while len(INSTANCE.findall(running.log)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        for name, port, pid in INSTANCE.findall(running.log):
            running.ports[name], running.pids[name] = int(port), int(pid)
        assert sorted(running.pids) == ["c2r-1", "c2r-2"], running.log
        yield running
    finally:
        stop_process(process, signal.SIGINT, timeout=15)
        reader.join(timeout=5)
        if process.stdout:
            process.stdout.close()


class Conversation:
    """One client's chat, resent in full each turn; remembers which instance served each turn."""

    def __init__(self, base_url: str, api_key: str, session_id: str | None = None) -> None:
        headers = {"session_id": session_id} if session_id else None
        self.client = OpenAI(base_url=base_url, api_key=api_key, default_headers=headers)
        self.messages: list[dict[str, str]] = []
        self.served_by: list[str] = []

    def turn(self, text: str) -> str:
        self.messages.append({"role": "user", "content": text})
        raw = self.client.chat.completions.with_raw_response.create(
            model=MODEL,
            messages=self.messages,  # type: ignore[arg-type]
        )
        answer = raw.parse().choices[0].message.content or ""
        assert answer, "empty answer"
        self.messages.append({"role": "assistant", "content": answer})
        self.served_by.append(raw.headers["x-served-by"])
        return answer


def _two_keys_on_two_instances(base_url: str) -> tuple[Conversation, Conversation]:
    """Two clients with different API keys whose conversations hash to different instances."""
    first = Conversation(base_url, "sk-team-0")
    first.turn("hello")
    for number in range(1, 20):
        other = Conversation(base_url, f"sk-team-{number}")
        other.turn("hello")
        if other.served_by[0] != first.served_by[0]:
            return first, other
    raise AssertionError("twenty API keys all hashed to one instance")


def test_conversations_stick_to_one_instance_and_survive_losing_it(gateway: Gateway) -> None:
    started = time.monotonic()
    alice, bob = _two_keys_on_two_instances(gateway.base_url)
    for number in range(3):
        alice.turn(f"alice turn {number}")
        bob.turn(f"bob turn {number}")
    assert len(set(alice.served_by)) == 1 and len(set(bob.served_by)) == 1
    assert alice.served_by[0] != bob.served_by[0]

    # A session id wins over the API key: two keys, one conversation, one instance.
    carol = Conversation(gateway.base_url, "sk-team-0", session_id="conversation-42")
    dave = Conversation(gateway.base_url, bob.client.api_key, session_id="conversation-42")
    for number in range(2):
        carol.turn(f"carol {number}")
        dave.turn(f"dave {number}")
    assert len(set(carol.served_by + dave.served_by)) == 1

    # Kill alice's instance outright; no time for a health check before the next turns.
    lost = alice.served_by[0]
    os.kill(gateway.pids[lost], signal.SIGKILL)
    assert alice.turn("alice after the loss")
    assert bob.turn("bob after the loss")
    assert alice.served_by[-1] == bob.served_by[0] != lost
    assert bob.served_by[-1] == bob.served_by[0]
    # The conversation goes on where it moved, with its whole history resent.
    alice.turn("alice again")
    assert alice.served_by[-1] == bob.served_by[0]
    assert len(alice.messages) == 2 * len(alice.served_by)
    gateway.wait_for(re.compile(f"{lost} exited"), timeout=5)
    gateway.wait_for(re.compile(f"Server instances/{lost} is DOWN"), timeout=10)
    assert time.monotonic() - started < 30


def test_ctrl_c_stops_haproxy_and_every_instance(gateway: Gateway) -> None:
    assert _listens(gateway.port)
    assert all(_listens(port) for port in gateway.ports.values())
    gateway.process.send_signal(signal.SIGINT)
    assert gateway.process.wait(timeout=15) == 130
    assert not _listens(gateway.port)
    assert not any(_listens(port) for port in gateway.ports.values())
