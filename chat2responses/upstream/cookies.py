"""Which cookies an upstream may leave with the proxy: the Codex CLI's ChatGPT cookie policy.

The Codex CLI keeps one process-wide cookie store for the ChatGPT backend, over HTTP and for its
WebSocket handshakes, and lets into it only infrastructure cookies: Cloudflare's service cookies
(bot management, its load balancer's affinity, challenges; the CLI's own list). To these this
module adds `__oailb`, OpenAI's own load balancer's affinity cookie, an infrastructure cookie of
the same kind that peers following the CLI's list keep too. No account, session or auth cookie
ever goes in: one proxy serves many callers and accounts from one store.

Rule 1: a cookie is kept only from, and sent only to, an `https` (or `wss`) URL of a ChatGPT
        host: chatgpt.com, chat.openai.com, chatgpt-staging.com, or a subdomain of chatgpt.com
        or chatgpt-staging.com. Any other upstream (api.openai.com, a relay, the emulator) gets
        none and leaves none.
Rule 2: only the names of `KEPT_NAMES`, or starting with `cf_chl_` (a challenge's), are kept or
        sent; any other cookie is dropped unread.
Pure: no I/O.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit

KEPT_NAMES: Final = frozenset(
    {
        "__cf_bm",
        "__cflb",
        "__cfruid",
        "__cfseq",
        "__cfwaitingroom",
        "__oailb",
        "_cfuvid",
        "cf_clearance",
        "cf_ob_info",
        "cf_use_ob",
    }
)
_CHALLENGE_PREFIX: Final = "cf_chl_"
_HOSTS: Final = frozenset({"chatgpt.com", "chat.openai.com", "chatgpt-staging.com"})
_PARENTS: Final = (".chatgpt.com", ".chatgpt-staging.com")
_SECURE_SCHEMES: Final = frozenset({"https", "wss"})


def is_chatgpt_host(host: str) -> bool:
    host = host.lower().rstrip(".")
    return host in _HOSTS or host.endswith(_PARENTS)


def cookies_allowed(url: str) -> bool:
    """Rule 1: whether cookies may be kept from, or sent to, `url`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in _SECURE_SCHEMES and is_chatgpt_host(parts.hostname or "")


def name_kept(name: str) -> bool:
    """Rule 2."""
    name = name.strip()
    return name in KEPT_NAMES or (name.startswith(_CHALLENGE_PREFIX) and name != _CHALLENGE_PREFIX)


def set_cookie_name(header: str) -> str:
    """The cookie a `Set-Cookie` value sets ("" when it names none)."""
    name, equals, _ = header.partition("=")
    return name.strip() if equals else ""


def kept_set_cookies(url: str, headers: list[str]) -> list[str]:
    """The `Set-Cookie` values of an answer from `url` that may be kept (rules 1, 2)."""
    if not cookies_allowed(url):
        return []
    return [header for header in headers if name_kept(set_cookie_name(header))]
