"""The gateway's children: each in its own process group with its lines prefixed, an
instance's health, and the supervisor that replaces an instance that exits.

deploy/gateway.py starts the gateway; this module keeps its instances running. What to do when
one exits (the standby, the backoff, what is said) is deploy/policy.py's.

Rule 1: each child runs in its own process group: a Ctrl-C in the terminal reaches the gateway
        alone, which stops the children in order.
Rule 2: an instance keeps its port across restarts; a standby that takes an instance's place
        gets HAProxy's server line pointed at its own port (the admin socket).
"""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from chat2responses.cli.commands import CliError
from chat2responses.cli.processes import READY_TIMEOUT, wait_until_listening
from deploy.policy import exit_message, next_backoff, standby_message

TICK = 0.1  # seconds between looks at the children
HEALTH_PATH = "/_chat2responses/health"


# What redis-server says at every start, whatever its log level: not news.
_REDIS_CHATTER = (
    *("oO0OoO0OoO0Oo", "Redis version=", "Configuration loaded", "Server initialized"),
    *("Memory overcommit", "Received SIGTERM", "User requested shutdown", "bye bye"),
)


def _prefixed(stream: IO[str], label: Label) -> None:
    for line in stream:
        if label.text == "redis" and any(words in line for words in _REDIS_CHATTER):
            continue
        sys.stdout.write(f"[{label.text}] {line}")
        sys.stdout.flush()


@dataclass
class Label:
    """The name a child's lines are prefixed with (a standby's changes when it takes over)."""

    text: str


def spawn(command: list[str], label: Label) -> subprocess.Popen[str]:
    """A child in its own process group (rule 1), its lines prefixed with `label`."""
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, process_group=0
    )
    assert child.stdout is not None
    threading.Thread(target=_prefixed, args=(child.stdout, label), daemon=True).start()
    return child


@dataclass
class Instance:
    label: Label  # its server name in haproxy.cfg, or "standby"
    port: int  # kept across restarts (rule 2)
    command: list[str]
    child: subprocess.Popen[str] | None = None
    started: float = 0.0
    backoff: float | None = None  # the last restart's delay
    restart_at: float | None = None

    @property
    def name(self) -> str:
        return self.label.text

    def start(self) -> None:
        self.child = spawn(self.command, self.label)
        self.started, self.restart_at = time.monotonic(), None

    @property
    def running(self) -> bool:
        return self.child is not None and self.child.poll() is None

    @property
    def exited(self) -> bool:
        return self.child is not None and self.child.poll() is not None


def wait_until_healthy(instance: Instance) -> None:
    """Returns once `instance` answers its health check with 200 (HAProxy's check), so that the
    gateway is ready when it says so."""
    assert instance.child is not None
    child, what = instance.child, f"{instance.name} (mitmdump)"
    wait_until_listening(child, instance.port, what)
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise CliError(f"{what} exited (status {child.returncode}); see its output above")
        connection = http.client.HTTPConnection("127.0.0.1", instance.port, timeout=2)
        try:
            connection.request("GET", HEALTH_PATH)
            if connection.getresponse().status == 200:
                return
        except (OSError, http.client.HTTPException):
            pass
        finally:
            connection.close()
        time.sleep(0.1)
    raise CliError(f"{what} did not answer {HEALTH_PATH} with 200 within {READY_TIMEOUT:.0f} s")


class Supervisor:
    """Starts again each instance that exits (policy rule 3): the standby takes its place, or
    it starts again on its own port after its backoff."""

    def __init__(
        self, instances: list[Instance], make: Callable[[str], Instance], admin: Path
    ) -> None:
        self.instances = instances
        self.make = make  # a new instance on a free port, by name
        self.admin = admin  # HAProxy's admin socket
        self.standby: Instance | None = None
        self.standby_at: float | None = None  # when to start the next one
        self.standby_backoff: float | None = None

    def start_standby(self, *, say: bool = False) -> None:
        self.standby = standby = self.make("standby")
        standby.start()
        self.standby_at = None
        if say and standby.child is not None:
            print(
                f"gateway: a new standby starts (pid {standby.child.pid}, "
                f"127.0.0.1:{standby.port}).",
                flush=True,
            )

    def tick(self, now: float) -> None:
        for instance in self.instances:
            if instance.restart_at is None and instance.exited:
                self._lost(instance, now)
            elif instance.restart_at is not None and now >= instance.restart_at:
                instance.start()
                assert instance.child is not None
                print(
                    f"gateway: {instance.name} started again (pid {instance.child.pid}, "
                    f"127.0.0.1:{instance.port}); HAProxy takes it back once two health checks "
                    "pass.",
                    flush=True,
                )
        standby = self.standby
        if standby is not None and standby.exited:
            self.standby = None
            self.standby_backoff = next_backoff(self.standby_backoff, now - standby.started)
            self.standby_at = now + self.standby_backoff
        if self.standby is None and self.standby_at is not None and now >= self.standby_at:
            self.start_standby(say=True)

    def _lost(self, instance: Instance, now: float) -> None:
        assert instance.child is not None
        status, standby = instance.child.returncode, self.standby
        if standby is not None and standby.running and self._point(instance.name, standby.port):
            assert standby.child is not None
            print(standby_message(instance.name, status, standby.child.pid, standby.port))
            standby.label.text = instance.name  # its lines are the instance's from now on
            instance.label, instance.port = standby.label, standby.port
            instance.command, instance.child = standby.command, standby.child
            instance.started, instance.backoff = standby.started, None
            self.standby, self.standby_at = None, now
            sys.stdout.flush()
            return
        delay = next_backoff(instance.backoff, now - instance.started)
        instance.backoff, instance.restart_at = delay, now + delay
        others = [i.name for i in self.instances if i is not instance and i.running]
        print(exit_message(instance.name, status, delay, others), flush=True)

    def _point(self, name: str, port: int) -> bool:
        """HAProxy's server `name` at 127.0.0.1:`port` from now on (its admin socket)."""
        command = f"set server instances/{name} addr 127.0.0.1 port {port}\n".encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as admin:
                admin.settimeout(2)
                admin.connect(str(self.admin))
                admin.sendall(command)
                answer = admin.recv(4096).decode("utf-8", "replace")
        except OSError as exc:
            print(f"gateway: HAProxy's admin socket did not answer ({exc})", flush=True)
            return False
        return "port changed" in answer or "no need to change" in answer


def supervise(haproxy: subprocess.Popen[str], supervisor: Supervisor) -> int:
    """Until HAProxy exits: instances that exit are replaced (Supervisor)."""
    while haproxy.poll() is None:
        supervisor.tick(time.monotonic())
        time.sleep(TICK)
    print(f"gateway: HAProxy exited (status {haproxy.returncode}); stopping.", flush=True)
    return haproxy.returncode or 1
