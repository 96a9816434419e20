"""What the intercepting mitmdump is given besides its command: its environment, and the host
filter that keeps it to the hosts of `responses_hosts` (intercept_modes.py rule 3).

Owns: no proxy variable that names this very proxy reaches it (its calls would come back to it,
a loop the addon refuses with a 508), wherever it listens; the bundled emulator exempt from any
proxy (it is on this machine's loopback).
"""

from __future__ import annotations

import os
import socket
import sys
from urllib.parse import urlsplit

from chat2responses.cli.commands import option_values, options_set_by
from chat2responses.cli.intercept_modes import Plan, only_hosts
from chat2responses.options import DEFAULTS

_PROXY_VARIABLES = (
    *("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"),
    *("ALL_PROXY", "all_proxy"),
)


def only_their_hosts(extra: list[str]) -> list[str]:
    """The mitmproxy arguments, with `allow_hosts` for the hosts of `responses_hosts` unless
    they set `allow_hosts` or `ignore_hosts` themselves (intercept_modes rule 3)."""
    if options_set_by(extra) & {"allow_hosts", "ignore_hosts"}:
        return extra
    return [*extra, "--set", f"allow_hosts={only_hosts(hosts_of(extra))}"]


def hosts_of(extra: list[str]) -> str:
    """The `responses_hosts` the proxy will have: set after `--`, else the default."""
    return option_values(extra).get("responses_hosts") or str(DEFAULTS["responses_hosts"])


def child_environment(
    environ: dict[str, str] | os._Environ[str], p: Plan, emulator_url: str | None, port: int
) -> dict[str, str]:
    """mitmdump's environment: the mode's additions; the bundled emulator exempt from any proxy
    (it is on this machine's loopback); no proxy variable that names this very proxy (its
    calls would come back to it: a loop, which the addon would refuse with a 508)."""
    env = {**environ, **p.env}
    for name in _PROXY_VARIABLES:
        value = env.get(name, "")
        parts = urlsplit(value if "://" in value else f"http://{value}")
        try:
            named = parts.port
        except ValueError:
            continue
        if value and named == port and _is_this_machine(parts.hostname or ""):
            print(
                f"chat2responses: {name}={value} names this proxy itself: left out of "
                "mitmdump's environment.",
                file=sys.stderr,
            )
            del env[name]
    if emulator_url is not None:
        host = urlsplit(emulator_url).hostname or "127.0.0.1"
        for name in ("NO_PROXY", "no_proxy"):
            env[name] = ",".join(part for part in (env.get(name, ""), host) if part)
    return env


def _is_this_machine(host: str) -> bool:
    """Whether `host` names this machine: loopback, or an address of one of its interfaces
    (a proxy listening on every address is reached at any of them)."""
    if host in ("localhost", "::1") or host.startswith("127."):
        return True
    try:
        addresses = {
            str(info[4][0]) for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_UDP)
        }
    except (OSError, UnicodeError):
        return False
    for address in addresses:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind((address, 0))  # only an address of this machine binds
            except OSError:
                continue
            return True
    return False
