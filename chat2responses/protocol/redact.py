"""Redaction of what looks like a credential in text the addon did not write: an upstream's or
the token endpoint's error message, relayed to the client, logged and shown.

An upstream may echo what it was sent (an `Authorization` value, the refresh token, the account
id); the addon relays its error texts, so each is passed through `redact` where it is built
(errors.UpstreamError, upstream/login.login_error) and what looks like a secret becomes
`<redacted>`. It is a net, not a parser: it errs towards redacting.

Rule 1: a value after `Bearer`/`Basic`, a JWT (`eyJ….….…`), an OpenAI key (`sk-…`), a refresh
        token (`rt_…`), a UUID (ChatGPT account ids are UUIDs), the value of a field named
        like a credential (`access_token`, `refresh_token`, `id_token`, `account_id`,
        `chatgpt-account-id`, `authorization`, `api_key`, `password`, `secret`,
        `openai-organization`, `openai-project`), also as JSON quoted inside a JSON string
        (`\"api-key\": \"…\"`), and a `Cookie`/`Set-Cookie` field's whole value are replaced.
Rule 2: the text around them is kept, so the message still says what went wrong.

Pure: no I/O.
"""

from __future__ import annotations

import re

REDACTED = "<redacted>"

_FIELD = (
    r"access[_-]?token|refresh[_-]?token|id[_-]?token|(?:chatgpt[_-])?account[_-]?id|"
    r"authorization|api[_-]?key|x-api-key|password|secret|client[_-]?secret|"
    r"openai-organization|openai-project"
)
_QUOTE = r"""(?:\\*["'])?"""  # a quote, perhaps escaped (JSON text inside a JSON string)
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # A named field: "refresh_token": "…", refresh_token=…, Authorization: …, \"api-key\": \"…\"
    (
        re.compile(
            rf"""(?i)({_QUOTE}\b(?:{_FIELD})\b{_QUOTE}\s*[:=]\s*{_QUOTE})(?!{REDACTED})"""
            r"""(?:(?:bearer|basic)\s+)?[^\s"',;&}\]\\]+"""
        ),
        rf"\g<1>{REDACTED}",
    ),
    # A cookie header's whole value: Cookie: a=1; b=2, "set-cookie": "…"
    (
        re.compile(
            rf"""(?i)({_QUOTE}\b(?:set-)?cookie\b{_QUOTE}\s*[:=]\s*{_QUOTE})(?!{REDACTED})[^\s"\\][^"\r\n\\]*"""
        ),
        rf"\g<1>{REDACTED}",
    ),
    (re.compile(r"(?i)\b(bearer|basic)\s+(?!<redacted>)[^\s\"',;]+"), rf"\g<1> {REDACTED}"),
    (re.compile(r"\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*"), REDACTED),
    (re.compile(r"\bsk-[\w-]{8,}"), f"sk-{REDACTED}"),
    (re.compile(r"\brt_[\w.~+/=-]{8,}"), f"rt_{REDACTED}"),
    (
        re.compile(r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"),
        REDACTED,
    ),
)


def redact(text: str) -> str:
    """`text` with whatever looks like a credential replaced by `<redacted>` (rule 1)."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
