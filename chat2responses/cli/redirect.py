"""Installing and removing the redirect rules of `intercept transparent` (redirect_rules.py).

Owns the choice of tool (nftables; iptables and ip6tables where `nft` is missing), running it,
and saying what went wrong in a way the user can act on. Must not: decide what the rules are.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from chat2responses.cli.commands import CliError
from chat2responses.cli.redirect_rules import (
    Redirect,
    iptables_install,
    iptables_remove,
    nft_install,
    nft_remove,
    nft_table,
    ports_in,
)

TIMEOUT = 20.0


def backend() -> str:
    """`nft`, or `iptables` where nft is missing; a CliError naming the package otherwise."""
    if shutil.which("nft"):
        return "nft"
    if shutil.which("iptables") and shutil.which("ip6tables"):
        return "iptables"
    raise CliError(
        "transparent mode installs redirect rules with nftables (or iptables), and neither is "
        "installed: apt-get install --no-install-recommends nftables"
    )


def check_root(mode: str) -> None:
    if os.geteuid() != 0:
        raise CliError(
            f"{mode} mode changes the network set-up and needs root: run it with sudo "
            f"(sudo chat2responses intercept {mode} …, or sudo scripts/intercept {mode} …)"
        )


def install(r: Redirect, tool: str) -> str:
    """Replace whatever a previous run on this port left with `r`'s rules; returns them as
    text to print."""
    if tool == "nft":
        _run(["nft", "-f", "-"], nft_install(r))
        return nft_table(r)
    remove(r, tool)
    commands = iptables_install(r)
    for command in commands:
        _run(command)
    return "\n".join(" ".join(command) for command in commands)


def remove(r: Redirect, tool: str) -> None:
    """Remove every rule of `r`'s port; what is not there is no error."""
    if tool == "nft":
        _run(["nft", "-f", "-"], nft_remove(r))
        return
    for command in iptables_remove(r):
        subprocess.run(command, capture_output=True, timeout=TIMEOUT, check=False)


def check_alone(r: Redirect, tool: str) -> None:
    """Refuse when another port's rules are in place: two runs would redirect each other's
    own connections (each exempts only its own group), and every pass-through host fails."""
    listing = ["nft", "list", "tables"] if tool == "nft" else ["iptables", "-w", "-t", "nat", "-S"]
    try:
        run = subprocess.run(listing, capture_output=True, text=True, timeout=TIMEOUT, check=False)
        shown = run.stdout
    except (OSError, subprocess.TimeoutExpired):
        return
    if others := sorted(ports_in(shown) - {r.port}):
        raise CliError(
            f"transparent interception on port {others[0]} has its redirect rules in place: two "
            "at once would catch each other's connections. Stop that run (Ctrl-C), or remove "
            f"what it left: intercept transparent --port {others[0]} --undo"
        )


def _run(command: list[str], stdin: str | None = None) -> None:
    try:
        done = subprocess.run(
            command, input=stdin, capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CliError(f"{command[0]} failed: {exc}") from None
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise CliError(f"{' '.join(command)} failed: {said[-1] if said else done.returncode}")
