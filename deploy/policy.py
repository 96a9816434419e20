"""What `scripts/gateway` decides, apart from the processes it runs (deploy/gateway.py does).

Rule 1 (who may reach it): the gateway listens on loopback unless told otherwise; a host beyond
        loopback needs a keys file, so that nobody who can reach the port spends the team's
        upstream (a Codex login's subscription, or someone's API key).
Rule 2 (how many): 1 to MAX_INSTANCES instances (haproxy.cfg names that many servers).
Rule 3 (coming back): an instance that exits is replaced by the standby, a spare instance
        already started (its Python imports take seconds on a busy machine), and a new standby
        starts; without a standby running, the instance is started again after a backoff that
        doubles from FIRST_BACKOFF to MAX_BACKOFF, and starts again from FIRST_BACKOFF once it
        ran STABLE seconds. What the gateway says of it names where its conversations go.
Rule 4 (affinity by person): HAProxy's map of the keys file, `SHA256 name` per line (the keys
        file's own order is `name SHA256`).
Pure: no I/O.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from chat2responses.request.client_keys import ClientKeys

MAX_INSTANCES = 8
FIRST_BACKOFF = 0.5  # seconds
MAX_BACKOFF = 30.0
STABLE = 30.0  # seconds an instance must run for its backoff to start over


def check_listen_host(host: str, keys: str | None) -> str | None:
    """Rule 1: why `host` may not be listened on with `keys` (None: it may)."""
    if is_loopback_host(host) or keys:
        return None
    return (
        f"--listen-host {host} lets other machines reach the gateway, and with it your "
        "upstream: give every person a key first (chat2responses keys add NAME --file PATH) "
        "and start the gateway with --keys PATH"
    )


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_instances(count: int) -> str | None:
    """Rule 2."""
    if 1 <= count <= MAX_INSTANCES:
        return None
    return f"--instances takes 1 to {MAX_INSTANCES}, not {count}"


def next_backoff(previous: float | None, ran_for: float) -> float:
    """Rule 3: how long to wait before starting an instance again, after one that ran
    `ran_for` seconds and was itself started after `previous` seconds of backoff (None: its
    first start)."""
    if previous is None or ran_for >= STABLE:
        return FIRST_BACKOFF
    return min(MAX_BACKOFF, previous * 2)


def exit_message(name: str, status: int, delay: float, others_up: Sequence[str]) -> str:
    """Rule 3: what the gateway says when instance `name` exited with `status`."""
    how = f"killed by signal {-status}" if status < 0 else f"status {status}"
    if others_up:
        where = f"HAProxy sends its conversations to {', '.join(others_up)} meanwhile"
    else:
        where = "no instance is left: clients get 503 until one is back"
    return f"gateway: {name} exited ({how}); starting it again in {delay:g} s; {where}."


def standby_message(name: str, status: int, pid: int, port: int) -> str:
    """Rule 3: what the gateway says when instance `name` exited and its standby took over."""
    how = f"killed by signal {-status}" if status < 0 else f"status {status}"
    return (
        f"gateway: {name} exited ({how}); its standby takes its place (pid {pid}, "
        f"127.0.0.1:{port}): HAProxy sends it {name}'s conversations once two health checks "
        "pass; a new standby starts."
    )


def keys_map(keys: ClientKeys) -> str:
    """Rule 4: HAProxy's map file for `keys`."""
    return "".join(f"{digest} {name}\n" for digest, name in sorted(keys.by_digest.items()))
