"""The client's request headers: which go on to the upstream, and whose quota a call counts
against.

Rule 1: with `responses_auth=client` the client's credentials and the headers a Responses
        upstream reads go on; with `responses_auth=codex` the login speaks for the client and
        only `user-agent` goes on (no client credential reaches the Codex backend).
Rule 2: a repeated header goes on once, its values joined with ", ".
Rule 3: a value that cannot be sent on (a control character, a byte past ASCII) is a 400 naming
        the header, never quoting it (it may be a credential); a `user-agent` like that is left
        out instead.
Rule 4: a call's quota account is the login's digest, or a digest of the client's credential:
        never the credential itself.

Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from chat2responses.protocol.errors import ClientError
from chat2responses.settings import AuthMode

# Client headers passed on to the upstream with `responses_auth=client`.
_CLIENT_HEADERS = frozenset(
    {
        b"authorization",
        b"openai-organization",
        b"openai-project",
        b"user-agent",
        b"chatgpt-account-id",
        b"originator",
        b"session_id",
        b"openai-beta",
        b"api-key",
        b"x-api-key",
    }
)
# With `responses_auth=codex` the login speaks for the client: none of its credentials go on.
_CODEX_CLIENT_HEADERS = frozenset({b"user-agent"})


# What a header value passed on may hold: printable ASCII and tabs (aiohttp and websockets
# refuse control characters, and a byte past ASCII cannot be sent as the client sent it).
_SENDABLE = re.compile(rb"[\t\x20-\x7e]*")


def client_headers(fields: Iterable[tuple[bytes, bytes]], auth: AuthMode) -> dict[str, str]:
    """Of the request's raw header `fields`, the ones that go on, by lowercase name (rules 1-3)."""
    names = _CODEX_CLIENT_HEADERS if auth is AuthMode.CODEX else _CLIENT_HEADERS
    found: dict[str, str] = {}
    for raw_name, raw_value in fields:  # one pass over the raw fields: cheap
        name = raw_name.lower()
        if name in names:
            key = name.decode()  # one of the names above
            if not _SENDABLE.fullmatch(raw_value):
                if name == b"user-agent":
                    continue
                raise ClientError(
                    f"The '{key}' header holds characters that cannot be sent on: only "
                    "printable ASCII is allowed in it.",
                    code="invalid_header_value",
                )
            value = raw_value.decode()  # ASCII: _SENDABLE matched it
            found[key] = f"{found[key]}, {value}" if key in found else value
    return found


def account_of(headers: dict[str, str], login_account: str | None) -> str:
    """Who the quota belongs to: the login's account digest, or a digest of the client's own
    credential (never the credential itself)."""
    if login_account is not None:
        return login_account
    secret = headers.get("authorization") or headers.get("api-key") or headers.get("x-api-key")
    return hashlib.sha256((secret or "anonymous").encode()).hexdigest()[:12]
