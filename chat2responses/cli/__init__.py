"""The `chat2responses` command: the proxy with the addon, the emulator alone, the entry script.

    chat2responses run [--upstream codex|openai|emulator|URL] [--port N] [--web] [--verbose] [-- …]
    chat2responses emulator [--port N …]     # python -m chat2responses.emulator
    chat2responses script                    # the path to give mitmproxy's -s
    chat2responses status [--port N]         # a running proxy's quota and learned routes
    chat2responses intercept proxy|transparent|local|wireguard [...]   # cli/intercept.py
    chat2responses keys add NAME --file PATH # a new key for a person (responses_client_keys)
    chat2responses report FLOWS -o report.html  # saved flows as an HTML page with charts

Owns: the command line (every flag and its C2R_* variable), and the order of a run: refuse a busy
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
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path

from chat2responses.cli import intercept
from chat2responses.cli import report as report_command
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
    version_text,
)
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

DEFAULT_WEB_PORT = 8081

ENVIRONMENT_HELP = """\
environment (each flag wins over its variable):
  C2R_UPSTREAM   same as --upstream (default: the bundled emulator)
  C2R_PORT       same as --port (default 8080)
  C2R_WEB=1      same as --web;  C2R_WEB_PORT: same as --web-port (mitmweb's UI port)
  C2R_AUTH       same as --auth
  C2R_REWRITE    same as --rewrite
  C2R_VERBOSE=1  same as --verbose
scripts/run, from a checkout, also reads C2R_PYTHON (the Python that builds .venv), C2R_VENV
(where .venv is) and C2R_INSTALLER (uv or pip): see the README.

examples:
  chat2responses run                          # emulator upstream, proxy on 127.0.0.1:8080
  chat2responses run --upstream codex         # ChatGPT Codex backend with the Codex CLI login
  chat2responses run --upstream openai        # api.openai.com with the client's API key
  chat2responses run --port 9090              # when 8080 is taken (or C2R_PORT=9090)
  chat2responses run -- --set termlog_verbosity=debug   # anything after -- goes to mitmproxy
"""


@dataclass(frozen=True, slots=True)
class RunSettings:
    upstream: str
    port: int
    web: bool
    web_port: int
    auth: str
    rewrite: str
    verbose: bool
    mitmproxy_args: tuple[str, ...]


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chat2responses",
        description="Let Chat Completions clients use Responses-only models, through mitmproxy.",
    )
    parser.add_argument("--version", action="version", version=version_text())
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "run",
        help="the proxy with the addon (and the bundled emulator by default)",
        usage="%(prog)s [options] [-- MITMPROXY_ARGS ...]",
        description="Start mitmdump (or mitmweb) as a reverse proxy on 127.0.0.1 with the\n"
        "chat2responses addon; with the emulator as upstream (the default), start it too.\n"
        "A busy port is refused before anything starts. Anything after -- goes to mitmproxy,\n"
        "and an option set there (--set NAME=VALUE) replaces the one run sets; a --mode there\n"
        "is one more listener. The port and address are run's: --port, --web-port.",
        epilog=ENVIRONMENT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    env = os.environ.get
    run.add_argument(
        "--upstream",
        default=env("C2R_UPSTREAM", "emulator"),
        metavar="codex|openai|emulator|URL",
        help="the Responses upstream (default: emulator, the bundled one)",
    )
    run.add_argument(
        "--port",
        type=_port,
        default=_port(env("C2R_PORT", "8080")),
        help="the proxy's port on 127.0.0.1 (default 8080; 0 picks a free one)",
    )
    run.add_argument(
        "--web", action="store_true", default=_env_flag("C2R_WEB"), help="mitmweb instead"
    )
    run.add_argument(
        "--web-port",
        type=_port,
        default=_port(env("C2R_WEB_PORT", "")) if env("C2R_WEB_PORT") else None,
        help=f"mitmweb's UI port (default {DEFAULT_WEB_PORT}); implies --web",
    )
    run.add_argument(
        "--auth",
        choices=("client", "codex"),
        default=env("C2R_AUTH") or None,
        help="responses_auth (default: codex for --upstream codex, else client)",
    )
    run.add_argument(
        "--rewrite",
        choices=("catalog", "all"),
        default=env("C2R_REWRITE") or None,
        help="responses_rewrite (default: all for the emulator and the Codex backend, "
        "else catalog)",
    )
    run.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=_env_flag("C2R_VERBOSE"),
        help="also print mitmproxy's own lines (connections, one block per flow); by default "
        "the console shows one line per rewritten call and mitmproxy's warnings and errors",
    )
    emulator = commands.add_parser(
        "emulator",
        help="the bundled Responses emulator alone (python -m chat2responses.emulator)",
        add_help=False,
    )
    emulator.add_argument("args", nargs=argparse.REMAINDER)
    script = commands.add_parser(
        "script", help="print the path of the entry script, for mitmproxy's -s"
    )
    status = commands.add_parser(
        "status",
        help="a running proxy's status: quota per account and the routes learned from upstreams",
        description="Ask the chat2responses proxy on 127.0.0.1 for its status (what its\n"
        "chat2responses.status command returns) and print it.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    status.add_argument(
        "--port",
        type=_port,
        default=_port(env("C2R_PORT", "8080")),
        help="the proxy's port on 127.0.0.1 (default 8080, or C2R_PORT)",
    )
    intercept_parser = intercept.add_parser(commands)

    keys = commands.add_parser(
        "keys",
        help="keys per person for a proxy others call (responses_client_keys)",
        description="Manage a keys file: one person per line, a name and the SHA-256 of their\n"
        "key. A proxy started with --set responses_client_keys=PATH answers 401 to a request\n"
        "without a listed key and counts calls and tokens per person.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    keys_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    add = keys_commands.add_parser(
        "add",
        help="print a new random key for NAME and append its SHA-256 to the file",
    )
    add.add_argument("name", metavar="NAME", help="the person (letters, digits, ._@+-)")
    add.add_argument("--file", required=True, metavar="PATH", help="the keys file")
    add.set_defaults(parser=add)
    for command in (run, emulator, script, status, intercept_parser, keys):
        command.set_defaults(parser=command)
    report_command.add_parser(commands)
    return parser


def settings_from(args: argparse.Namespace, mitmproxy_args: Sequence[str]) -> RunSettings:
    return RunSettings(
        upstream=args.upstream,
        port=args.port,
        web=args.web or args.web_port is not None,  # a UI port means the UI
        web_port=DEFAULT_WEB_PORT if args.web_port is None else args.web_port,
        auth=args.auth or "",
        rewrite=args.rewrite or "",
        verbose=args.verbose,
        mitmproxy_args=tuple(mitmproxy_args),
    )


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
        args.port = _port(os.environ["C2R_PORT"]) if os.environ.get("C2R_PORT") else None
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
