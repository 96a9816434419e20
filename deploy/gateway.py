"""`scripts/gateway`: one base URL for a team, HAProxy in front of two chat2responses instances.

Starts, all on 127.0.0.1: the bundled emulator (unless `--upstream` names another upstream), two
mitmdump instances with the addon (reverse mode, free ports, the same command line as
`chat2responses run`), and HAProxy with deploy/haproxy.cfg on `--port`. Prints the base URL and
each instance's port and pid, prefixes each instance's console lines with its name, and stops
everything on Ctrl-C. An instance that dies is reported and left dead: HAProxy's checks take it out
and its conversations move to the other instance, which is the point of the exercise.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
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
    claim_port,
    free_port,
    start_emulator,
    stop,
    wait_until_listening,
)

CONFIG = Path(__file__).resolve().parent / "haproxy.cfg"
INSTANCES = ("c2r-1", "c2r-2")  # the server names in haproxy.cfg, in order


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="scripts/gateway",
        description="HAProxy on 127.0.0.1 in front of two chat2responses instances, each "
        "conversation kept on one instance (deploy/haproxy.cfg).",
        epilog="environment: C2R_GATEWAY_PORT (--port), C2R_UPSTREAM (--upstream), "
        "C2R_HAPROXY (--haproxy); scripts/gateway installs Debian's haproxy when it is missing.",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(env("C2R_GATEWAY_PORT", "8080")),
        help="the gateway's port on 127.0.0.1 (default 8080; 0 picks a free one)",
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


def _prefixed(stream: IO[str], name: str) -> None:
    for line in stream:
        sys.stdout.write(f"[{name}] {line}")
        sys.stdout.flush()


def start_instance(name: str, upstream: Upstream) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    command = mitmproxy_command("mitmdump", upstream, port=port, web_port=None, verbose=False)
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert child.stdout is not None
    threading.Thread(target=_prefixed, args=(child.stdout, name), daemon=True).start()
    return child, port


def start_haproxy(binary: str, port: int, instance_ports: Sequence[int]) -> subprocess.Popen[str]:
    env = {**os.environ, "C2R_GATEWAY_BIND": f"127.0.0.1:{port}"}
    for number, instance_port in enumerate(instance_ports, start=1):
        env[f"C2R_INSTANCE_{number}"] = f"127.0.0.1:{instance_port}"
    try:
        return subprocess.Popen([binary, "-db", "-f", str(CONFIG)], env=env, text=True)
    except FileNotFoundError:
        raise CliError(f"{binary} not found: scripts/gateway installs it (apt-get)") from None


def watch(haproxy: subprocess.Popen[str], instances: dict[str, subprocess.Popen[str]]) -> int:
    """Waits for HAProxy to exit; reports an instance that dies and leaves the rest running."""
    reported: set[str] = set()
    while haproxy.poll() is None:
        for name, child in instances.items():
            if name not in reported and child.poll() is not None:
                reported.add(name)
                print(
                    f"gateway: {name} exited (status {child.returncode}); HAProxy sends its "
                    "conversations to the other instance.",
                    flush=True,
                )
        time.sleep(0.2)
    return haproxy.returncode


def run(args: argparse.Namespace) -> int:
    port = claim_port(args.port, "the gateway (HAProxy)", "--port", "C2R_GATEWAY_PORT")
    children: list[subprocess.Popen[str]] = []
    try:
        emulator_url = None
        if args.upstream in EMULATOR_NAMES:
            emulator, emulator_url = start_emulator(emulator_command(verbose=False))
            children.append(emulator)
        upstream = resolve_upstream(args.upstream, emulator_url, "", "")
        instances: dict[str, subprocess.Popen[str]] = {}
        ports: list[int] = []
        for name in INSTANCES:  # started together: their start-ups overlap
            child, instance_port = start_instance(name, upstream)
            children.append(child)
            instances[name] = child
            ports.append(instance_port)
        for (name, child), instance_port in zip(instances.items(), ports, strict=True):
            wait_until_listening(child, instance_port, f"{name} (mitmdump)")
        haproxy = start_haproxy(args.haproxy, port, ports)
        children.append(haproxy)
        wait_until_listening(haproxy, port, "haproxy")
        print(f"\ngateway is ready: http://127.0.0.1:{port}/v1 (HAProxy, {CONFIG})", flush=True)
        print(f"  upstream {upstream.label} ({upstream.url})")
        for (name, child), instance_port in zip(instances.items(), ports, strict=True):
            print(f"  instance {name}: mitmdump on 127.0.0.1:{instance_port}, pid {child.pid}")
        print("Each answer names its instance in X-Served-By. Press Ctrl-C to stop.\n", flush=True)
        return watch(haproxy, instances)
    except KeyboardInterrupt:
        return 130
    finally:
        for child in reversed(children):
            stop(child)


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
