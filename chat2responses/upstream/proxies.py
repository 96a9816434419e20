"""Which proxy, if any, carries each upstream call the addon makes itself; and the hop mark.

The addon's own upstream calls (HTTP, WebSocket, the catalog fetch, the login refresh) leave the
way the Codex CLI's do: through the proxy that mitmproxy's `--mode upstream:URL` names, else
through `HTTPS_PROXY` (https/wss) or `HTTP_PROXY` (http/ws) from the environment, unless
`NO_PROXY` lists the host. `Egress` is that choice as a value, with the process's hop mark, and is
handed down to the transports; nothing here opens a socket.

Pure: no I/O. The environment and mitmproxy's options are read by the glue and passed in.

Rule 1: `--mode upstream:URL` wins over the environment (every call goes through it, as mitmproxy
        sends everything it forwards), with mitmproxy's `upstream_auth` as its credentials;
        `NO_PROXY` still exempts a host (a loopback upstream through a remote proxy is nonsense).
Rule 2: environment variables as curl and Python read them: the lower-case name wins over the
        upper-case one; `HTTP_PROXY` is ignored when `REQUEST_METHOD` is set (a CGI request can set
        it: "httpoxy"); `ALL_PROXY` is the fallback for both schemes.
Rule 3: `NO_PROXY` is a comma-separated list: `*` (every host), a domain (it and its
        subdomains, with or without a leading dot), an IP address or a CIDR block; a `:port`
        after an entry is ignored.
Rule 4: only http:// and https:// proxies; anything else is a ValueError naming where it came
        from. A proxy's credentials never appear in `str`/`repr` or a message.
Rule 5: every call carries the hop mark (`routing.HOP_HEADER`: a random value per process), so
        that one that comes back into this same mitmproxy is known as a loop (routing rule 3).
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from chat2responses.upstream.routing import HOP_HEADER


@dataclass(frozen=True, slots=True)
class Proxy:
    """One HTTP(S) proxy: its URL without credentials, and the credentials apart."""

    url: str  # scheme://host:port
    username: str = field(default="", repr=False)
    password: str = field(default="", repr=False)

    @classmethod
    def parse(cls, value: str, where: str) -> Proxy:
        """`http://user:pass@host:3128`, `https://host`, or `host:3128` (http assumed)."""
        text = value.strip()
        if "://" not in text:
            text = "http://" + text
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        try:
            port = parts.port
        except ValueError:
            port = None
            scheme = ""
        if scheme not in ("http", "https") or not parts.hostname:
            shown = f"{parts.scheme}://{parts.hostname or ''}" if parts.scheme else "?"
            raise ValueError(
                f"{where} names a proxy chat2responses cannot use ({shown}…): only http:// "
                "and https:// proxies are supported"
            )
        host = parts.hostname
        if ":" in host:
            host = f"[{host}]"
        port = port or (443 if scheme == "https" else 80)
        return cls(
            f"{scheme}://{host}:{port}",
            unquote(parts.username or ""),
            unquote(parts.password or ""),
        )

    @property
    def authorization(self) -> str | None:
        """The `Proxy-Authorization` value, when the proxy has credentials."""
        if not self.username and not self.password:
            return None
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return f"Basic {token}"

    def url_with_credentials(self) -> str:
        """The URL with its credentials in it (for clients that take them so): never log it."""
        if not self.username and not self.password:
            return self.url
        parts = urlsplit(self.url)
        userinfo = quote(self.username, safe="") + ":" + quote(self.password, safe="")
        return urlunsplit(parts._replace(netloc=f"{userinfo}@{parts.netloc}"))


@dataclass(frozen=True, slots=True)
class Egress:
    """How the addon's own upstream calls leave the process (see the module rules)."""

    upstream: Proxy | None = None  # --mode upstream:URL
    http: Proxy | None = None
    https: Proxy | None = None
    no_proxy: tuple[str, ...] = ()
    hop: str = ""  # this process's hop mark (rule 5)

    @classmethod
    def configure(
        cls, modes: Sequence[str], upstream_auth: str, env: Mapping[str, str], hop: str = ""
    ) -> Egress:
        """From mitmproxy's `mode` and `upstream_auth` options and the environment."""
        upstream = None
        for spec in modes:
            url = upstream_mode_url(spec)
            if url is not None:
                upstream = Proxy.parse(url, f"--mode {spec}")
                if upstream_auth:
                    user, _, password = upstream_auth.partition(":")
                    upstream = Proxy(upstream.url, user, password)
                break
        fallback = _variable(env, "ALL_PROXY")
        https = _variable(env, "HTTPS_PROXY") or fallback
        http = _variable(env, "HTTP_PROXY", cgi_safe=True) or fallback
        return cls(
            upstream=upstream,
            http=Proxy.parse(http[1], http[0]) if http else None,
            https=Proxy.parse(https[1], https[0]) if https else None,
            no_proxy=_no_proxy_entries(env),
            hop=hop,
        )

    def proxy_for(self, url: str) -> Proxy | None:
        """The proxy a call to `url` goes through; None: straight to it."""
        if self.upstream is None and self.http is None and self.https is None:
            return None  # no proxy configured: nothing to bypass, nor to parse `url` for
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if bypassed(host, self.no_proxy):
            return None
        if self.upstream is not None:
            return self.upstream
        secure = parts.scheme.lower() in ("https", "wss")
        return self.https if secure else self.http

    def headers(self) -> dict[str, str]:
        """The headers every call of the addon's own carries (the hop mark)."""
        return {HOP_HEADER: self.hop} if self.hop else {}

    def describe(self) -> str:
        """For the log: where calls go, without credentials."""
        if self.upstream is not None:
            return f"through the upstream proxy {self.upstream.url} (--mode upstream)"
        parts = [f"https through {self.https.url}" if self.https else ""]
        parts.append(f"http through {self.http.url}" if self.http else "")
        said = ", ".join(p for p in parts if p)
        return said or "directly (no proxy)"


DIRECT = Egress()


def upstream_mode_url(spec: str) -> str | None:
    """The proxy URL of mitmproxy's `upstream:URL[@[host:]port]` mode spec; None for others."""
    head, _, listen = spec.rpartition("@")
    if not head:
        head = listen
    name, _, data = head.partition(":")
    return data if name.strip().lower() == "upstream" and data else None


def _variable(
    env: Mapping[str, str], name: str, *, cgi_safe: bool = False
) -> tuple[str, str] | None:
    """(the variable's name, its value) for `name`, lower-case first (rule 2)."""
    lower = name.lower()
    if env.get(lower, "").strip():
        return lower, env[lower]
    if cgi_safe and "REQUEST_METHOD" in env:
        return None
    if env.get(name, "").strip():
        return name, env[name]
    return None


def _no_proxy_entries(env: Mapping[str, str]) -> tuple[str, ...]:
    found = _variable(env, "NO_PROXY")
    if found is None:
        return ()
    entries = []
    for word in found[1].split(","):
        entry = word.strip().lower()
        if entry:
            entries.append(entry)
    return tuple(entries)


def bypassed(host: str, entries: Sequence[str]) -> bool:
    """Whether NO_PROXY's `entries` exempt `host` (rule 3)."""
    host = host.strip("[]").rstrip(".")
    address = _address(host)
    for entry in entries:
        if entry == "*":
            return True
        name = _without_port(entry)
        if address is not None:
            try:
                if address in ipaddress.ip_network(name.strip("[]"), strict=False):
                    return True
            except ValueError:
                pass
            continue
        name = name.lstrip(".").rstrip(".")
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _without_port(entry: str) -> str:
    if entry.startswith("["):  # [::1]:8080
        return entry.partition("]")[0] + "]"
    if entry.count(":") == 1:  # host:port (an IPv6 address has more colons)
        return entry.partition(":")[0]
    return entry
