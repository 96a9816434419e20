"""The Codex CLI's ChatGPT login: its token rules, pure.

The login file the Codex CLI writes on `codex login` (`~/.codex/auth.json`: `{"OPENAI_API_KEY",
"tokens": {"id_token", "access_token", "refresh_token", "account_id"}, "last_refresh"}`) is read
and written by `transports/login_file.py` and refreshed by `transports/login_refresh.py`; this
module holds what both carry out: the credentials a file holds, when an access token is due for
refresh (its JWT `exp`), the refresh request, the file content after a refresh, and how a
refused refresh reads to the client.

Rules:
1. Nothing here logs or formats a token; errors name the file, never its content.
2. JWTs are decoded without verification: only to read `exp` and the account claims, never to
   trust them. A token whose `exp` cannot be read is used as it is.
3. A refresh keeps every field of the file it does not own (codex_rs writes more than we read).
Pure: no I/O, no clock (the caller passes `now`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chat2responses.protocol.errors import ClientError
from chat2responses.protocol.redact import redact

# The Codex CLI's OAuth client and token endpoint (codex-rs/login/src/auth/manager.rs).
CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"
REFRESH_URL = "https://auth.openai.com/oauth/token"
REFRESH_SCOPE = "openid profile email"
# The claim set of ChatGPT id tokens that names the workspace (token_data.rs, AuthClaims).
AUTH_CLAIM = "https://api.openai.com/auth"


@dataclass(frozen=True, slots=True)
class CodexCredentials:
    access_token: str
    account_id: str | None
    refresh_token: str | None = None
    id_token: str | None = None


def login_error(message: str, code: str = "codex_login_missing") -> ClientError:
    """The 401 of a missing, unreadable or unrefreshable login; what the token endpoint said
    in it is redacted (protocol/redact.py)."""
    return ClientError(
        f"{redact(message)}; run `codex login` to sign in with ChatGPT",
        status=401,
        type="authentication_error",
        code=code,
    )


def parse_login(data: Mapping[str, Any], path: Path) -> CodexCredentials:
    tokens = data.get("tokens")
    if not isinstance(tokens, dict):
        tokens = {}
    access = _text(tokens.get("access_token"))
    if access is None:
        raise login_error(f"the Codex login at {path} holds no ChatGPT access token")
    return CodexCredentials(
        access_token=access,
        account_id=_text(tokens.get("account_id")),
        refresh_token=_text(tokens.get("refresh_token")),
        id_token=_text(tokens.get("id_token")),
    )


def codex_headers(creds: CodexCredentials, session_id: str) -> dict[str, str]:
    """The login's headers for the Codex backend on both transports (the profile adds the
    WebSocket handshake's own, `profiles.CODEX.ws_headers`; identity.py the client's name)."""
    headers = {"authorization": f"Bearer {creds.access_token}", "session_id": session_id}
    if creds.account_id:
        headers["chatgpt-account-id"] = creds.account_id
    return headers


def bearer_of(headers: Mapping[str, str]) -> str:
    """The access token inside headers built by `codex_headers` (for `refresh_after_401`)."""
    value = headers.get("authorization") or headers.get("Authorization") or ""
    return value.removeprefix("Bearer ")


def jwt_claims(token: str) -> dict[str, Any] | None:
    """The payload of a JWT, unverified; None when it is not a readable JWT."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, RecursionError, binascii.Error):
        return None
    return claims if isinstance(claims, dict) else None


def jwt_expiry(token: str) -> float | None:
    """The `exp` claim (Unix seconds) of a JWT, or None when it has none."""
    claims = jwt_claims(token)
    exp = claims.get("exp") if claims else None
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        return None
    return float(exp)


def needs_refresh(creds: CodexCredentials, now: float, margin: float) -> bool:
    """True when the access token expires within `margin` seconds (or has expired)."""
    exp = jwt_expiry(creds.access_token)
    return exp is not None and exp - now <= margin


def is_expired(creds: CodexCredentials, now: float) -> bool:
    return needs_refresh(creds, now, 0.0)


def account_digest(creds: CodexCredentials) -> str:
    """A short stable key for per-account state that holds no secret: the account id, else the
    token's subject, else (last resort) the access token itself, hashed."""
    identity = creds.account_id
    if identity is None:
        for token in (creds.id_token, creds.access_token):
            claims = jwt_claims(token) if token else None
            subject = _account_claim(claims) or (_text(claims.get("sub")) if claims else None)
            if subject:
                identity = subject
                break
    identity = identity or f"token:{creds.access_token}"
    return hashlib.sha256(identity.encode()).hexdigest()[:12]


def refresh_request_body(refresh_token: str) -> dict[str, str]:
    return {
        "client_id": CLIENT_ID,
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "scope": REFRESH_SCOPE,
    }


def refreshed_login(
    data: Mapping[str, Any], answer: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    """The login file's content after a successful refresh: the answer's tokens in place of the
    old ones (a token the answer lacks is kept), `last_refresh` now, every other field as it was.
    The account id follows the new id token's `chatgpt_account_id` claim when it has one."""
    access = _text(answer.get("access_token"))
    if access is None:
        raise refresh_failed(
            "the token endpoint's answer holds no access token", "codex_refresh_failed"
        )
    old = data.get("tokens")
    tokens: dict[str, Any] = dict(old) if isinstance(old, dict) else {}
    tokens["access_token"] = access
    for name in ("id_token", "refresh_token"):
        value = _text(answer.get(name))
        if value is not None:
            tokens[name] = value
    account = (
        _account_claim(jwt_claims(tokens["id_token"])) if _text(tokens.get("id_token")) else None
    )
    if account:
        tokens["account_id"] = account
    return {**data, "tokens": tokens, "last_refresh": _rfc3339(now)}


# The token endpoint's error codes (codex-rs classify_refresh_token_failure) → why, our code.
_REFRESH_REFUSALS = {
    "refresh_token_expired": ("its refresh token has expired", "codex_refresh_token_expired"),
    "refresh_token_reused": ("its refresh token was already used", "codex_refresh_token_reused"),
    "refresh_token_invalidated": ("its refresh token was revoked", "codex_refresh_token_revoked"),
}
_CODE_SHAPE = re.compile(r"[a-z0-9_.\-]{1,64}")


def refresh_refused(status: int, body: bytes) -> ClientError:
    """The 401 for a token endpoint that answered `status` (not 200) with `body`. Only the
    endpoint's error code is quoted, never the body (it may echo what it was sent)."""
    code = _error_code(body)
    if code in _REFRESH_REFUSALS:
        why, our_code = _REFRESH_REFUSALS[code]
        return refresh_failed(f"{why} (HTTP {status})", our_code)
    detail = f"HTTP {status}, {code}" if code else f"HTTP {status}"
    return refresh_failed(f"the token endpoint refused it ({detail})", "codex_refresh_failed")


def refresh_unreachable(reason: str) -> ClientError:
    return refresh_failed(
        f"the token endpoint could not be reached ({reason})", "codex_refresh_unreachable"
    )


def refresh_write_failed(path: Path, reason: str) -> str:
    """The log line for a refresh whose new tokens could not be written back."""
    return f"the Codex login at {path} was refreshed but could not be written back ({reason})"


def refresh_failed(why: str, code: str) -> ClientError:
    return login_error(f"the Codex login could not be refreshed: {why}", code)


def _error_code(body: bytes) -> str | None:
    try:
        data = json.loads(body) if body else None
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    inner = data.get("error")
    found = inner.get("code") if isinstance(inner, dict) else inner
    found = found if isinstance(found, str) else data.get("code")
    if not isinstance(found, str):
        return None
    found = found.strip().lower()
    return found if _CODE_SHAPE.fullmatch(found) else None


def _account_claim(claims: Mapping[str, Any] | None) -> str | None:
    auth = claims.get(AUTH_CLAIM) if claims else None
    return _text(auth.get("chatgpt_account_id")) if isinstance(auth, dict) else None


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
