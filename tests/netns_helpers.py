"""Network namespaces for the interception tests: made by the test, named after the test run
(so that two runs on one machine never collide), and deleted with everything in them.

In every client namespace `api.openai.com`, `openrouter.ai` and `api.anthropic.com` resolve (by
/etc/netns/NAME/hosts, which `ip netns exec` puts over /etc/hosts) to addresses in 198.18.0.0/15
that nothing answers: only a redirect to the proxy can.

Needs root and iproute2; the Debian packages the modes need (nftables, wireguard-go,
wireguard-tools) are installed by `ensure_packages`, without their recommends.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

RUN = f"{os.getpid() % 100000}"
# Each name has an IPv4 and an IPv6 address (2001:db8::/32 is for documentation): nothing there.
HOSTS = {
    "api.openai.com": ("198.18.0.1", "2001:db8:c2::1"),
    "openrouter.ai": ("198.18.0.2", "2001:db8:c2::2"),
    "api.anthropic.com": ("198.18.0.3", "2001:db8:c2::3"),
}
ETC_NETNS = Path("/etc/netns")


def can_make_namespaces() -> str | None:
    """Why these tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "the interception tests make network namespaces: they need root"
    if shutil.which("ip") is None:
        return "the interception tests need iproute2 (ip)"
    return None


def ensure_packages(*commands: str, packages: Sequence[str]) -> None:
    """apt-get install --no-install-recommends `packages` when one of `commands` is missing."""
    if all(shutil.which(command) for command in commands):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]
    if subprocess.run(install, env=env, capture_output=True, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=False)
        subprocess.run(install, env=env, capture_output=True, check=True)


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=20)


@contextlib.contextmanager
def namespace(suffix: str) -> Iterator[str]:
    """A network namespace with its loopback up and the unreachable hosts; deleted after."""
    name = f"c2r-{RUN}-{suffix}"
    ip("netns", "add", name)
    try:
        ip("-n", name, "link", "set", "lo", "up")
        (ETC_NETNS / name).mkdir(parents=True, exist_ok=True)
        lines = ["127.0.0.1 localhost\n::1 localhost\n"]
        lines += [f"{address} {host}\n" for host, pair in HOSTS.items() for address in pair]
        (ETC_NETNS / name / "hosts").write_text("".join(lines))
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
        shutil.rmtree(ETC_NETNS / name, ignore_errors=True)


def blackhole_route(ns: str) -> None:
    """A default route to nowhere (one end of a veth pair whose other end drops everything):
    connections to the unreachable hosts get as far as the redirect rules instead of failing at
    once for want of a route. (No dummy link: the kernel may lack its module.)"""
    ip("-n", ns, "link", "add", "c2rnull", "type", "veth", "peer", "name", "c2rvoid")
    for name in ("c2rnull", "c2rvoid"):
        ip("-n", ns, "link", "set", name, "up")
    # An address of its own (a redirected connection needs a source address), a gateway that
    # is not there.
    ip("-n", ns, "addr", "add", "10.213.9.1/24", "dev", "c2rnull")
    ip("-n", ns, "-6", "addr", "add", "2001:db8:ff::1/64", "dev", "c2rnull", "nodad")
    ip("-n", ns, "route", "add", "default", "via", "10.213.9.254")
    ip("-n", ns, "-6", "route", "add", "default", "via", "2001:db8:ff::fe")


def refuse_fake_hosts(ns: str) -> None:
    """The proxy's own connections to the unreachable hosts (another provider's call passed
    through) are refused at once rather than left to time out: a filter rule, after the redirect
    (which has already turned the clients' connections elsewhere)."""
    script = (
        "table inet c2rtest {\n"
        "  chain output {\n"
        "    type filter hook output priority 0; policy accept;\n"
        "    ip daddr 198.18.0.0/15 reject with tcp reset\n"
        "    ip6 daddr 2001:db8:c2::/48 reject with tcp reset\n"
        "  }\n"
        "}\n"
    )
    subprocess.run(in_namespace(ns, "nft", "-f", "-"), input=script, text=True, check=True)


def link(a: str, b: str, a_address: str, b_address: str) -> tuple[str, str]:
    """A veth pair between namespaces `a` and `b` (addresses with their /24); its names."""
    a_name, b_name = f"c2r{RUN}a", f"c2r{RUN}b"
    ip("link", "add", a_name, "netns", a, "type", "veth", "peer", "name", b_name, "netns", b)
    for ns, name, address in ((a, a_name, a_address), (b, b_name, b_address)):
        ip("-n", ns, "addr", "add", address, "dev", name)
        ip("-n", ns, "link", "set", name, "up")
    return a_name, b_name


def in_namespace(ns: str, *argv: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *argv]


@dataclass
class Running:
    """A process whose output is collected line by line."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, needle: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(needle in line for line in list(self.lines)):
                return
            if self.process.poll() is not None:
                time.sleep(0.2)  # the last lines
                break
            time.sleep(0.05)
        raise AssertionError(f"{needle!r} did not come:\n{self.output[-6000:]}")


@contextlib.contextmanager
def running(argv: Sequence[str], env: dict[str, str] | None = None) -> Iterator[Running]:
    """Run `argv`; on leaving, SIGTERM (the way a service manager stops it), then SIGKILL."""
    process = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    result = Running(process)

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            result.lines.append(line.rstrip("\n"))

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        yield result
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        reader.join(10)  # ends when every process holding the pipe has ended
        if process.stdout is not None and not reader.is_alive():
            process.stdout.close()


def leftovers() -> list[str]:
    """Anything of this test run still on the machine: namespaces, links, /etc/netns entries,
    nftables tables in the root namespace."""
    found = []
    names = subprocess.run(
        ["ip", "netns", "list"], capture_output=True, check=False, text=True
    ).stdout
    found += [line for line in names.splitlines() if f"c2r-{RUN}-" in line]
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, check=False, text=True).stdout
    found += [line for line in links.splitlines() if f"c2r{RUN}" in line]
    if ETC_NETNS.exists():
        found += [str(p) for p in ETC_NETNS.iterdir() if p.name.startswith(f"c2r-{RUN}-")]
    if shutil.which("nft"):
        tables = subprocess.run(
            ["nft", "list", "tables"], capture_output=True, check=False, text=True
        ).stdout
        found += [line for line in tables.splitlines() if "chat2responses" in line]
    return found
