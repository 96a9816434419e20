"""`scripts/gateway` for real: HAProxy in front of two instances, keys per person, shared state.

One gateway for the module (`--keys`, `--shared-state`, on an emulator this test starts and
reads): an unknown key is a 401 that sends nothing upstream; each person's conversation stays on
one instance; a conversation moved by killing its instance is sent exactly as before (the same
replayed reasoning, from Redis) and keeps its prompt cache; the killed instance comes back by
itself; a frozen (SIGSTOP) instance is taken out within 3 s; with no instance left every answer
is JSON; calls and tokens per person show in each instance's status; Ctrl-C stops everything
without a traceback. `scripts/gateway` installs HAProxy and Redis (Debian's packages) when they
are missing. 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai
import pytest
from openai import OpenAI

from chat2responses.cli.keys import add_key
from chat2responses.cli.status import fetch_status
from tests.e2e.test_http import TOOLS
from tests.emulator_helpers import stop_process

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = ROOT / "scripts" / "gateway"
READY = re.compile(r"gateway is ready: (http://127\.0\.0\.1:(\d+)/v1)")
INSTANCE = re.compile(r"instance (c2r-\d): mitmdump on 127\.0\.0\.1:(\d+), pid (\d+)")
MODEL = "gpt-5-codex"  # the HTTP route: each turn is sent in full, its reasoning replayed
PEOPLE = [f"person{n}" for n in range(8)]


@dataclass
class Lines:
    """A child's output, each line with when it arrived."""

    lines: list[tuple[float, str]] = field(default_factory=list)

    def read(self, stream: Any) -> None:
        for line in stream:
            self.lines.append((time.monotonic(), line))

    @property
    def text(self) -> str:
        return "".join(line for _, line in list(self.lines))

    def wait_for(self, pattern: re.Pattern[str], timeout: float, since: float = 0.0) -> float:
        """When a line matching `pattern` arrived after `since` (monotonic), waiting for it."""
        deadline = time.monotonic() + timeout
        while True:
            for at, line in list(self.lines):
                if at >= since and pattern.search(line):
                    return at
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern.pattern!r} not printed:\n{self.text}")
            time.sleep(0.02)


@dataclass
class Gateway:
    process: subprocess.Popen[str]
    out: Lines
    upstream: Lines  # the emulator's log: one line per request it received
    keys: dict[str, str]
    base_url: str = ""
    port: int = 0
    pids: dict[str, int] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    def pid_now(self, name: str) -> int:
        """The instance's pid now (a restart prints its new one)."""
        found = re.findall(rf"gateway: {name} [^\n]*?\(pid (\d+)", self.out.text)
        return int(found[-1]) if found else self.pids[name]

    def port_now(self, name: str) -> int:
        """The instance's port now (its standby's, once that took its place)."""
        found = re.findall(rf"gateway: {name} [^\n]*?\(pid \d+, 127\.0\.0\.1:(\d+)", self.out.text)
        return int(found[-1]) if found else self.ports[name]

    def every_port(self) -> set[int]:
        """Every port an instance or a standby of this gateway listened on."""
        found = re.findall(r"(?:mitmdump on |pid \d+, )127\.0\.0\.1:(\d+)", self.out.text)
        return {int(port) for port in found}

    def upstream_calls(self) -> int:
        return self.upstream.text.count("POST responses")


def _listens(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
        return True
    return False


@contextlib.contextmanager
def _emulator() -> Iterator[tuple[str, Lines]]:
    command = [sys.executable, "-m", "chat2responses.emulator", "--host", "127.0.0.1"]
    process = subprocess.Popen(
        [*command, "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    log, out = Lines(), Lines()
    readers = [
        threading.Thread(target=log.read, args=(process.stderr,)),
        threading.Thread(target=out.read, args=(process.stdout,)),
    ]
    for reader in readers:
        reader.start()
    try:
        found = out.wait_for(re.compile(r"http://\S+/backend-api/codex"), 30)
        line = next(line for at, line in out.lines if at == found)
        url = re.search(r"http://\S+/backend-api/codex", line)
        assert url is not None
        yield url.group(0), log
    finally:
        stop_process(process)
        if process.stderr:
            process.stderr.close()
        for reader in readers:
            reader.join(timeout=5)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    keys_file = tmp_path_factory.mktemp("keys") / "keys"
    keys = {name: add_key(name, keys_file) for name in PEOPLE}
    with _emulator() as (url, upstream):
        # The first run may install HAProxy and Redis with apt-get: allow for it.
        process = subprocess.Popen(
            [str(GATEWAY), "--port", "0", "--keys", str(keys_file), "--shared-state"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "C2R_UPSTREAM": url},
        )
        out = Lines()
        reader = threading.Thread(target=out.read, args=(process.stdout,))
        reader.start()
        running = Gateway(process, out, upstream, keys)
        try:
            ready = out.wait_for(READY, timeout=240)
            match = READY.search(next(line for at, line in out.lines if at == ready))
            assert match is not None
            running.base_url, running.port = match[1], int(match[2])
            out.wait_for(re.compile("Press Ctrl-C to stop"), timeout=10)
            for name, port, pid in INSTANCE.findall(out.text):
                running.ports[name], running.pids[name] = int(port), int(pid)
            assert sorted(running.pids) == ["c2r-1", "c2r-2"], out.text
            yield running
        finally:
            stop_process(process, signal.SIGINT, timeout=20)
            reader.join(timeout=5)


class Conversation:
    """One person's tool loop, resent in full each turn; remembers where each turn went."""

    def __init__(self, gateway: Gateway, person: str, retries: int = 2) -> None:
        self.person = person
        self.client = OpenAI(
            base_url=gateway.base_url, api_key=gateway.keys[person], max_retries=retries
        )
        self.messages: list[Any] = [
            {"role": "system", "content": "You are an agent. " * 40},
            {"role": "user", "content": f"[scenario:tool] {person} {time.monotonic_ns()}"},
        ]
        self.served_by: list[str] = []
        self.cached: list[float] = []  # each turn's cached share of its prompt

    def turn(self) -> None:
        """One tool call answered: the call and its result join the history."""
        raw = self.client.chat.completions.with_raw_response.create(
            model=MODEL, messages=self.messages, tools=TOOLS
        )
        completion = raw.parse()
        self.served_by.append(raw.headers["x-served-by"])
        message = completion.choices[0].message
        assert message.tool_calls, completion
        usage = completion.usage
        assert usage is not None and usage.prompt_tokens_details is not None
        self.cached.append((usage.prompt_tokens_details.cached_tokens or 0) / usage.prompt_tokens)
        self.messages.append(message.model_dump(exclude_none=True))
        call_id = message.tool_calls[0].id
        self.messages.append({"role": "tool", "tool_call_id": call_id, "content": "sunny, 21 C"})

    def echo(self) -> tuple[dict[str, Any], str]:
        """The body the upstream received for the history plus one question (not kept)."""
        question = {"role": "user", "content": "[scenario:echo_request] what did you get?"}
        raw = self.client.chat.completions.with_raw_response.create(
            model=MODEL, messages=[*self.messages, question], tools=TOOLS
        )
        content = raw.parse().choices[0].message.content or ""
        return dict(json.loads(content)), raw.headers["x-served-by"]


def _two_people_on_two_instances(gateway: Gateway) -> tuple[Conversation, Conversation]:
    first = Conversation(gateway, PEOPLE[0])
    first.turn()
    for person in PEOPLE[1:]:
        other = Conversation(gateway, person)
        other.turn()
        if other.served_by[0] != first.served_by[0]:
            return first, other
    raise AssertionError("every person's name hashed to one instance")


def _reasoning(body: dict[str, Any]) -> list[Any]:
    return [item for item in body["input"] if item.get("type") == "reasoning"]


def test_an_unknown_key_gets_a_401_and_nothing_goes_upstream(gateway: Gateway) -> None:
    before = gateway.upstream_calls()
    client = OpenAI(base_url=gateway.base_url, api_key="sk-not-listed", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as refused:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert refused.value.status_code == 401 and refused.value.code == "invalid_api_key"
    assert "sk-not-listed" not in refused.value.message
    # No key at all (the SDK insists on one: a bare request).
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
    body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "hi"}]})
    connection.request("POST", "/v1/chat/completions", body, {"content-type": "application/json"})
    answer = connection.getresponse()
    assert answer.status == 401 and answer.getheader("content-type") == "application/json"
    assert json.loads(answer.read())["error"]["code"] == "invalid_api_key"
    connection.close()
    time.sleep(0.3)
    assert gateway.upstream_calls() == before
    assert "request refused (401)" in gateway.out.text


def test_a_moved_conversation_keeps_its_request_and_its_cache(gateway: Gateway) -> None:
    started = time.monotonic()
    alice, bob = _two_people_on_two_instances(gateway)
    for _ in range(3):
        alice.turn()
        bob.turn()
    home = alice.served_by[0]
    assert set(alice.served_by) == {home} and set(bob.served_by) == {bob.served_by[0]} != {home}
    warm = alice.cached[-1]  # the cached share before the move
    assert warm > 0.75, alice.cached
    # Calls and tokens per person, in the status of the instance that served them.
    status = fetch_status(gateway.port_now(home))
    line = re.search(
        rf"  {alice.person}: 4 calls, tokens (\d+) in \((\d+) cached\) / (\d+) out", status
    )
    assert line is not None and int(line[1]) > int(line[2]) > 0 < int(line[3]), status
    assert bob.person not in status and "sk-" not in status

    before, served = alice.echo()
    assert served == home and len(_reasoning(before)) == 4  # one kept per tool call

    killed = time.monotonic()
    lost = gateway.pid_now(home)
    os.kill(lost, signal.SIGKILL)
    # The moved turn: served by a process that never saw this conversation (bob's instance,
    # or the standby now in c2r-1's place), with what alice's own instance would have sent.
    after, served = alice.echo()
    assert _reasoning(after) == _reasoning(before)  # replayed from Redis, item for item
    assert after["input"] == before["input"]
    assert after["prompt_cache_key"] == before["prompt_cache_key"]
    alice.turn()  # a moved prompt that differed would miss from its first assistant turn on
    assert alice.cached[-1] >= 0.9 * warm, alice.cached
    bob.turn()
    assert bob.served_by[-1] == bob.served_by[0]

    # The killed instance is back in service by itself (its standby took its place, or it
    # started again), and alice's conversation is served there again.
    pattern = f"gateway: {home} exited \\(killed by signal 9\\); (its standby|starting it)"
    gateway.out.wait_for(re.compile(pattern), 5, since=killed)
    assert gateway.pid_now(home) != lost
    while True:
        alice.turn()
        if alice.served_by[-1] == home:
            break
        assert time.monotonic() - killed < 10, alice.served_by
        time.sleep(0.2)
    assert min(alice.cached[4:]) >= 0.9 * warm, alice.cached
    assert time.monotonic() - started < 40


def test_a_frozen_instance_is_out_within_3_s_and_its_user_goes_on(gateway: Gateway) -> None:
    carol = Conversation(gateway, PEOPLE[2], retries=0)
    carol.turn()
    frozen = carol.served_by[0]
    pid = gateway.pid_now(frozen)
    stopped_at = time.monotonic()
    os.kill(pid, signal.SIGSTOP)
    try:
        # A call sent to it now waits, and ends once HAProxy sees it frozen (or goes to the
        # other instance if it saw that first): never a hang. It ends as a JSON 502, or, on a
        # kept-alive connection, with the connection closed (no HTML either way).
        try:
            carol.turn()
            assert carol.served_by[-1] != frozen
        except openai.APIStatusError as err:
            assert err.status_code == 502 and err.code == "instance_lost"
            assert err.response.headers["content-type"] == "application/json"
        except openai.APIConnectionError:
            pass
        assert time.monotonic() - stopped_at < 4
        down = gateway.out.wait_for(
            re.compile(f"Server instances/{frozen} is DOWN"), 4, since=stopped_at
        )
        assert down - stopped_at < 3, gateway.out.text
        carol.turn()
        assert carol.served_by[-1] != frozen
    finally:
        os.kill(pid, signal.SIGCONT)
    gateway.out.wait_for(re.compile(f"Server instances/{frozen} is UP"), 10, since=stopped_at)


def test_with_no_instance_left_every_answer_is_json(gateway: Gateway) -> None:
    pids = [gateway.pid_now(name) for name in ("c2r-1", "c2r-2")]
    stopped_at = time.monotonic()
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        gateway.out.wait_for(re.compile("has no server available"), 5, since=stopped_at)
        client = OpenAI(base_url=gateway.base_url, api_key=gateway.keys[PEOPLE[0]], max_retries=0)
        for stream in (False, True):
            with pytest.raises(openai.APIStatusError) as refused:
                client.chat.completions.create(
                    model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=stream
                )
            assert refused.value.status_code == 503
            assert refused.value.code == "no_instance_available"
            assert refused.value.response.headers["content-type"] == "application/json"
            assert "<html" not in refused.value.response.text.lower()
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    for name in ("c2r-1", "c2r-2"):
        gateway.out.wait_for(re.compile(f"Server instances/{name} is UP"), 10, since=stopped_at)


def test_ctrl_c_stops_haproxy_redis_and_every_instance(gateway: Gateway) -> None:
    """An answer streaming at the stop ends with the instance's own stopping error, not a cut
    connection (HAProxy stopped first, hard, cut every stream)."""
    assert _listens(gateway.port)
    assert all(_listens(gateway.port_now(name)) for name in gateway.ports)
    ports = gateway.every_port()
    client = OpenAI(base_url=gateway.base_url, api_key=gateway.keys[PEOPLE[0]], max_retries=0)
    ended: list[BaseException | None] = []

    def stream() -> None:
        messages: Any = [{"role": "user", "content": "[scenario:slow:300] at the stop"}]
        try:
            for _ in client.chat.completions.create(model=MODEL, messages=messages, stream=True):
                pass
            ended.append(None)
        except BaseException as exc:  # the test reads how it ended
            ended.append(exc)

    streaming = threading.Thread(target=stream)
    streaming.start()
    time.sleep(2)  # the answer is under way
    gateway.process.send_signal(signal.SIGINT)
    streaming.join(30)
    assert len(ended) == 1 and isinstance(ended[0], openai.APIError), repr(ended)
    assert not isinstance(ended[0], openai.APIConnectionError), repr(ended[0])
    assert "is stopping" in ended[0].message
    assert gateway.process.wait(timeout=20) == 130
    assert not _listens(gateway.port)
    assert not any(_listens(port) for port in ports)
    assert "Traceback" not in gateway.out.text
