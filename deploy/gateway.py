"""`scripts/gateway`: one base URL for a team, HAProxy in front of chat2responses instances.

Starts: the bundled emulator (unless `--upstream` names another upstream), `--instances`
mitmdump instances with the addon (reverse mode, on 127.0.0.1, the same command line as
`chat2responses run`), with `--shared-state` a Redis for them (Debian's redis-server, on
127.0.0.1), and HAProxy with deploy/haproxy.cfg on `--listen-host`:`--port`. Prints the base URL
and each instance's port and pid, prefixes each child's console lines with its name, replaces an
instance that exits (its standby, else a restart after a backoff: deploy/policy.py), and stops
everything on Ctrl-C.

Its children and the supervisor that keeps the instances running: deploy/children.py.

Rule 1: the children are stopped in order on Ctrl-C or SIGTERM, each once: HAProxy takes no
        new connection, the instances end their answers in flight with their stopping error
        (relayed), then HAProxy and the rest stop; a second Ctrl-C does not cut that short.
Rule 2: the gateway is ready when every instance and the standby answer their health check.
Rule 3: what the keys file says reaches HAProxy as a map of digests to names (policy.keys_map),
        written beside the gateway's other temporary files, readable by its owner only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from chat2responses.cli.commands import (
    EMULATOR_NAMES,
    CliError,
    Upstream,
    emulator_command,
    mitmproxy_command,
    resolve_upstream,
)
from chat2responses.cli.flags import add_upstream
from chat2responses.cli.processes import (
    claim_port,
    free_port,
    start_emulator,
    stop,
    wait_until_listening,
)
from chat2responses.request.client_keys import parse_keys
from deploy.children import Instance, Label, Supervisor, spawn, supervise, wait_until_healthy
from deploy.policy import (
    check_instances,
    check_listen_host,
    keys_map,
)

CONFIG = Path(__file__).resolve().parent / "haproxy.cfg"


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
    add_upstream(
        parser, "the Responses upstream, as for chat2responses run (default: the bundled emulator)"
    )
    parser.add_argument(
        "--haproxy", default=env("C2R_HAPROXY", "haproxy"), help="the haproxy binary to run"
    )
    return parser.parse_args(argv)


def start_redis() -> tuple[subprocess.Popen[str], str]:
    """A Redis for the instances' shared state: 127.0.0.1 only, in memory only, bounded."""
    binary = os.environ.get("C2R_REDIS_SERVER", "redis-server")
    port = free_port()
    command = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
    command += ["--appendonly", "no", "--maxmemory", "256mb"]
    command += ["--maxmemory-policy", "allkeys-lru", "--loglevel", "warning"]
    try:
        child = spawn(command, Label("redis"))
    except FileNotFoundError:
        raise CliError(f"{binary} not found: scripts/gateway --shared-state installs it") from None
    wait_until_listening(child, port, "redis-server")
    return child, f"redis://127.0.0.1:{port}/0"


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
    haproxy: subprocess.Popen[str] | None = None
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
        for each in [*instances, supervisor.standby]:
            if each is not None:
                wait_until_healthy(each)
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
        _stop_all(children, supervisor, haproxy)
        shutil.rmtree(temp, ignore_errors=True)


def _stop_all(
    children: list[subprocess.Popen[str]],
    supervisor: Supervisor | None,
    haproxy: subprocess.Popen[str] | None,
) -> None:
    """HAProxy stops taking connections first (its soft stop: those it has go on), then the
    instances and the standby stop, each ending the answers in flight with its own stopping
    error, which HAProxy still relays; then HAProxy and the rest."""
    if haproxy is not None and haproxy.poll() is None:
        haproxy.send_signal(signal.SIGUSR1)
    mine = [] if supervisor is None else [*supervisor.instances, supervisor.standby]
    instances = [i.child for i in mine if i is not None and i.child is not None]
    for child in [*instances, *children[::-1]]:
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
