"""The `chat2responses` command line: every flag of every subcommand and its C2R_* variable
(`build_parser`), and what a `run`'s flags settle to (`settings_from`). Pure of effects: it reads
the environment for the defaults and nothing else; cli/__init__.py runs what they say.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass

from chat2responses.cli import intercept
from chat2responses.cli import report as report_command
from chat2responses.cli.commands import version_text
from chat2responses.cli.flags import add_upstream, port_number

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
    add_upstream(run, "the Responses upstream (default: emulator, the bundled one)")
    run.add_argument(
        "--port",
        type=port_number,
        default=port_number(env("C2R_PORT", "8080")),
        help="the proxy's port on 127.0.0.1 (default 8080; 0 picks a free one)",
    )
    run.add_argument(
        "--web", action="store_true", default=_env_flag("C2R_WEB"), help="mitmweb instead"
    )
    run.add_argument(
        "--web-port",
        type=port_number,
        default=port_number(env("C2R_WEB_PORT", "")) if env("C2R_WEB_PORT") else None,
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
        type=port_number,
        default=port_number(env("C2R_PORT", "8080")),
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
