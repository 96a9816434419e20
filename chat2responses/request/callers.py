"""Who may call the proxy: the user's own tools, never a web page they happen to have open.

A local proxy that spends the user's login must not be usable by any site the user visits: a
page's simple cross-origin POST (`content-type: text/plain`) is not preflighted, and with DNS
rebinding a page on the attacker's name reaches the proxy as its own origin. Tools that are not
browsers (SDKs, curl, IDE extension hosts) send neither `Origin` nor `Sec-Fetch-Site`, and pass.
As local model servers do (Ollama's allowed origins and hosts), `caller_refusal` decides, before
anything goes upstream, for every call the addon answers:

Rule 1: a request whose `Origin` is not in `responses_allowed_origins` is refused (403).
Rule 2: a request a browser made for a page (`Sec-Fetch-Site` other than `none`, which is the
        user typing the address) without an allowed `Origin` is refused: `cross-site` always,
        and `same-origin`/`same-site` too (the proxy serves no page of its own, so such a page
        is a rebound one, or another port's).
Rule 3: against DNS rebinding, the `Host` must name the proxy itself: a loopback name
        (`localhost`, `*.localhost`) or address, its listen address (any IP address when it
        listens on all of them: a rebound page always carries a DNS name), a name of
        `responses_allowed_hosts`, or, when intercepting, a host the addon rewrites.

Pure: no I/O.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from chat2responses.protocol.errors import ClientError

_ANY_ADDRESS = frozenset({"", "0.0.0.0", "::", "*"})
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
_USER_TYPED = "none"  # Sec-Fetch-Site of a request the user made (address bar, bookmark)


@dataclass(frozen=True, slots=True)
class Callers:
    """The options' allow-lists, normalised (`parse_origins`, `parse_hosts`)."""

    origins: frozenset[str] = frozenset()
    hosts: frozenset[str] = frozenset()


NO_CALLERS = Callers()  # the defaults: no browser origin, no extra host


def parse_origins(name: str, value: str) -> frozenset[str]:
    """`scheme://host[:port]` entries, comma-separated, lower-cased; `*` allows every origin.
    A ValueError names the entry that is not an origin."""
    found = set()
    for entry in (e.strip() for e in value.split(",")):
        if not entry:
            continue
        if entry == "*":
            found.add("*")
            continue
        parts = urlsplit(entry)
        if not parts.scheme or not parts.netloc or parts.path not in ("", "/") or parts.query:
            raise ValueError(
                f"{name}: {entry!r} is not an origin (scheme://host[:port], e.g. "
                "http://localhost:3000)"
            )
        found.add(f"{parts.scheme.lower()}://{parts.netloc.lower()}")
    return frozenset(found)


def parse_hosts(name: str, value: str) -> frozenset[str]:
    """Host names (or addresses), comma-separated, lower-cased, without a port."""
    found = set()
    for entry in (e.strip() for e in value.split(",")):
        if "/" in entry or "@" in entry or " " in entry:
            raise ValueError(f"{name}: {entry!r} is not a host name")
        if host := _hostname(entry):
            found.add(host)
    return frozenset(found)


def caller_refusal(
    headers: Mapping[str, str],
    callers: Callers,
    *,
    listen_host: str,
    rewritten_hosts: frozenset[str] | None,
) -> ClientError | None:
    """Why this request may not use the proxy (a 403), or None. `headers` are the client's
    (case-insensitive names); `listen_host` is mitmproxy's `listen_host`; `rewritten_hosts` is
    None in reverse mode (the Host must name the proxy), else the hosts the addon rewrites when
    intercepting (an empty set: every host)."""
    origin = _header(headers, "origin")
    site = _header(headers, "sec-fetch-site")
    allowed = origin is not None and _origin_allowed(origin, callers.origins)
    if origin is not None and not allowed:  # rule 1
        return _refused(
            f"Requests from the web page at {_quoted(origin)} are not accepted: this proxy "
            "spends your own login and keys. To allow a browser-based tool, add its origin to "
            "the option responses_allowed_origins.",
            "origin_not_allowed",
        )
    if site is not None and site.strip().lower() != _USER_TYPED and not allowed:  # rule 2
        return _refused(
            f"Requests a browser makes for a web page (Sec-Fetch-Site: {_quoted(site)}) are "
            "not accepted without an Origin listed in responses_allowed_origins.",
            "origin_not_allowed",
        )
    host = _hostname(_header(headers, "host") or "")
    if not _host_allowed(host, callers.hosts, listen_host, rewritten_hosts):  # rule 3
        return _refused(
            f"The Host {_quoted(host)} does not name this proxy (a DNS name pointed at it is "
            "refused unless listed in the option responses_allowed_hosts).",
            "host_not_allowed",
        )
    return None


def _origin_allowed(origin: str, allowed: frozenset[str]) -> bool:
    return "*" in allowed or origin.strip().rstrip("/").lower() in allowed


def _host_allowed(
    host: str, allowed: frozenset[str], listen_host: str, rewritten: frozenset[str] | None
) -> bool:
    if rewritten is not None and (not rewritten or host in rewritten):
        return True
    if host in allowed or host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    listen = _hostname(listen_host)
    if host == listen:
        return True
    address = _address(host)
    if address is None:
        return False
    return address.is_loopback or listen in _ANY_ADDRESS


def _hostname(authority: str) -> str:
    """`host`, `host:port`, `[v6]:port` → the host alone, lower-cased, without a final dot."""
    text = authority.strip()
    if text.startswith("["):  # an IPv6 address: what the brackets hold
        return text[1:].partition("]")[0].lower()
    if text.count(":") == 1:  # host:port (a bare IPv6 address has more colons)
        text = text.split(":")[0]
    return text.rstrip(".").lower()


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _quoted(value: str) -> str:
    return ascii(value[:100])  # cut, quoted, non-ASCII escaped: a hostile value stays one line


def _refused(message: str, code: str) -> ClientError:
    return ClientError(message, status=403, type="permission_error", code=code)
