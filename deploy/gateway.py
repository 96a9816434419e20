"""`scripts/gateway`: one base URL for a team, HAProxy in front of chat2responses instances.

Starts: the bundled emulator (unless `--upstream` names another upstream), `--instances`
mitmdump instances with the addon (reverse mode, on 127.0.0.1, the same command line as
`chat2responses run`), with `--shared-state` a Redis for them (Debian's redis-server, on
127.0.0.1), and HAProxy with deploy/haproxy.cfg on `--listen-host`:`--port`. Prints the base URL
and each instance's port and pid, prefixes each child's console lines with its name, starts an
instance that exits again (deploy/policy.py: backoff, and what it says), and stops everything on
Ctrl-C.

Rule 1: each child runs in its own process group: a Ctrl-C in the terminal reaches this process
        alone, which stops the children in order (HAProxy first), each once.
Rule 2: an instance keeps its port across restarts: HAProxy's server line stays right, and its
        health check takes the instance back once it answers.
Rule 3: what the keys file says reaches HAProxy as a map of digests to names (policy.keys_map),
        written beside the gateway's other temporary files, readable by its owner only.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from chat2responses.cli.commands import (
    EMULATOR_NAMES,
    CliError,
    Upstream,
    emulator_command,
    mitmproxy_command,
    resolve_upstream,
)
from chat2responses.cli.processes import (
    READY_TIMEOUT,
    claim_port,
    free_port,
    start_emulator,
    stop,
    wait_until_listening,
)
from chat2responses.request.client_keys import parse_keys
from deploy.policy import (
    check_instances,
    check_listen_host,
    exit_message,
    keys_map,
    next_backoff,
    standby_message,
)

CONFIG = Path(__file__).resolve().parent / "haproxy.cfg"
TICK = 0.1  # seconds between looks at the children
HEALTH_PATH = "/_chat2responses/health"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="scripts/gateway",
        description="HAProxy in front of chat2responses instances, each conversation kept on "
        "one instance, an instance that exits started again (deploy/haproxy.cfg).",
        epilog="environment: C2R_GATEWAY_PORT (--port), C2R_UPSTREAM (--upstream), "
        "C2R_HAPROXY (--haproxy), C2R_REDIS_SERVER (the redis-server binary); scripts/gateway "
        "installs Debian's haproxy (and with --shared-state redis-server) when missing.",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(env("C2R_GATEWAY_PORT", "8080")),
        help="the gateway's port (default 8080; 0 picks a free one)",
    )
    parser.add_argument(
        "--listen-host",
        default="127.0.0.1",
        help="the address HAProxy listens on (default 127.0.0.1); another one than loopback "
        "needs --keys",
    )
    parser.add_argument(
        "--keys",
        metavar="PATH",
        help="the keys file (chat2responses keys add NAME --file PATH), given to every "
        "instance as responses_client_keys: a call without a listed key gets a 401",
    )
    parser.add_argument(
        "--instances", type=int, default=2, help="how many instances (1 to 8, default 2)"
    )
    parser.add_argument(
        "--shared-state",
        action="store_true",
        help="start a Redis on 127.0.0.1 and keep the instances' conversation state in it "
        "(responses_state_url), so that a moved conversation keeps its prompt cache",
    )
    parser.add_argument(
        "--upstream",
        default=env("C2R_UPSTREAM", "emulator"),
        metavar="codex|openai|emulator|URL",
        help="the Responses upstream, as for chat2responses run (default: the bundled emulator)",
    )
    parser.add_argument(
        "--haproxy", default=env("C2R_HAPROXY", "haproxy"), help="the haproxy binary to run"
    )
    return parser.parse_args(argv)


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


def _spawn(command: list[str], label: Label) -> subprocess.Popen[str]:
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
        self.child = _spawn(self.command, self.label)
        self.started, self.restart_at = time.monotonic(), None

    @property
    def running(self) -> bool:
        return self.child is not None and self.child.poll() is None

    @property
    def exited(self) -> bool:
        return self.child is not None and self.child.poll() is not None


def start_redis() -> tuple[subprocess.Popen[str], str]:
    """A Redis for the instances' shared state: 127.0.0.1 only, in memory only, bounded."""
    binary = os.environ.get("C2R_REDIS_SERVER", "redis-server")
    port = free_port()
    command = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
    command += ["--appendonly", "no", "--maxmemory", "256mb"]
    command += ["--maxmemory-policy", "allkeys-lru", "--loglevel", "warning"]
    try:
        child = _spawn(command, Label("redis"))
    except FileNotFoundError:
        raise CliError(f"{binary} not found: scripts/gateway --shared-state installs it") from None
    wait_until_listening(child, port, "redis-server")
    return child, f"redis://127.0.0.1:{port}/0"


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


def write_keys_map(path: str, where: Path) -> Path:
    """Rule 3."""
    source = Path(path).expanduser()
    try:
        keys = parse_keys(source.read_text(encoding="utf-8"), str(source))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CliError(f"--keys {path}: {exc}") from None
    target = where / "keys.map"
    target.write_text(keys_map(keys), encoding="utf-8")
    target.chmod(0o600)
    return target


def start_haproxy(
    binary: str, bind: str, instances: Sequence[Instance], keys: Path | None, admin: Path
) -> subprocess.Popen[str]:
    env = {**os.environ, "C2R_GATEWAY_BIND": bind, "C2R_HAPROXY_SOCKET": str(admin)}
    for number, instance in enumerate(instances, start=1):
        env[f"C2R_INSTANCE_{number}"] = f"127.0.0.1:{instance.port}"
    if keys is not None:
        env["C2R_KEYS_MAP"] = str(keys)
    try:
        # Not prefixed: its DOWN/UP alerts are the gateway's own news.
        return subprocess.Popen(
            [binary, "-db", "-f", str(CONFIG)], env=env, text=True, process_group=0
        )
    except FileNotFoundError:
        raise CliError(f"{binary} not found: scripts/gateway installs it (apt-get)") from None


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


def run(args: argparse.Namespace) -> int:
    for problem in (
        check_instances(args.instances),
        check_listen_host(args.listen_host, args.keys),
    ):
        if problem:
            raise CliError(problem)
    port = claim_port(args.port, "the gateway (HAProxy)", "--port", "C2R_GATEWAY_PORT")
    children: list[subprocess.Popen[str]] = []
    supervisor: Supervisor | None = None
    temp = Path(tempfile.mkdtemp(prefix="c2r-gateway-"))
    try:
        keys_map_path = write_keys_map(args.keys, temp) if args.keys else None
        extra: list[str] = []
        if args.keys:
            extra += ["--set", f"responses_client_keys={Path(args.keys).expanduser().resolve()}"]
        if args.shared_state:
            redis, state_url = start_redis()
            children.append(redis)
            extra += ["--set", f"responses_state_url={state_url}"]
        emulator_url = None
        if args.upstream in EMULATOR_NAMES:
            emulator, emulator_url = start_emulator(emulator_command(verbose=False))
            children.append(emulator)
        upstream = resolve_upstream(args.upstream, emulator_url, "", "")

        def make(name: str) -> Instance:
            instance_port = free_port()
            command = mitmproxy_command(
                "mitmdump", upstream, port=instance_port, web_port=None, verbose=False, extra=extra
            )
            return Instance(Label(name), instance_port, command)

        instances = [make(f"c2r-{n}") for n in range(1, args.instances + 1)]
        supervisor = Supervisor(instances, make, temp / "haproxy.sock")
        for instance in instances:  # started together: their start-ups overlap
            instance.start()
        supervisor.start_standby()
        for instance in [*instances, supervisor.standby]:
            assert instance is not None
            wait_until_healthy(instance)
        host = args.listen_host.strip("[]")
        haproxy = start_haproxy(
            args.haproxy, f"{host}:{port}", instances, keys_map_path, supervisor.admin
        )
        children.append(haproxy)
        wait_until_listening(haproxy, port, "haproxy")
        _announce(host, port, upstream, supervisor, args)
        return supervise(haproxy, supervisor)
    except KeyboardInterrupt:
        return 130
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C must not cut it short
            signal.signal(signum, signal.SIG_IGN)
        _stop_all(children, supervisor)
        shutil.rmtree(temp, ignore_errors=True)


def _stop_all(children: list[subprocess.Popen[str]], supervisor: Supervisor | None) -> None:
    """HAProxy first (started last), then the instances and the standby, then the rest."""
    mine = [] if supervisor is None else [*supervisor.instances, supervisor.standby]
    instances = [i.child for i in mine if i is not None and i.child is not None]
    for child in [*children[-1:], *instances, *children[:-1]]:
        stop(child)


def _announce(
    host: str, port: int, upstream: Upstream, supervisor: Supervisor, args: argparse.Namespace
) -> None:
    shown = f"[{host}]" if ":" in host else host
    print(f"\ngateway is ready: http://{shown}:{port}/v1 (HAProxy, {CONFIG})", flush=True)
    print(f"  upstream {upstream.label} ({upstream.url})")
    for instance in [*supervisor.instances, supervisor.standby]:
        if instance is not None and instance.child is not None:
            print(
                f"  {'instance ' if instance.name != 'standby' else ''}{instance.name}: mitmdump "
                f"on 127.0.0.1:{instance.port}, pid {instance.child.pid}"
            )
    print(f"  keys: {args.keys}" if args.keys else "  keys: none (anyone who reaches it)")
    if args.shared_state:
        print("  shared state: Redis on 127.0.0.1 (moved conversations keep their cache)")
    print(
        "The standby takes the place of an instance that exits. Each answer names its instance "
        "in X-Served-By; an instance's status: chat2responses status --port N. "
        "Press Ctrl-C to stop.\n",
        flush=True,
    )


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _raise_interrupt)
    try:
        return run(args)
    except CliError as err:
        print(f"gateway: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
