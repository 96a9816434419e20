"""How each option's text is read and checked (settings.py parses the options with these).

Each function takes the option's name (for its error) and its value as mitmproxy holds it, and
returns the value as `Settings` keeps it, or raises `ValueError` with a message naming the
option and what it takes. Pure: no I/O.
"""

from __future__ import annotations

import re
from enum import StrEnum
from urllib.parse import urlsplit


def choice[E: StrEnum](enum: type[E], name: str, value: str) -> E:
    try:
        return enum(value.strip().lower())
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in enum)
        raise ValueError(f"{name} must be one of {allowed}, not {value!r}") from None


def positive(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a whole number of seconds above 0, not {value!r}")
    return value


def http_url(name: str, value: str) -> str:
    url = value.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{name} must be an http:// or https:// URL, not {value!r}")
    return url


# A DNS name or an IP address as a client writes it in a URL: no scheme, path, port or space.
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?"
_HOST_NAME = re.compile(rf"^(?:{_LABEL}\.)*{_LABEL}$")
_IPV6 = re.compile(r"^[0-9a-f:.]+$")


def host_names(name: str, value: str) -> frozenset[str]:
    """`a.example,B.example.` → {"a.example", "b.example"}: lower-case, no trailing dot; an IPv6
    address may be bracketed. Anything else (a URL, a port, a wildcard) is a ValueError."""
    hosts = set()
    for word in value.split(","):
        host = word.strip().lower().rstrip(".").removeprefix("[").removesuffix("]")
        if not host:
            continue
        if not (_HOST_NAME.match(host) or (":" in host and _IPV6.match(host))):
            raise ValueError(
                f"{name} takes host names separated by commas (api.openai.com,chatgpt.com), "
                f"not {word.strip()!r}"
            )
        hosts.add(host)
    return frozenset(hosts)


_STATE_SCHEMES = ("redis", "rediss", "unix")


def state_url(value: str) -> str:
    url = value.strip()
    if url and urlsplit(url).scheme not in _STATE_SCHEMES:
        # The value may hold a password: only its scheme is named.
        raise ValueError(
            "responses_state_url must be a redis://, rediss:// or unix:// URL (or empty), "
            f"not one starting with {url.partition(':')[0]!r}"
        )
    return url


def address(name: str, value: str) -> tuple[str, int] | None:
    """`host:port` (`[v6]:port`, or a port alone for 127.0.0.1); empty: None."""
    text = value.strip()
    if not text:
        return None
    host, colon, port = text.rpartition(":")
    if not colon:
        host, port = "127.0.0.1", text
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not port.isdigit() or not 0 < int(port) < 65536 or not host or " " in host:
        raise ValueError(f"{name} must be host:port (e.g. 127.0.0.1:9464), not {value!r}")
    return host, int(port)


def bounded(name: str, value: int, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, not {value!r}")
    return value
