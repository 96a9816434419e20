"""The redirect rules of `chat2responses intercept transparent`, as text and argument lists.

Owns what is installed and how it is removed, for nftables and for iptables/ip6tables, IPv4 and
IPv6 alike. Pure: nothing is run here (redirect.py runs it); the tests read these tables.

Rule 1: every rule lives in a table (nftables) or chains (iptables) named after the proxy's port,
        which this command alone owns: a start removes whatever a previous run on that port
        left (a crash, a SIGKILL), a stop removes it all.
Rule 2: the proxy's own connections are never redirected: mitmdump runs with a group of its own
        (`proxy_gid`), and its sockets are matched by that group and left alone (otherwise its
        upstream connections come back into it: a loop).
Rule 3: only TCP port 443 is redirected: on the same host, locally made connections (narrowed to
        one user's with `uid`), loopback destinations excepted; as a gateway, what arrives on
        `interface`. Nothing else changes: no forwarding, no DNS.
Rule 4: as a gateway the proxy listens on every address (the redirect sends each connection to
        the address of the interface it came in on), so a connection made to its port directly,
        not redirected, is refused unless it comes over loopback: only the clients on
        `interface` reach it, and only through the redirect.
"""

from __future__ import annotations

from dataclasses import dataclass

HTTPS_PORT = 443


@dataclass(frozen=True, slots=True)
class Redirect:
    """What to redirect to the proxy listening on `port` (see the module rules)."""

    port: int
    proxy_gid: int
    interface: str | None = None  # a gateway for traffic arriving here; None: this host's own
    uid: int | None = None  # this host's own: only this user's processes

    @property
    def name(self) -> str:
        return f"chat2responses_{self.port}"


def nft_install(r: Redirect) -> str:
    """An `nft -f -` script that replaces the table of rule 1 with the rules of `r`."""
    return nft_remove(r) + "\n" + nft_table(r)


def nft_remove(r: Redirect) -> str:
    """An `nft -f -` script that removes the table, whether or not it exists."""
    return f"table inet {r.name}\ndelete table inet {r.name}"


def nft_table(r: Redirect) -> str:
    """The table itself, as `nft list table` would show it (and as the command prints it)."""
    lines = [f"table inet {r.name} {{"]
    if r.interface is not None:
        lines += [
            "\tchain prerouting {",
            "\t\ttype nat hook prerouting priority dstnat; policy accept;",
            f'\t\tiifname "{r.interface}" tcp dport {HTTPS_PORT} redirect to :{r.port}',
            "\t}",
            "\tchain input {",
            "\t\ttype filter hook input priority 0; policy accept;",
            f"\t\ttcp dport {r.port} ct status dnat accept",
            '\t\tiifname "lo" accept',
            f"\t\ttcp dport {r.port} reject with tcp reset",
            "\t}",
        ]
    else:
        who = f"meta skuid {r.uid} " if r.uid is not None else ""
        lines += [
            "\tchain output {",
            "\t\ttype nat hook output priority -100; policy accept;",
            f"\t\tmeta skgid {r.proxy_gid} return",
            "\t\tip daddr 127.0.0.0/8 return",
            "\t\tip6 daddr ::1 return",
            f"\t\t{who}tcp dport {HTTPS_PORT} redirect to :{r.port}",
            "\t}",
        ]
    lines.append("}")
    return "\n".join(lines)


def ports_in(listing: str) -> set[int]:
    """The ports whose rules (rule 1) `nft list tables` or `iptables -t nat -S` shows."""
    found = set()
    for word in listing.split():
        for prefix, suffix in (("chat2responses_", ""), ("C2R_", "_OUT"), ("C2R_", "_PRE")):
            number = word.removeprefix(prefix).removesuffix(suffix)
            if word.startswith(prefix) and word.endswith(suffix) and number.isdigit():
                found.add(int(number))
    return found


def iptables_install(r: Redirect) -> list[list[str]]:
    """The iptables and ip6tables commands that install `r` (after `iptables_remove`)."""
    chain, hook = _chain(r)
    commands: list[list[str]] = []
    for tool, loopback in (("iptables", "127.0.0.0/8"), ("ip6tables", "::1/128")):
        nat = [tool, "-w", "-t", "nat"]
        commands.append([*nat, "-N", chain])
        if r.interface is not None:
            match = ["-i", r.interface]
        else:
            commands.append(
                [*nat, "-A", chain, "-m", "owner", "--gid-owner", str(r.proxy_gid), "-j", "RETURN"]
            )
            commands.append([*nat, "-A", chain, "-d", loopback, "-j", "RETURN"])
            match = ["-m", "owner", "--uid-owner", str(r.uid)] if r.uid is not None else []
        redirect = ["-j", "REDIRECT", "--to-ports", str(r.port)]
        commands.append(
            [*nat, "-A", chain, *match, "-p", "tcp", "--dport", str(HTTPS_PORT), *redirect]
        )
        commands.append([*nat, "-I", hook, "-j", chain])
        if r.interface is not None:  # rule 4
            commands += _direct_refused(tool, r.port)
    return commands


def _direct_refused(tool: str, port: int) -> list[list[str]]:
    """Rule 4 for iptables: a filter chain that refuses the port unless redirected or local."""
    chain, flt, tcp = f"C2R_{port}_IN", [tool, "-w", "-t", "filter"], ["-p", "tcp"]
    return [
        [*flt, "-N", chain],
        [
            *flt,
            "-A",
            chain,
            *tcp,
            "--dport",
            str(port),
            "-m",
            "conntrack",
            "--ctstate",
            "DNAT",
            "-j",
            "RETURN",
        ],
        [*flt, "-A", chain, "-i", "lo", "-j", "RETURN"],
        [
            *flt,
            "-A",
            chain,
            *tcp,
            "--dport",
            str(port),
            "-j",
            "REJECT",
            "--reject-with",
            "tcp-reset",
        ],
        [*flt, "-I", "INPUT", "-j", chain],
    ]


def iptables_remove(r: Redirect) -> list[list[str]]:
    """The commands that remove what `iptables_install` added; each may fail (nothing there),
    and the jump is deleted until none is left."""
    chain, hook = _chain(r)
    commands: list[list[str]] = []
    for tool in ("iptables", "ip6tables"):
        nat = [tool, "-w", "-t", "nat"]
        commands += [[*nat, "-D", hook, "-j", chain]] * 4  # a crash may have left several
        commands += [[*nat, "-F", chain], [*nat, "-X", chain]]
        if r.interface is not None:  # rule 4's chain
            flt, guard = [tool, "-w", "-t", "filter"], f"C2R_{r.port}_IN"
            commands += [[*flt, "-D", "INPUT", "-j", guard]] * 4
            commands += [[*flt, "-F", guard], [*flt, "-X", guard]]
    return commands


def _chain(r: Redirect) -> tuple[str, str]:
    """The chain of rule 1 and the built-in chain that jumps to it."""
    if r.interface is not None:
        return f"C2R_{r.port}_PRE", "PREROUTING"
    return f"C2R_{r.port}_OUT", "OUTPUT"
