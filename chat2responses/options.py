"""The addon's options as mitmproxy declares them: name, type, default, help text and choices.
The public contract of DESIGN.md: a name here is a name users write (`--set NAME=VALUE`).

Must not parse or check values (settings.py does, once) or read mitmproxy's options (the glue
declares these in `load`). Rules: every option is named `responses_*`; a default is what a user
who sets nothing gets; the help text says what the value does, in one or two sentences.
"""

from __future__ import annotations

from chat2responses.upstream.identity import CODEX_CLI_VERSION
from chat2responses.upstream.login import REFRESH_URL

# (name, type, default, help, choices): the public contract of DESIGN.md.
OPTIONS: tuple[tuple[str, type, str | int, str, tuple[str, ...] | None], ...] = (
    (
        "responses_url",
        str,
        "",
        "Base URL of the Responses upstream (HTTP goes to {url}/responses, WebSocket to the same "
        "URL with ws/wss). Empty: the intercepted request's own origin and path, with its "
        "trailing /chat/completions replaced by /responses.",
        None,
    ),
    (
        "responses_auth",
        str,
        "client",
        "client: forward the client's Authorization. codex: use the ChatGPT login stored by the "
        "Codex CLI (responses_codex_auth_file), sent only to responses_url (the Codex backend, "
        "https://chatgpt.com/backend-api/codex, when that is empty).",
        ("client", "codex"),
    ),
    (
        "responses_codex_auth_file",
        str,
        "~/.codex/auth.json",
        "Where the Codex CLI's login lives (used with responses_auth=codex); re-read on change.",
        None,
    ),
    (
        "responses_catalog",
        str,
        "",
        "Path of a JSON model catalog merged over the embedded one (same shape; entries replace "
        "by slug).",
        None,
    ),
    (
        "responses_rewrite",
        str,
        "catalog",
        "catalog: rewrite chat requests whose model the catalog lists and pass every other "
        "request through untouched. all: rewrite every chat request.",
        ("catalog", "all"),
    ),
    (
        "responses_transport",
        str,
        "auto",
        "auto: WebSocket when the catalog prefers it, else HTTP, corrected by what the upstream "
        "answers. http / websocket: force one.",
        ("auto", "http", "websocket"),
    ),
    (
        "responses_reasoning",
        str,
        "reasoning_content",
        "How reasoning summaries reach the client: reasoning_content (a delta field), think "
        "(inside <think>…</think> in content), or none.",
        ("reasoning_content", "think", "none"),
    ),
    (
        "responses_codex_refresh_url",
        str,
        REFRESH_URL,
        "Where the Codex login's refresh token is exchanged for a new access token (when the "
        "access token is about to expire, or the upstream answered 401).",
        None,
    ),
    (
        "responses_continuation",
        str,
        "auto",
        "auto: continue a conversation on its kept WebSocket with previous_response_id and only "
        "the new items, falling back to the full request on any doubt. off: always send the "
        "full request.",
        ("auto", "off"),
    ),
    (
        "responses_retries",
        int,
        2,
        "Retries of an overload, a 5xx, a connection failure or a dropped WebSocket that happens "
        "before any output reached the client (exponential backoff with jitter, or the "
        "upstream's retry-after).",
        None,
    ),
    (
        "responses_keepalive",
        int,
        15,
        "Seconds of silence after which a streaming client gets an SSE ': keepalive' comment "
        "(long reasoning before the first token); 0 turns it off.",
        None,
    ),
    (
        "responses_catalog_refresh",
        int,
        3600,
        "Seconds between fetches of the upstream's own model catalog ({responses_url}/models, "
        "when the upstream is the Codex backend or the emulator); 0: never fetch, use the "
        "embedded catalog and the responses_catalog file only.",
        None,
    ),
    (
        "responses_hosts",
        str,
        "api.openai.com,chatgpt.com",
        "Host names (comma-separated) whose /chat/completions, /responses and /models the addon "
        "rewrites or answers; in reverse mode the reverse target counts too. Every other host "
        "passes through untouched, with its own credentials.",
        None,
    ),
    (
        "responses_metrics",
        str,
        "",
        "host:port where Prometheus metrics are served at /metrics (a port alone: 127.0.0.1); "
        "empty: off.",
        None,
    ),
    (
        "responses_calls_log",
        str,
        "",
        "A file that gets one JSON line per rewritten call (the summary's fields; never a "
        "credential, prompt or answer); empty: off.",
        None,
    ),
    (
        "responses_idle_timeout",
        int,
        300,
        "Seconds an upstream may stay silent before the call ends: a 504 before the first byte, "
        "an error chunk after it.",
        None,
    ),
    (
        "responses_allowed_origins",
        str,
        "",
        "Browser origins allowed to call the proxy (comma-separated scheme://host[:port], or *); "
        "a request with any other Origin (or Sec-Fetch-Site: cross-site) gets a 403. Empty: "
        "no browser page may call it; tools that are not browsers send no Origin and pass.",
        None,
    ),
    (
        "responses_allowed_hosts",
        str,
        "",
        "Extra Host names a rewritten call may carry (a gateway's DNS name, comma-separated); "
        "loopback names, the listen address and, when intercepting, the rewritten hosts are "
        "always allowed. Any other Host (a DNS-rebinding page) gets a 403.",
        None,
    ),
    (
        "responses_client_version",
        str,
        CODEX_CLI_VERSION,
        "The Codex CLI version chat2responses speaks as to the Codex backend (User-Agent, "
        "version header, client_version of /models); the backend gates newer models on it.",
        None,
    ),
    (
        "responses_client_keys",
        str,
        "",
        "A file of people and the SHA-256 of their keys, one 'NAME SHA256' per line "
        "(chat2responses keys add NAME --file PATH); when set, a request without a listed key "
        "gets a 401 before anything goes upstream, and each call is counted under its person's "
        "name. Re-read when it changes.",
        None,
    ),
    (
        "responses_state_url",
        str,
        "",
        "redis://host:port/db (or rediss://, unix://): keep what conversations carry between "
        "turns (the reasoning kept for replay, learned routes) in Redis, so that any instance "
        "behind a load balancer sends a moved turn as its own instance would have. Empty: "
        "memory only. A Redis that goes away means memory, never a failed call.",
        None,
    ),
)
OPTION_NAMES = frozenset(name for name, *_ in OPTIONS)
DEFAULTS: dict[str, str | int] = {name: default for name, _, default, _, _ in OPTIONS}
