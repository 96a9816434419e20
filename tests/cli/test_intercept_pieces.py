"""The pure pieces of `chat2responses intercept`: redirect rules, the local-mode shim, the
WireGuard configuration, the ready text, and mitmdump's environment, as tables."""

from __future__ import annotations

import base64
import re
import socket
import subprocess
from pathlib import Path

import pytest

from chat2responses.cli import wireguard
from chat2responses.cli.client_help import Ready, ready_text
from chat2responses.cli.commands import CliError, Upstream, mitmproxy_command
from chat2responses.cli.intercept_env import child_environment, only_their_hosts
from chat2responses.cli.intercept_modes import Options, Plan, plan
from chat2responses.cli.local_mode import cgroup2_mounted, shim_script
from chat2responses.cli.redirect_rules import (
    Redirect,
    iptables_install,
    iptables_remove,
    nft_install,
    nft_table,
    ports_in,
)

SAME_HOST = Redirect(port=8080, proxy_gid=1700008080)
ONE_USER = Redirect(port=8080, proxy_gid=1700008080, uid=1000)
GATEWAY = Redirect(port=9000, proxy_gid=1700009000, interface="eth1")


@pytest.mark.parametrize(
    ("redirect", "present", "absent"),
    [
        (
            SAME_HOST,
            [
                "table inet chat2responses_8080 {",
                "type nat hook output priority -100; policy accept;",
                "meta skgid 1700008080 return",  # the proxy's own connections (rule 2)
                "ip daddr 127.0.0.0/8 return",
                "ip6 daddr ::1 return",
                "\t\ttcp dport 443 redirect to :8080",
            ],
            ["prerouting", "skuid", "iifname", "hook input"],
        ),
        (ONE_USER, ["meta skuid 1000 tcp dport 443 redirect to :8080"], ["prerouting"]),
        (
            GATEWAY,
            [
                "table inet chat2responses_9000 {",
                "type nat hook prerouting priority dstnat; policy accept;",
                'iifname "eth1" tcp dport 443 redirect to :9000',
                # rule 4: the port itself only through the redirect, or over loopback
                "type filter hook input priority 0; policy accept;",
                "tcp dport 9000 ct status dnat accept",
                'iifname "lo" accept',
                "tcp dport 9000 reject with tcp reset",
            ],
            ["hook output", "skgid"],
        ),
    ],
)
def test_nftables_rules(redirect: Redirect, present: list[str], absent: list[str]) -> None:
    table = nft_table(redirect)
    for line in present:
        assert line in table
    for word in absent:
        assert word not in table
    # Installing first removes what a crashed run left (rule 1): idempotent in one script.
    script = nft_install(redirect)
    assert script.startswith(f"table inet {redirect.name}\ndelete table inet {redirect.name}\n")
    assert script.endswith(table)


def test_iptables_rules_cover_both_families_and_are_removed_whole() -> None:
    commands = [" ".join(c) for c in iptables_install(SAME_HOST)]
    for tool, loopback in (("iptables", "127.0.0.0/8"), ("ip6tables", "::1/128")):
        nat = f"{tool} -w -t nat"
        assert f"{nat} -N C2R_8080_OUT" in commands
        assert f"{nat} -A C2R_8080_OUT -m owner --gid-owner 1700008080 -j RETURN" in commands
        assert f"{nat} -A C2R_8080_OUT -d {loopback} -j RETURN" in commands
        assert f"{nat} -A C2R_8080_OUT -p tcp --dport 443 -j REDIRECT --to-ports 8080" in commands
        assert f"{nat} -I OUTPUT -j C2R_8080_OUT" in commands
    removal = [" ".join(c) for c in iptables_remove(SAME_HOST)]
    assert "iptables -w -t nat -D OUTPUT -j C2R_8080_OUT" in removal
    assert removal[-2:] == [
        "ip6tables -w -t nat -F C2R_8080_OUT",
        "ip6tables -w -t nat -X C2R_8080_OUT",
    ]
    gateway = [" ".join(c) for c in iptables_install(GATEWAY)]
    assert (
        "iptables -w -t nat -A C2R_9000_PRE -i eth1 -p tcp --dport 443 -j REDIRECT --to-ports 9000"
        in gateway
    )
    assert not any("owner" in c for c in gateway)  # owner matches exist only in OUTPUT
    for tool in ("iptables", "ip6tables"):  # rule 4, and its removal
        flt = f"{tool} -w -t filter"
        assert (
            f"{flt} -A C2R_9000_IN -p tcp --dport 9000 -m conntrack --ctstate DNAT -j RETURN"
            in gateway
        )
        assert f"{flt} -A C2R_9000_IN -i lo -j RETURN" in gateway
        assert (
            f"{flt} -A C2R_9000_IN -p tcp --dport 9000 -j REJECT --reject-with tcp-reset" in gateway
        )
        assert f"{flt} -I INPUT -j C2R_9000_IN" in gateway
        gone = [" ".join(c) for c in iptables_remove(GATEWAY)]
        assert f"{flt} -D INPUT -j C2R_9000_IN" in gone and f"{flt} -X C2R_9000_IN" in gone
    assert not any("C2R_8080_IN" in c for c in commands + removal)
    user = [" ".join(c) for c in iptables_install(ONE_USER)]
    assert any("-m owner --uid-owner 1000 -p tcp --dport 443" in c for c in user)


MOUNTINFO_V1 = """\
25 30 0:22 / /sys rw,nosuid - sysfs sysfs rw
29 25 0:26 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 29 0:30 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
36 29 0:31 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
"""
MOUNTINFO_V2 = "29 25 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"


@pytest.mark.parametrize(
    ("mountinfo", "mounted"), [(MOUNTINFO_V1, False), (MOUNTINFO_V2, True), ("", False)]
)
def test_cgroup2_on_sys_fs_cgroup(mountinfo: str, mounted: bool) -> None:
    assert cgroup2_mounted(mountinfo) is mounted


@pytest.mark.parametrize("mount", [True, False])
def test_the_sudo_shim_runs_the_redirector_as_mitmproxy_asks(tmp_path: Path, mount: bool) -> None:
    script = tmp_path / "sudo"
    script.write_text(shim_script(mount_cgroup2=mount))
    script.chmod(0o700)
    # mitmproxy's two calls: the password prompt (a no-op here), then the redirector.
    assert subprocess.run([script, "echo", "-n"], capture_output=True, check=False).returncode == 0
    text = script.read_text()
    assert ("mount -t cgroup2 cgroup2 /sys/fs/cgroup" in text) is mount
    if not mount:
        ran = subprocess.run(
            [script, "--non-interactive", "--preserve-env", "printf", "%s|", "a b", "c"],
            capture_output=True,
            check=False,
            text=True,
        )
        assert ran.stdout == "a b|c|"  # options dropped, arguments kept whole


def test_wireguard_keys_and_a_config_that_works_unedited(tmp_path: Path) -> None:
    keys_file = tmp_path / "wireguard.conf"
    server, client = wireguard.keys(keys_file)
    assert wireguard.keys(keys_file) == (server, client)  # kept: clients stay valid
    assert oct(keys_file.stat().st_mode & 0o777) == "0o600"
    assert len(base64.b64decode(wireguard.pubkey(server))) == 32
    text = wireguard.client_config(server, client, "203.0.113.5:51820")
    assert f"PrivateKey = {client}" in text and f"PublicKey = {wireguard.pubkey(server)}" in text
    assert "Endpoint = 203.0.113.5:51820" in text and "DNS" not in text
    assert "AllowedIPs = 0.0.0.0/0, ::/0" in text  # IPv6 too: never around the tunnel
    # A known pair (RFC 7748 §6.1, Alice): the public key comes out as WireGuard derives it.
    alice = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    public = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    assert base64.b64decode(wireguard.pubkey(base64.b64encode(alice).decode())).hex() == public


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("10.1.2.3", "10.1.2.3:51820"),
        ("vpn.example:4000", "vpn.example:4000"),
        ("fd00::1", "[fd00::1]:51820"),
        ("[fd00::1]", "[fd00::1]:51820"),
        ("[fd00::1]:18206", "[fd00::1]:18206"),
    ],
)
def test_the_endpoint_given(given: str, expected: str) -> None:
    assert wireguard.endpoint(given, 51820) == expected


def test_a_broken_key_file_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "wireguard.conf"
    broken.write_text("{}")
    with pytest.raises(CliError, match="not a WireGuard key file"):
        wireguard.keys(broken)


def test_local_mode_needs_a_program(tmp_path: Path) -> None:
    with pytest.raises(CliError, match="--program NAME"):
        plan(Options(mode="local", port=8080), tmp_path)


def test_the_explicit_proxy_listens_on_loopback_unless_told() -> None:
    p = plan(Options(mode="proxy", port=8181), Path("/nonexistent"))
    assert p.modes == ["regular@127.0.0.1:8181"] and p.proxy_url == "http://127.0.0.1:8181"
    p = plan(Options(mode="proxy", port=8181, listen_host="0.0.0.0"), Path("/nonexistent"))
    assert p.modes == ["regular@0.0.0.0:8181"]


def test_the_modes_replace_the_reverse_proxy_in_mitmdumps_command() -> None:
    upstream = Upstream("http://127.0.0.1:5/backend-api/codex", "emu", "client", "all")
    command = mitmproxy_command(
        "mitmdump",
        upstream,
        port=8080,
        web_port=None,
        verbose=False,
        modes=["transparent@127.0.0.1:8080", "transparent@::1:8080"],
    )
    modes = [command[i + 1] for i, word in enumerate(command) if word == "--mode"]
    assert modes == ["transparent@127.0.0.1:8080", "transparent@::1:8080"]
    assert "--listen-port" not in command and "connection_strategy=lazy" in command


def test_mitmdumps_environment_leaves_out_a_proxy_that_is_itself() -> None:
    p = Plan(modes=[], where="", listening=lambda pid: True)
    env = child_environment(
        {"HTTPS_PROXY": "http://127.0.0.1:8080", "HTTP_PROXY": "http://corp:3128", "NO_PROXY": "a"},
        p,
        "http://127.0.0.1:4000/backend-api/codex",
        8080,
    )
    assert "HTTPS_PROXY" not in env and env["HTTP_PROXY"] == "http://corp:3128"
    assert env["NO_PROXY"] == "a,127.0.0.1" and env["no_proxy"] == "127.0.0.1"


def test_a_proxy_variable_naming_this_machine_by_another_address_is_left_out_too() -> None:
    """`--listen-host 0.0.0.0` with HTTPS_PROXY naming this machine's LAN address: the calls
    would come back to this very proxy (a loop), which only looked like a TLS failure."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # a route lookup: no packet is sent
        mine = probe.getsockname()[0]
    assert not mine.startswith("127.")
    p = Plan(modes=[], where="", listening=lambda pid: True)
    environ = {"HTTPS_PROXY": f"http://{mine}:8080", "HTTP_PROXY": "http://192.0.2.55:8080"}
    env = child_environment(environ, p, None, 8080)
    assert "HTTPS_PROXY" not in env  # this machine
    assert env["HTTP_PROXY"] == "http://192.0.2.55:8080"  # another one, same port


@pytest.mark.parametrize(
    ("mode", "needles"),
    [
        ("proxy", ["export HTTPS_PROXY=http://127.0.0.1:8080", "Node's fetch ignores it"]),
        ("transparent", ["Redirect rules installed", "  table inet x", "remove the rules."]),
        ("local", ["Processes named node are intercepted"]),
        ("wireguard", ["written to /c/c2r.conf (mode 0600)", "wg-quick up /c/c2r.conf"]),
    ],
)
def test_the_ready_text_says_what_the_client_must_do(mode: str, needles: list[str]) -> None:
    text = ready_text(
        Ready(
            mode=mode,
            tool="mitmdump",
            upstream="the bundled emulator",
            ca_file="/c/ca.pem",
            where="somewhere",
            hosts="api.openai.com,example.org",
            proxy_url="http://127.0.0.1:8080",
            rules="table inet x" if mode == "transparent" else "",
            wireguard_file="/c/c2r.conf",
            wireguard_config="[Interface]",
            program="node",
        )
    )
    assert "chat2responses is ready: mitmdump intercepting" in text
    for needle in [*needles, "SSL_CERT_FILE=/c/ca.pem", "NODE_EXTRA_CA_CERTS=/c/ca.pem"]:
        assert needle in text
    assert "update-ca-certificates" in text
    assert "Only api.openai.com, example.org (responses_hosts) are intercepted" in text


@pytest.mark.parametrize(
    ("extra", "hosts"),
    [
        ([], "api.openai.com,chatgpt.com"),
        (
            ["--set", "responses_hosts=Gateway.example.,api.openai.com"],
            "api.openai.com,gateway.example",
        ),
    ],
)
def test_only_the_rewritten_hosts_are_intercepted(extra: list[str], hosts: str) -> None:
    """mitmproxy's allow_hosts, matched against host:port of the server name, the CONNECT
    target and the destination address: every other connection passes through, TLS and all."""
    args = only_their_hosts(extra)
    assert args[: len(extra)] == extra and args[len(extra) : -1] == ["--set"]
    name, _, pattern = args[-1].partition("=")
    assert name == "allow_hosts"
    allowed = {
        host: bool(re.search(pattern, host, re.IGNORECASE))
        for host in (
            *(f"{h}:443" for h in hosts.split(",")),
            "API.OPENAI.COM:443",
            "10.0.0.53:53",
            "api.openai.com.evil.example:443",
            "xapi.openai.com:443",
            "api-openai.com:443",
            "openrouter.ai:443",
            "162.159.140.245:443",
        )
    }
    assert allowed == {
        **{f"{h}:443": True for h in hosts.split(",")},
        "API.OPENAI.COM:443": "api.openai.com" in hosts,
        "10.0.0.53:53": True,
        "api.openai.com.evil.example:443": False,
        "xapi.openai.com:443": False,
        "api-openai.com:443": False,
        "openrouter.ai:443": False,
        "162.159.140.245:443": False,
    }


@pytest.mark.parametrize("theirs", [["--set", "allow_hosts=x"], ["--ignore-hosts", "y"]])
def test_a_users_own_host_filter_is_kept(theirs: list[str]) -> None:
    assert only_their_hosts(theirs) == theirs


def test_the_ports_whose_rules_are_in_place() -> None:
    """What `nft list tables` and `iptables -t nat -S` show of other runs (redirect.check_alone)."""
    nft = "table inet chat2responses_8080\ntable inet c2rtest\ntable ip nat\n"
    ipt = "-N C2R_9000_OUT\n-N C2R_9001_PRE\n-A OUTPUT -j C2R_9000_OUT\n-N C2R_x_OUT\n-N DOCKER\n"
    assert ports_in(nft) == {8080}
    assert ports_in(ipt) == {9000, 9001}
    assert ports_in("") == set()


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (Options(mode="proxy", port=1, interface="eth0"), "--interface is for transparent mode"),
        (Options(mode="proxy", port=1, user="nobody"), "--user is for transparent mode"),
        (Options(mode="transparent", port=1, listen_host="0.0.0.0"), "--listen-host is for proxy"),
        (Options(mode="wireguard", port=1, program="x"), "--program is for local mode"),
        (Options(mode="local", port=1, program="x", endpoint="h"), "--endpoint is for wireguard"),
        (
            Options(mode="transparent", port=1, interface="eth0", user="nobody"),
            "--interface and --user do not go together",
        ),
    ],
)
def test_a_flag_another_mode_takes_is_refused(options: Options, said: str) -> None:
    with pytest.raises(CliError, match=said):
        plan(options, Path("/nonexistent"))
