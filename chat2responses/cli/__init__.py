"""The `chat2responses` command: the proxy with the addon, the emulator alone, the entry script.

    chat2responses run [--upstream codex|openai|emulator|URL] [--port N] [--web] [--verbose] [-- …]
    chat2responses emulator [--port N …]     # python -m chat2responses.emulator
    chat2responses script                    # the path to give mitmproxy's -s
    chat2responses status [--port N]         # a running proxy's quota and learned routes
    chat2responses intercept proxy|transparent|local|wireguard [...]   # cli/intercept.py
    chat2responses keys add NAME --file PATH # a new key for a person (responses_client_keys)
    chat2responses report FLOWS -o report.html  # saved flows as an HTML page with charts

Owns: the order of a run (its flags are arguments.py's): refuse a busy
port before anything starts, start the emulator (when it is the upstream) and mitmdump/mitmweb from
this same Python environment, print the banner once the proxy is ready, stop both on Ctrl-C or
when either exits. What the children are is commands.py; how they are watched is processes.py.
Must not: load mitmproxy in this process (the children do) or know anything about translation.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from difflib import get_close_matches
from pathlib import Path

from chat2responses.cli import intercept
from chat2responses.cli import report as report_command
from chat2responses.cli.arguments import RunSettings, build_parser, settings_from
from chat2responses.cli.commands import (
    EMULATOR_NAMES,
    ENTRY_SCRIPT,
    CliError,
    banner,
    check_mitmproxy_args,
    check_upstream,
    emulator_command,
    mitmproxy_command,
    resolve_upstream,
)
from chat2responses.cli.flags import port_number
from chat2responses.cli.keys import run_keys_add
from chat2responses.cli.processes import (
    claim_port,
    settle,
    start_emulator,
    stop,
    wait_until_listening,
    wait_until_ready,
)
from chat2responses.cli.status import NotRunning, fetch_status
from chat2responses.glue.ready import READY_VARIABLE, read_web_url


def run(settings: RunSettings) -> int:
    """Starts the children, prints the banner once ready, and waits; returns the exit status."""
    check_upstream(settings.upstream)
    check_mitmproxy_args(settings.mitmproxy_args)
    tool = "mitmweb" if settings.web else "mitmdump"
    port = claim_port(settings.port, tool, "--port", "C2R_PORT")
    web_port = (
        claim_port(settings.web_port, "mitmweb's UI", "--web-port", "C2R_WEB_PORT", taken=port)
        if settings.web
        else None
    )
    children: list[subprocess.Popen[str]] = []
    ready = Path(tempfile.mkdtemp(prefix="chat2responses-")) / "ready"
    try:
        emulator_url = None
        if settings.upstream in EMULATOR_NAMES:
            emulator, emulator_url = start_emulator(emulator_command(settings.verbose))
            children.append(emulator)
        upstream = resolve_upstream(
            settings.upstream, emulator_url, settings.auth, settings.rewrite
        )
        command = mitmproxy_command(
            tool,
            upstream,
            port=port,
            web_port=web_port,
            verbose=settings.verbose,
            extra=settings.mitmproxy_args,
        )
        proxy = subprocess.Popen(command, text=True, env={**os.environ, READY_VARIABLE: str(ready)})
        children.append(proxy)
        wait_until_listening(proxy, port, tool)
        if web_port is not None:
            wait_until_listening(proxy, web_port, tool)
        wait_until_ready(proxy, ready, tool)
        settle(proxy, port, tool)
        web_url = read_web_url(ready) if web_port is not None else None
        print(banner(tool, port, upstream, web_url, own_command()), flush=True)
        while all(child.poll() is None for child in children):
            time.sleep(0.2)
        gone = next(child for child in children if child.poll() is not None)
        if gone is not proxy:
            print("chat2responses: the emulator stopped; stopping the proxy.", file=sys.stderr)
        elif gone.returncode:
            print(f"chat2responses: {tool} exited (status {gone.returncode})", file=sys.stderr)
        return gone.returncode or (1 if gone is not proxy else 0)
    except KeyboardInterrupt:
        return 130
    finally:
        # A second Ctrl-C (or a SIGTERM to the whole group) must not cut the clean stop short.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)
        for child in reversed(children):
            stop(child)
        shutil.rmtree(ready.parent, ignore_errors=True)


def own_command() -> str:
    """How the user runs this command: `chat2responses` when that is what their PATH finds,
    else its path (`.venv/bin/chat2responses` from a checkout's scripts/run)."""
    mine = Path(sys.executable).parent / "chat2responses"
    found = shutil.which("chat2responses")
    if found and Path(found).resolve() == mine.resolve():
        return "chat2responses"
    try:
        return str(mine.relative_to(Path.cwd()))
    except ValueError:
        return str(mine)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["emulator"]:  # everything else is the emulator's own (its --help too)
        from chat2responses.emulator.__main__ import main as emulator  # noqa: PLC0415 (aiohttp)

        emulator(argv[1:], prog="chat2responses emulator")
        return 0
    own, mitmproxy_args = argv, []
    if "--" in argv:
        cut = argv.index("--")
        own, mitmproxy_args = argv[:cut], argv[cut + 1 :]
    parser = build_parser()
    args, unknown = parser.parse_known_args(own)
    if unknown:  # the command's own usage, and the flag meant when it is a near miss
        command: argparse.ArgumentParser = args.parser
        flags = [f for action in command._actions for f in action.option_strings]
        first = unknown[0].partition("=")[0]
        near = get_close_matches(first, flags, n=1)
        hint = f" (did you mean {near[0]}?)" if near else ""
        if first in flags:
            hint = f" ({first} goes after the command: chat2responses {args.command} {first})"
        elif first in ("--set", "-s") or first.startswith("--set"):
            hint = f" (mitmproxy's arguments go after --: chat2responses {args.command} -- …)"
        command.error(f"unrecognized arguments: {' '.join(unknown)}{hint}")
    if args.command == "script":
        print(ENTRY_SCRIPT)
        return 0
    if args.command == "keys":
        try:
            return run_keys_add(args.name, args.file)
        except CliError as err:
            print(f"chat2responses: {err}", file=sys.stderr)
            return 2
    if args.command == "report":
        return report_command.run(args.flows, args.output)
    if args.command == "status":
        try:
            print(fetch_status(args.port))
        except NotRunning as err:
            print(f"chat2responses: {err}", file=sys.stderr)
            return 1
        return 0
    if args.command == "intercept" and args.port is None:
        args.port = port_number(os.environ["C2R_PORT"]) if os.environ.get("C2R_PORT") else None
    # Explicitly, since a shell that starts us in the background leaves SIGINT ignored.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _raise_interrupt)
    try:
        if args.command == "intercept":
            return intercept.main(args, mitmproxy_args)
        return run(settings_from(args, mitmproxy_args))
    except CliError as err:
        print(f"chat2responses: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
