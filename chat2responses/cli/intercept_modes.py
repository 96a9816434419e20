"""Each interception mode as a plan: mitmproxy's `--mode` specs, how the child is started, how
to tell that it really intercepts, and what to set up first and undo last.

Owns the per-mode facts of `chat2responses intercept` (cli/intercept.py runs the plan):

| mode        | mitmproxy's mode                   | listens on                        | root     |
| ----------- | ---------------------------------- | --------------------------------- | -------- |
| proxy       | `regular@HOST:PORT`                | 127.0.0.1, or --listen-host       | no       |
| transparent | `transparent@127.0.0.1:PORT`, ::1  | loopback; a gateway: every address | yes     |
| local       | `local:PROGRAM`                    | nothing (mitmproxy's redirector)  | or sudo  |
| wireguard   | `wireguard:KEYS@PORT`              | UDP PORT, every address           | no       |

Rule 1: the same host's redirect excludes the proxy's own connections by a group of its own:
        mitmdump runs with `PROXY_GID_BASE + port` as its group (redirect_rules.py rule 2).
Rule 2: what a mode needs from the environment is checked before anything starts.
Rule 3: only the hosts of `responses_hosts` are intercepted: mitmproxy's `allow_hosts` lets every
        other connection through as it is, TLS and all (a tool that does not trust mitmproxy's
        CA keeps working, another provider's key is never seen), and DNS (port 53) as before.
        A user's own `allow_hosts` or `ignore_hosts` takes its place.
"""

from __future__ import annotations

import os
import pwd
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chat2responses.cli import local_mode, redirect, wireguard
from chat2responses.cli.commands import CliError
from chat2responses.cli.processes import port_is_free
from chat2responses.cli.redirect_rules import Redirect

MODES = ("proxy", "transparent", "local", "wireguard")
PROXY_GID_BASE = 1_700_000_000  # + the port: a group no one else has (rule 1)
REDIRECTOR = "mitmproxy-linux-redirector"


@dataclass(frozen=True, slots=True)
class Options:
    """The intercept flags that shape a mode (the rest are run's)."""

    mode: str
    port: int
    listen_host: str | None = None
    interface: str | None = None
    user: str | None = None
    program: str | None = None
    endpoint: str | None = None
    confdir: Path = Path("~/.mitmproxy")


@dataclass(slots=True)
class Plan:
    modes: list[str]
    where: str  # in words, for the banner
    listening: Callable[[int], bool]  # given mitmdump's pid: does it intercept yet?
    env: dict[str, str] = field(default_factory=dict)
    popen: dict[str, Any] = field(default_factory=dict)
    redirect: Redirect | None = None
    rule_tool: str = ""
    proxy_url: str = ""
    wireguard_file: str = ""
    wireguard_config: str = ""


def plan(o: Options, state: Path) -> Plan:
    """The plan for `o.mode`, its preconditions checked (rule 2)."""
    check_flags(o)
    return {"proxy": _proxy, "transparent": _transparent, "local": _local, "wireguard": _wg}[
        o.mode
    ](o, state)


# Each mode's own flags: given to another mode, one would be ignored without a word.
_FLAGS_OF = {
    "listen_host": ("--listen-host", "proxy"),
    "interface": ("--interface", "transparent"),
    "user": ("--user", "transparent"),
    "program": ("--program", "local"),
    "endpoint": ("--endpoint", "wireguard"),
}


def check_flags(o: Options) -> None:
    """Refuse a flag that `o.mode` does not take, and --interface with --user."""
    for field_name, (flag, mode) in _FLAGS_OF.items():
        if getattr(o, field_name) is not None and o.mode != mode:
            raise CliError(f"{flag} is for {mode} mode, not {o.mode}")
    if o.interface is not None and o.user is not None:
        raise CliError(
            "--interface and --user do not go together: a gateway redirects what arrives on the "
            "interface, whoever sent it; --user narrows this host's own connections"
        )


def _proxy(o: Options, state: Path) -> Plan:
    host = o.listen_host or "127.0.0.1"
    shown = f"[{host}]" if ":" in host else host
    url_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else shown
    return Plan(
        modes=[f"regular@{host}:{o.port}"],
        where=f"as an explicit proxy on {shown}:{o.port}",
        listening=lambda pid: not port_is_free(o.port, _probe_host(host)),
        proxy_url=f"http://{url_host}:{o.port}",
    )


def _transparent(o: Options, state: Path) -> Plan:
    redirect.check_root("transparent")
    tool = redirect.backend()
    uid = _uid(o.user) if o.user else None
    if o.interface is not None:
        if not Path(f"/sys/class/net/{o.interface}").exists():
            raise CliError(f"--interface {o.interface}: there is no such network interface")
        modes, where = [f"transparent@{o.port}"], f"port-443 traffic arriving on {o.interface}"
    else:
        modes = [f"transparent@127.0.0.1:{o.port}"]
        if _has_ipv6_loopback():
            modes.append(f"transparent@::1:{o.port}")
        whose = f"user {o.user}'s" if o.user else "this host's"
        where = f"{whose} outgoing port-443 connections"
    gid = PROXY_GID_BASE + o.port
    return Plan(
        modes=modes,
        where=where,
        listening=lambda pid: not port_is_free(o.port),
        popen={"group": gid, "extra_groups": []},
        redirect=Redirect(o.port, gid, o.interface, uid),
        rule_tool=tool,
    )


def _local(o: Options, state: Path) -> Plan:
    if not o.program:
        raise CliError(
            "local mode needs --program NAME: the name of the process to intercept "
            "(as ps shows it, e.g. node or code); every other process is left alone"
        )
    env = local_mode.prepare(state)
    if "RUST_LOG" not in os.environ:  # the eBPF loader's ~90 lines of notes on each start
        env["RUST_LOG"] = "aya=error"  # (BTF a newer kernel reads differently): its errors only
    return Plan(
        modes=[f"local:{o.program}"],
        where=f"the connections of processes named {o.program}",
        listening=_redirector_runs,
        env=env,
    )


def _wg(o: Options, state: Path) -> Plan:
    server, client = wireguard.keys(o.confdir / "wireguard.conf")
    endpoint = wireguard.endpoint(o.endpoint, o.port)
    text = wireguard.client_config(server, client, endpoint)
    path = o.confdir / "c2r.conf"  # wg-quick names the interface after the file: c2r
    wireguard.write_client_config(path, text)
    return Plan(
        modes=[f"wireguard:{o.confdir / 'wireguard.conf'}@{o.port}"],
        where=f"a WireGuard tunnel on UDP port {o.port} (endpoint {endpoint})",
        listening=lambda pid: not udp_port_is_free(o.port),
        wireguard_file=str(path),
        wireguard_config=text,
    )


def only_hosts(hosts: str) -> str:
    """mitmproxy's `allow_hosts` pattern for `hosts` (`responses_hosts`: names separated by
    commas) and DNS (rule 3). mitmproxy matches it against `host:port` of the TLS server name,
    the CONNECT target and the destination address."""
    names = sorted({h.strip().lower().rstrip(".") for h in hosts.split(",") if h.strip()})
    return "^(?:" + "|".join(re.escape(name) for name in names) + "):|:53$"


def udp_port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def _probe_host(host: str) -> str:
    return "127.0.0.1" if host in ("", "0.0.0.0", "::", "localhost") else host


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def _uid(user: str) -> int:
    if user.isdigit():
        return int(user)
    try:
        return pwd.getpwnam(user).pw_uid
    except KeyError:
        raise CliError(f"--user {user}: there is no such user") from None


def _redirector_runs(pid: int) -> bool:
    """Whether mitmproxy's redirector runs under mitmdump (`pid`): local mode is then set up."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            if REDIRECTOR.encode() in cmdline and _descends_from(int(entry.name), pid):
                return True
        except OSError:
            continue
    return False


def _descends_from(child: int, ancestor: int) -> bool:
    for _ in range(8):
        if child == ancestor:
            return True
        stat = Path(f"/proc/{child}/stat").read_text()
        child = int(stat.rpartition(")")[2].split()[1])
        if child <= 1:
            return False
    return False
