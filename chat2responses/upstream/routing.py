"""Where a rewritten request goes: which hosts, paths and models are ours, and the upstream.

`Upstream` is the one value that says where a call goes: its HTTP and WebSocket URLs, the same
without credentials or query (what is learned under, logged and shown), and the backend's
profile. It is built once per call (`upstream_for`); everyone else asks it.

URLs are built with `urllib.parse`, never by concatenation, so a base URL's query survives
(`https://h/openai/v1?api-version=preview` → `https://h/openai/v1/responses?api-version=preview`).
The transport is the call policy's business (call/policy.py). Pure: no I/O.

Rule 1: only the hosts of `responses_hosts` (and, in reverse mode, the reverse target: every
        request a reverse listener takes is addressed to it) are ours; another provider's request
        passes through untouched, and its credential never leaves for our upstream.
Rule 2: the Codex backend's own paths (`/backend-api/codex/…`) are native Responses traffic (the
        Codex CLI's): never rewritten, in any mode.
Rule 3: a request that carries this process's own hop mark is its own upstream call come back
        (a loop): it is answered with one 508, never rewritten again (`loop_error_message`).
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit, urlunsplit

from chat2responses.upstream.catalog import ModelMatch
from chat2responses.upstream.profiles import UpstreamProfile, profile_for_url


class CallKind(StrEnum):
    CHAT = "chat"  # POST …/chat/completions: translated both ways
    RESPONSES = "responses"  # POST …/responses from a Responses client: answered as Responses
    COMPACT = "compact"  # POST …/responses/compact: a compaction_trigger call, answered as one


def call_kind(path: str) -> CallKind | None:
    """What a path asks for; None for anything else, and for the Codex backend's own paths
    (`/backend-api/codex/…`: a Codex client's native traffic, never rewritten)."""
    if is_native_codex_path(path):
        return None
    if is_chat_completions_path(path):
        return CallKind.CHAT
    if is_responses_path(path):
        return CallKind.RESPONSES
    if is_compact_path(path):
        return CallKind.COMPACT
    return None


@dataclass(frozen=True, slots=True)
class Upstream:
    """Where one call goes."""

    http_url: str  # POST {responses_url}/responses
    ws_url: str  # the same with ws/wss
    key: str  # http_url without userinfo, query or fragment: learned under, logged, shown
    ws_shown: str  # ws_url the same way, for display
    profile: UpstreamProfile
    local: bool = False  # on this host (a loopback name or address): nothing to compress for


@functools.lru_cache(maxsize=256)
def upstream_for(responses_url: str, origin: str, path: str) -> Upstream:
    """The upstream of one intercepted request (see `responses_url_for`); remembered, as a
    client sends many calls to one place (its URLs parsed once, not per call)."""
    url = responses_url_for(responses_url, origin, path)
    ws = websocket_url(url)
    shown, ws_shown = redacted_url(url), redacted_url(ws)
    return Upstream(url, ws, shown, ws_shown, profile_for_url(url), is_loopback(url))


def is_loopback(url: str) -> bool:
    """Whether `url`'s host is this host: `localhost` or a loopback address."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


HOP_HEADER = "x-chat2responses-hop"  # on every upstream call the addon makes itself (rule 3)


def host_is_ours(host: str, hosts: frozenset[str], *, reverse: bool) -> bool:
    """Whether a request addressed to `host` (the name the client used: mitmproxy's
    `pretty_host`) may be rewritten or answered (rule 1). `hosts` are lower-case, without a
    trailing dot (settings.py)."""
    return reverse or host.lower().rstrip(".").strip("[]") in hosts


def loop_error_message(host: str) -> str:
    """What a client reads when the addon's own upstream call came back to it (rule 3)."""
    return (
        "chat2responses: the upstream call for this request came back into the same proxy "
        f"(a loop: its call to {host} reached this mitmproxy again), so it was stopped. The "
        "proxy's own connections must not be redirected or proxied to itself: exclude them "
        "from the redirect rules (`chat2responses intercept transparent` does), and do not "
        "point HTTPS_PROXY/HTTP_PROXY or --mode upstream:URL of this mitmproxy at itself "
        "(unset them for it, or list the upstream host in NO_PROXY)."
    )


def ours_under_catalog(match: ModelMatch | None, profile: UpstreamProfile, *, chat: bool) -> bool:
    """Whether `responses_rewrite=catalog` rewrites a call for `match`'s model: one the catalog
    lists, or a chat call for one `profile`'s upstream serves through the Responses API only
    (its own chat endpoint would refuse it; a Responses call for it reaches that upstream's own
    Responses endpoint as sent). Every other call reaches the upstream untouched."""
    if match is None:
        return False
    return match.info is not None or (chat and profile.serves_only_responses(match.upstream_name))


def responses_url_for(responses_url: str, origin: str, path: str) -> str:
    """The HTTP URL of the Responses endpoint for one intercepted chat request.

    `responses_url` set: `{responses_url}/responses`. Empty: the request's own origin and path,
    with its trailing `/chat/completions` (or `/responses/compact`) replaced by `/responses`
    (the query is kept).
    """
    if responses_url:
        parts = urlsplit(responses_url)
        return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/responses"))
    parts = urlsplit(origin + path)
    base = parts.path.rstrip("/").removesuffix("/chat/completions").removesuffix("/compact")
    base = base.removesuffix("/responses")
    return urlunsplit(parts._replace(path=base + "/responses"))


def websocket_url(http_url: str) -> str:
    """`https://…/responses` → `wss://…/responses` (and http → ws); the query is kept."""
    parts = urlsplit(http_url)
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme.lower(), parts.scheme)
    return urlunsplit(parts._replace(scheme=scheme))


def is_chat_completions_path(path: str) -> bool:
    return path.partition("?")[0].rstrip("/").endswith("/chat/completions")


def is_responses_path(path: str) -> bool:
    """`POST …/responses` from a Responses client (not `…/responses/{id}`, not the driver's)."""
    return path.partition("?")[0].rstrip("/").endswith("/responses")


def is_compact_path(path: str) -> bool:
    """`POST …/responses/compact`: the public API's compaction endpoint."""
    return path.partition("?")[0].rstrip("/").endswith("/responses/compact")


# The Codex backend's own prefix: a Codex client that talks to it through this proxy (its
# `chatgpt_base_url`, or interception) sends native traffic, never rewritten.
NATIVE_CODEX_PREFIX = "/backend-api/codex"


def is_native_codex_path(path: str) -> bool:
    """A path under the Codex backend's own prefix (`/backend-api/codex/…`)."""
    bare = path.partition("?")[0]
    return bare == NATIVE_CODEX_PREFIX or bare.startswith(NATIVE_CODEX_PREFIX + "/")


def redacted_url(url: str) -> str:
    """`url` without userinfo, query or fragment: safe to log and to show to a client."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
