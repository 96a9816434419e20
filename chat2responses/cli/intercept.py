"""`chat2responses intercept proxy|transparent|local|wireguard`: interception of a tool that
cannot be configured, with its set-up done and undone.

    chat2responses intercept proxy [--listen-host HOST]        # HTTPS_PROXY=http://127.0.0.1:8080
    chat2responses intercept transparent [--interface IF | --user NAME]     # as root
    chat2responses intercept local --program NAME                         # as root (or sudo)
    chat2responses intercept wireguard [--endpoint HOST]

Owns the order of an interception run: check the mode's preconditions (intercept_modes.py),
remove what a crashed run left, start the emulator (when it is the upstream) and mitmdump or
mitmweb with the mode's listeners and `connection_strategy=lazy` (the real host may be
unreachable: only the addon's rewritten call goes anywhere), wait until it really intercepts,
install the redirect rules (transparent), print "chat2responses is ready: …" and what the client
must do (client_help.py), and on Ctrl-C or SIGTERM stop everything (what the proxy started
too: local mode's redirector, orphans.py) and remove every rule.
Must not: load mitmproxy in this process, or leave a rule behind on any way out.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from chat2responses.cli import local_mode, orphans, redirect
from chat2responses.cli.client_help import Ready, ready_text
from chat2responses.cli.commands import (
    EMULATOR_NAMES,
    CliError,
    check_mitmproxy_args,
    check_upstream,
    emulator_command,
    mitmproxy_command,
    option_values,
    options_set_by,
    resolve_upstream,
)
from chat2responses.cli.flags import add_upstream, port_number
from chat2responses.cli.intercept_env import child_environment, hosts_of, only_their_hosts
from chat2responses.cli.intercept_modes import MODES, Options, Plan, plan
from chat2responses.cli.processes import (
    claim_port,
    die_with_parent,
    port_is_free,
    start_emulator,
    stop,
    wait_for,
)
from chat2responses.cli.wireguard import DEFAULT_PORT
from chat2responses.glue.ready import READY_VARIABLE

SETTLE = 0.5  # seconds the proxy must keep intercepting before it is called ready
UNDO_WAIT = 5.0  # seconds --undo waits for the port to be let go


def add_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        "intercept",
        help="intercept a tool that cannot be configured (proxy, transparent, local, wireguard)",
        usage="%(prog)s MODE [options] [-- MITMPROXY_ARGS ...]",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog=(__doc__ or "").split("\n\n")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("mode", choices=MODES, help="how the tool's traffic reaches the proxy")
    add_upstream(parser, "as for run")
    parser.add_argument(
        "--port",
        type=port_number,
        default=None,
        help="the proxy's port (default 8080; wireguard: UDP 51820)",
    )
    parser.add_argument("--web", action="store_true", help="mitmweb instead of mitmdump")
    parser.add_argument("--web-port", type=port_number, default=8081, help="mitmweb's UI port")
    parser.add_argument("--auth", choices=("client", "codex"), default=None, help="as for run")
    parser.add_argument("--rewrite", choices=("catalog", "all"), default=None, help="as for run")
    parser.add_argument("-v", "--verbose", action="store_true", help="mitmproxy's own lines too")
    parser.add_argument("--listen-host", help="proxy: where to listen (default 127.0.0.1 only)")
    parser.add_argument("--interface", help="transparent: a gateway for traffic arriving on IF")
    parser.add_argument("--user", help="transparent: only this user's (NAME or UID) connections")
    parser.add_argument("--program", help="local: the process name to intercept (required)")
    parser.add_argument("--endpoint", help="wireguard: the host clients reach this machine at")
    parser.add_argument(
        "--undo",
        action="store_true",
        help="transparent: remove the rules a run on --port left, and exit",
    )
    return parser


def main(args: argparse.Namespace, extra: list[str]) -> int:
    check_upstream(args.upstream)
    check_mitmproxy_args(extra)
    if "mode" in options_set_by(extra):
        raise CliError("the mode is intercept's to set, not mitmproxy's after --")
    default_port = DEFAULT_PORT if args.mode == "wireguard" else 8080
    confdir = Path(option_values(extra).get("confdir", "~/.mitmproxy")).expanduser()
    options = Options(
        mode=args.mode,
        port=args.port if args.port is not None else default_port,
        listen_host=args.listen_host,
        interface=args.interface,
        user=args.user,
        program=args.program,
        endpoint=args.endpoint,
        confdir=confdir,
    )
    if args.undo:
        return _undo(options)
    extra = only_their_hosts(extra)
    if args.mode not in ("wireguard", "local"):
        host = "127.0.0.1" if args.mode != "proxy" else (args.listen_host or "127.0.0.1")
        if host in ("127.0.0.1", "localhost", "0.0.0.0", "::", ""):
            port = claim_port(options.port, "the proxy", "--port", "C2R_PORT")  # 0: a free one
            options = dataclasses.replace(options, port=port)
    state = Path(tempfile.mkdtemp(prefix="chat2responses-intercept-"))
    try:
        return _run(args, extra, options, plan(options, state), state)
    finally:
        shutil.rmtree(state, ignore_errors=True)


def _undo(options: Options) -> int:
    p = plan(options, Path(tempfile.gettempdir()))
    if p.redirect is None:
        raise CliError("--undo is for transparent mode, which is the one that installs rules")
    deadline = time.monotonic() + UNDO_WAIT  # a crashed run's mitmdump may still be stopping
    while not port_is_free(options.port) and time.monotonic() < deadline:
        time.sleep(0.1)
    if not port_is_free(options.port):
        raise CliError(
            f"port {options.port} is in use: a run on it is still going (its rules go when it "
            "stops: Ctrl-C), or something else holds the port. --undo is for the rules a run "
            "that is gone left behind."
        )
    redirect.remove(p.redirect, p.rule_tool)
    print(f"chat2responses: the redirect rules of port {options.port} are removed.")
    return 0


def _run(args: argparse.Namespace, extra: list[str], options: Options, p: Plan, state: Path) -> int:
    tool = "mitmweb" if args.web else "mitmdump"
    children: list[subprocess.Popen[str]] = []
    ready_file = state / "ready"
    rules_in = False
    left: list[orphans.Process] = []  # what the children started (orphans.py)
    try:
        if p.redirect is not None:  # what a crashed run on this port left (redirect_rules rule 1)
            redirect.check_alone(p.redirect, p.rule_tool)
            redirect.remove(p.redirect, p.rule_tool)
        emulator_url = None
        if args.upstream in EMULATOR_NAMES:
            emulator, emulator_url = start_emulator(emulator_command(args.verbose))
            children.append(emulator)
        upstream = resolve_upstream(
            args.upstream, emulator_url, args.auth or "", args.rewrite or ""
        )
        command = mitmproxy_command(
            tool,
            upstream,
            port=options.port,
            web_port=args.web_port if args.web else None,
            verbose=args.verbose,
            extra=extra,
            modes=p.modes,
        )
        env = child_environment(os.environ, p, emulator_url, options.port)
        env[READY_VARIABLE] = str(ready_file)
        # preexec_fn: see processes.die_with_parent
        proxy = subprocess.Popen(
            command,
            text=True,
            env=env,
            preexec_fn=die_with_parent,  # noqa: PLW1509
            **p.popen,
        )
        children.append(proxy)
        wait_for(proxy, tool, lambda: p.listening(proxy.pid), "did not start intercepting")
        wait_for(proxy, tool, ready_file.exists, "did not load the chat2responses addon")
        _settle(proxy, tool, p)
        left += _left_behind(proxy, options)
        rules = ""
        if p.redirect is not None:
            rules_in = True
            rules = redirect.install(p.redirect, p.rule_tool)
        ready = Ready(
            mode=options.mode,
            tool=tool,
            upstream=upstream.label,
            where=p.where,
            ca_file=str(options.confdir / "mitmproxy-ca-cert.pem"),
            proxy_url=p.proxy_url,
            rules=rules,
            wireguard_file=p.wireguard_file,
            wireguard_config=p.wireguard_config,
            program=options.program or "",
            web_port=args.web_port if args.web else None,
            hosts=hosts_of(extra),
        )
        print(ready_text(ready), flush=True)
        while all(child.poll() is None for child in children):
            time.sleep(0.2)
        gone = next(child for child in children if child.poll() is not None)
        print(
            f"chat2responses: {'the emulator' if gone is not proxy else tool} stopped "
            f"(status {gone.returncode}); stopping.",
            file=sys.stderr,
        )
        return gone.returncode or 1
    except KeyboardInterrupt:
        return 130
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)
        if p.redirect is not None:  # every way out, even before they were installed
            redirect.remove(p.redirect, p.rule_tool)
            if rules_in:
                print("chat2responses: the redirect rules are removed.", file=sys.stderr)
        for child in children:
            left += _left_behind(child, options)
        for child in reversed(children):
            stop(child)
        orphans.end(left)


def _left_behind(child: subprocess.Popen[str], options: Options) -> list[orphans.Process]:
    """What `child` started that would outlive it: local mode's redirector (orphans.py)."""
    if options.mode != "local":
        return []
    return orphans.descendants(child.pid, local_mode.REDIRECTOR)


def _settle(proxy: subprocess.Popen[str], tool: str, p: Plan) -> None:
    """Returns once `proxy` has kept intercepting for SETTLE seconds (mitmproxy exits after
    opening its listeners when an error was logged while it started)."""
    deadline = time.monotonic() + SETTLE
    while time.monotonic() < deadline:
        if proxy.poll() is not None or not p.listening(proxy.pid):
            try:
                proxy.wait(timeout=10)
            except subprocess.TimeoutExpired:
                stop(proxy)
            raise CliError(f"{tool} exited (status {proxy.returncode}); see its output above")
        time.sleep(0.05)
