"""What `intercept` prints once it is ready: where it intercepts, and what each client must do.

Pure: text from values. The CA file is mitmproxy's (`{confdir}/mitmproxy-ca-cert.pem`); which
client reads which variable is the clients' own behaviour: openai-python (httpx) reads
`SSL_CERT_FILE`, not `REQUESTS_CA_BUNDLE`; Node reads `NODE_EXTRA_CA_CERTS`, and Node's `fetch`
ignores `HTTPS_PROXY`, so Node tools and editor extensions need a transparent, local or WireGuard
mode rather than the explicit proxy.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Ready:
    mode: str  # proxy | transparent | local | wireguard
    tool: str  # mitmdump | mitmweb
    upstream: str  # the upstream, in words
    ca_file: str
    where: str  # where it listens or what it intercepts, in words
    hosts: str  # responses_hosts: the only hosts intercepted
    proxy_url: str = ""  # proxy mode: what HTTPS_PROXY must say
    rules: str = ""  # transparent: the rules installed
    wireguard_file: str = ""
    wireguard_config: str = ""
    program: str = ""  # local: the process name
    web_port: int | None = None


def ready_text(r: Ready) -> str:
    lines = [
        "",
        f"chat2responses is ready: {r.tool} intercepting ({r.mode}) {r.where}, "
        f"upstream {r.upstream}.",
    ]
    if r.web_port is not None:
        lines.append(
            f"  mitmweb UI: http://127.0.0.1:{r.web_port} (open the ?token= URL it prints)"
        )
    lines += _mode_lines(r)
    lines += [
        "Every client must trust mitmproxy's CA:",
        f"  Python (openai, httpx):  export SSL_CERT_FILE={r.ca_file}",
        f"  requests:                export REQUESTS_CA_BUNDLE={r.ca_file}",
        f"  Node (fetch, openai, editor extensions):  export NODE_EXTRA_CA_CERTS={r.ca_file}",
        "  the system store (Debian, Ubuntu):",
        f"    sudo cp {r.ca_file} /usr/local/share/ca-certificates/mitmproxy.crt",
        "    sudo update-ca-certificates",
        f"Only {r.hosts.replace(',', ', ')} (responses_hosts) are intercepted; connections to "
        "other hosts pass through as they are (TLS and all, never decrypted or recorded).",
        "Press Ctrl-C to stop" + (" and remove the rules." if r.rules else "."),
        "",
    ]
    return "\n".join(lines)


def _mode_lines(r: Ready) -> list[str]:
    if r.mode == "proxy":
        return [
            "Point the client at it (Python and curl honour this; Node's fetch ignores it: use",
            "the transparent, local or WireGuard mode for Node tools and editor extensions):",
            f"  export HTTPS_PROXY={r.proxy_url}",
        ]
    if r.mode == "transparent":
        return [
            "Redirect rules installed (removed when this command stops; a start removes what a",
            "crashed run left):",
            *("  " + line for line in r.rules.splitlines()),
            "Clients need nothing but the CA below (no proxy setting, no base URL).",
        ]
    if r.mode == "local":
        return [
            f"Processes named {r.program} are intercepted: start (or restart) the program now;",
            "connections it opened before are not.",
        ]
    return [
        f"WireGuard client configuration, written to {r.wireguard_file} (mode 0600):",
        *("  " + line for line in r.wireguard_config.splitlines()),
        f"On the client: wg-quick up {r.wireguard_file}   (wg-quick down … to undo), or import",
        "the file into the WireGuard app.",
    ]
