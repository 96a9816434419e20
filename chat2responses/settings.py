"""The addon's options (options.py declares them), parsed once into a frozen value.

The glue (glue/hooks.py) declares the mitmproxy options and calls `Settings.parse` in `configure`;
everything else receives a `Settings` and never reads mitmproxy options. A bad value raises
`ValueError`: the glue turns a change into mitmproxy's `OptionsError` (the previous value then
stays), and a bad value at start into one error line (mitmproxy then exits). `chat2responses run`
checks the values it passes with `Settings.from_strings` before it starts anything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from difflib import get_close_matches
from enum import StrEnum
from urllib.parse import urlsplit

from chat2responses.options import DEFAULTS, OPTION_NAMES, OPTIONS
from chat2responses.protocol.wire import ReasoningMode
from chat2responses.request.callers import NO_CALLERS, Callers, parse_hosts, parse_origins
from chat2responses.upstream.identity import CODEX_CLI_VERSION, check_client_version
from chat2responses.upstream.login import REFRESH_URL

# The options come with their parser: the glue declares them from here (glue/hooks.py).
__all__ = [
    "CODEX_BACKEND_URL",
    "OPTIONS",
    "OPTION_NAMES",
    "AuthMode",
    "ContinuationMode",
    "RewriteMode",
    "Settings",
    "TransportMode",
]


class AuthMode(StrEnum):
    CLIENT = "client"
    CODEX = "codex"


class RewriteMode(StrEnum):
    CATALOG = "catalog"
    ALL = "all"


class ContinuationMode(StrEnum):
    AUTO = "auto"
    OFF = "off"


class TransportMode(StrEnum):
    AUTO = "auto"
    HTTP = "http"
    WEBSOCKET = "websocket"


CODEX_BACKEND_URL = "https://chatgpt.com/backend-api/codex"


@dataclass(frozen=True, slots=True)
class Settings:
    responses_url: str = ""
    auth: AuthMode = AuthMode.CLIENT
    codex_auth_file: str = "~/.codex/auth.json"
    catalog_path: str = ""
    rewrite: RewriteMode = RewriteMode.CATALOG
    transport: TransportMode = TransportMode.AUTO
    reasoning: ReasoningMode = ReasoningMode.REASONING_CONTENT
    idle_timeout: int = 300
    retries: int = 2
    keepalive: int = 15
    catalog_refresh: int = 3600
    continuation: bool = True
    refresh_url: str = REFRESH_URL
    callers: Callers = NO_CALLERS
    client_version: str = CODEX_CLI_VERSION
    hosts: frozenset[str] = frozenset({"api.openai.com", "chatgpt.com"})
    client_keys: str = ""  # the keys file's path (transports/client_keys_file.py reads it)
    state_url: str = ""
    metrics: tuple[str, int] | None = None  # (host, port) of /metrics; None: off
    calls_log: str = ""

    @classmethod
    def from_strings(cls, values: Mapping[str, str]) -> Settings:
        """`parse` of option values as `--set NAME=VALUE` spells them, the others at their
        defaults: what `chat2responses run` checks before it starts mitmproxy. An unknown
        name is a ValueError too (mitmproxy would ignore it without a word)."""
        given = dict(DEFAULTS)
        for name, value in values.items():
            if name not in DEFAULTS:
                near = get_close_matches(name, sorted(OPTION_NAMES), n=1)
                hint = f"; did you mean {near[0]}?" if near else ""
                raise ValueError(f"there is no option {name}{hint}")
            if not isinstance(DEFAULTS[name], int):
                given[name] = value
                continue
            try:
                given[name] = int(value)
            except ValueError:
                raise ValueError(f"{name} must be a whole number, not {value!r}") from None
        return cls.parse(**given)  # type: ignore[arg-type]

    @classmethod
    def parse(
        cls,
        *,
        responses_url: str,
        responses_auth: str,
        responses_codex_auth_file: str,
        responses_catalog: str,
        responses_rewrite: str,
        responses_transport: str,
        responses_reasoning: str,
        responses_idle_timeout: int = 300,
        responses_retries: int = 2,
        responses_keepalive: int = 15,
        responses_catalog_refresh: int = 3600,
        responses_continuation: str = "auto",
        responses_codex_refresh_url: str = REFRESH_URL,
        responses_allowed_origins: str = "",
        responses_allowed_hosts: str = "",
        responses_client_version: str = CODEX_CLI_VERSION,
        responses_hosts: str = "api.openai.com,chatgpt.com",
        responses_client_keys: str = "",
        responses_state_url: str = "",
        responses_metrics: str = "",
        responses_calls_log: str = "",
    ) -> Settings:
        url = responses_url.strip().rstrip("/")
        if url:
            _http_url("responses_url", url)
        auth = _choice(AuthMode, "responses_auth", responses_auth)
        if auth is AuthMode.CODEX and not url:
            # The ChatGPT login is for the Codex backend only: never send it to whatever origin
            # a client happened to call.
            url = CODEX_BACKEND_URL
        return cls(
            responses_url=url,
            auth=auth,
            codex_auth_file=responses_codex_auth_file,
            catalog_path=responses_catalog.strip(),
            rewrite=_choice(RewriteMode, "responses_rewrite", responses_rewrite),
            transport=_choice(TransportMode, "responses_transport", responses_transport),
            reasoning=_choice(ReasoningMode, "responses_reasoning", responses_reasoning),
            idle_timeout=_positive("responses_idle_timeout", responses_idle_timeout),
            retries=_bounded("responses_retries", responses_retries, 0, 10),
            keepalive=_bounded("responses_keepalive", responses_keepalive, 0, 3600),
            continuation=_choice(ContinuationMode, "responses_continuation", responses_continuation)
            is ContinuationMode.AUTO,
            catalog_refresh=_bounded(
                "responses_catalog_refresh", responses_catalog_refresh, 0, 7 * 86400
            ),
            refresh_url=_http_url("responses_codex_refresh_url", responses_codex_refresh_url),
            callers=Callers(
                parse_origins("responses_allowed_origins", responses_allowed_origins),
                parse_hosts("responses_allowed_hosts", responses_allowed_hosts),
            ),
            client_version=check_client_version(responses_client_version),
            hosts=_host_names("responses_hosts", responses_hosts),
            client_keys=responses_client_keys.strip(),
            state_url=_state_url(responses_state_url),
            metrics=_address("responses_metrics", responses_metrics),
            calls_log=responses_calls_log.strip(),
        )


def _choice[E: StrEnum](enum: type[E], name: str, value: str) -> E:
    try:
        return enum(value.strip().lower())
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in enum)
        raise ValueError(f"{name} must be one of {allowed}, not {value!r}") from None


def _positive(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a whole number of seconds above 0, not {value!r}")
    return value


def _http_url(name: str, value: str) -> str:
    url = value.strip()
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:  # never echoed: a secret
        raise ValueError(
            f"{name} must not hold a user name or password (user:password@host); the "
            "upstream's credential comes from responses_auth: the client's key or the Codex login"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{name} must be an http:// or https:// URL, not {value!r}")
    return url


# A DNS name or an IP address as a client writes it in a URL: no scheme, path, port or space.
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?"
_HOST_NAME = re.compile(rf"^(?:{_LABEL}\.)*{_LABEL}$")
_IPV6 = re.compile(r"^[0-9a-f:.]+$")


def _host_names(name: str, value: str) -> frozenset[str]:
    """`a.example,B.example.` → {"a.example", "b.example"} as request/callers.parse_hosts reads a
    host list, where each entry must be a host name or address alone (an IPv6 address may be
    bracketed): a URL, a port or a wildcard is a ValueError."""
    for word in value.split(","):
        host = word.strip().lower().rstrip(".").removeprefix("[").removesuffix("]")
        if host and not (_HOST_NAME.match(host) or (":" in host and _IPV6.match(host))):
            raise ValueError(
                f"{name} takes host names separated by commas (api.openai.com,chatgpt.com), "
                f"not {word.strip()!r}"
            )
    return parse_hosts(name, value)


_STATE_SCHEMES = ("redis", "rediss", "unix")


def _state_url(value: str) -> str:
    url = value.strip()
    if url and urlsplit(url).scheme not in _STATE_SCHEMES:
        # The value may hold a password: only its scheme is named.
        raise ValueError(
            "responses_state_url must be a redis://, rediss:// or unix:// URL (or empty), "
            f"not one starting with {url.partition(':')[0]!r}"
        )
    return url


def _address(name: str, value: str) -> tuple[str, int] | None:
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


def _bounded(name: str, value: int, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, not {value!r}")
    return value
