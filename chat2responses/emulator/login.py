"""The emulated ChatGPT login: `POST /oauth/token` (refresh), and which Bearer tokens it accepts.

- Rule 1 (tokens): access and id tokens are JWT-shaped (`header.payload.signature`, base64url,
  HS256 under the emulator's secret, signing.py). The payload has `iat`, `exp` and the
  `https://api.openai.com/auth` claim with `chatgpt_account_id`. Any token the secret signed is
  the emulator's own, whether it issued it in this run or a test seeded it (`seeded_auth`).
- Rule 2 (refresh): a refresh token is `rt_<payload>.<mac>` naming its account and a nonce. A
  valid, unused one gets a new access token, a new id token and a new refresh token (rotation);
  it is then spent: a second use answers 401 `refresh_token_reused`; a token the secret did not
  sign answers 401 `invalid_grant`. The spent set keeps the last `MAX_SPENT` tokens.
- Rule 3 (strict login, `EmulatorConfig.require_login`): `/responses` over both transports
  answers 401 unless `Authorization: Bearer <token>` carries an access token of Rule 1 that has
  not expired (`LoginAuthority.check_bearer`).

Pure: no I/O; the clock is passed in (`now`, seconds since the epoch).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from chat2responses.emulator.rules import Rejection
from chat2responses.emulator.signing import b64url, b64url_decode, mac

AUTH_CLAIM = "https://api.openai.com/auth"
DEFAULT_ACCOUNT = "emulator-account"
DEFAULT_TOKEN_TTL = 10 * 24 * 3600  # the real access tokens live about ten days
MAX_SPENT = 100_000
_HEADER = {"alg": "HS256", "typ": "JWT"}

TokenAnswer = tuple[int, dict[str, Any]]


def _refused(code: str, message: str) -> TokenAnswer:
    return 401, {"error": {"message": message, "code": code}}


def make_jwt(secret: bytes, claims: Mapping[str, Any]) -> str:
    head = b64url(json.dumps(_HEADER, separators=(",", ":")).encode())
    body = b64url(json.dumps(dict(claims), separators=(",", ":")).encode())
    return f"{head}.{body}.{mac(secret, head, body)}"


def read_jwt(secret: bytes, token: str) -> dict[str, Any] | None:
    """The claims of a JWT the secret signed, or None."""
    parts = token.split(".")
    if len(parts) != 3 or not hmac.compare_digest(mac(secret, parts[0], parts[1]), parts[2]):
        return None
    try:
        claims = json.loads(b64url_decode(parts[1]))
    except ValueError:
        return None
    return claims if isinstance(claims, dict) else None


def issue_tokens(
    secret: bytes, *, account_id: str, now: int, ttl: int, nonce: str, plan_type: str = "plus"
) -> dict[str, str]:
    """A login's `tokens`: access, id and refresh token, and the account id (Rule 1, Rule 2)."""
    auth = {"chatgpt_account_id": account_id, "chatgpt_plan_type": plan_type}
    common = {"iss": "https://auth.openai.com", "sub": f"user-{account_id}", "iat": now}
    access = make_jwt(secret, common | {"exp": now + ttl, "jti": nonce, AUTH_CLAIM: auth})
    identity = common | {"exp": now + 3600, "email": f"{account_id}@emulator.invalid"}
    refresh_body = b64url(json.dumps({"acct": account_id, "n": nonce}).encode())
    return {
        "id_token": make_jwt(secret, identity | {AUTH_CLAIM: auth}),
        "access_token": access,
        "refresh_token": f"rt_{refresh_body}.{mac(secret, 'refresh', refresh_body)}",
        "account_id": account_id,
    }


def seeded_auth(
    secret: bytes, *, expires_at: int, account_id: str = DEFAULT_ACCOUNT, nonce: str = "seeded"
) -> dict[str, Any]:
    """A Codex `auth.json` document the emulator with this secret accepts: an access token
    expiring at `expires_at` (possibly in the past) and an unused refresh token."""
    issued = expires_at - DEFAULT_TOKEN_TTL
    tokens = issue_tokens(
        secret, account_id=account_id, now=issued, ttl=DEFAULT_TOKEN_TTL, nonce=nonce
    )
    stamp = datetime.fromtimestamp(issued, UTC).isoformat().replace("+00:00", "Z")
    return {"OPENAI_API_KEY": None, "tokens": tokens, "last_refresh": stamp}


class LoginAuthority:
    """Refreshes tokens (Rule 2) and judges Bearer tokens (Rule 3). One per emulator."""

    def __init__(self, secret: bytes, *, token_ttl: int = DEFAULT_TOKEN_TTL) -> None:
        self._secret = secret
        self._ttl = token_ttl
        self._spent: OrderedDict[str, None] = OrderedDict()
        self._issued = 0

    def refresh(self, body: object, now: int) -> TokenAnswer:
        """The status and JSON answer to a `POST /oauth/token` body."""
        if not isinstance(body, dict) or body.get("grant_type") != "refresh_token":
            return 400, {"error": {"message": "unsupported grant_type", "code": "invalid_request"}}
        token = body.get("refresh_token")
        account = self._refresh_account(token) if isinstance(token, str) else None
        if account is None or not isinstance(token, str):
            return _refused("invalid_grant", "refresh token is invalid or unknown")
        if token in self._spent:
            return _refused("refresh_token_reused", "refresh token was already used")
        self._spent[token] = None
        while len(self._spent) > MAX_SPENT:
            self._spent.popitem(last=False)
        self._issued += 1
        nonce = hashlib.sha256(f"{token}:{self._issued}".encode()).hexdigest()[:16]
        tokens = issue_tokens(self._secret, account_id=account, now=now, ttl=self._ttl, nonce=nonce)
        answer = {key: tokens[key] for key in ("id_token", "access_token", "refresh_token")}
        return 200, answer | {"token_type": "Bearer", "expires_in": self._ttl}

    def check_bearer(self, authorization: str | None, now: float) -> Rejection | None:
        """Rule 3: None for an unexpired access token of ours, else the 401."""
        scheme, _, token = (authorization or "").partition(" ")
        claims = read_jwt(self._secret, token.strip()) if scheme.lower() == "bearer" else None
        if claims is None or AUTH_CLAIM not in claims:
            return Rejection(
                401,
                "Could not parse your authentication token. Please try signing in again.",
                code="invalid_api_key",
            )
        expiry = claims.get("exp")
        if not isinstance(expiry, int | float) or expiry <= now:
            return Rejection(
                401,
                "Provided authentication token is expired. Please try signing in again.",
                code="token_expired",
            )
        return None

    def _refresh_account(self, token: str) -> str | None:
        body, _, tag = token.removeprefix("rt_").partition(".")
        if not token.startswith("rt_") or not hmac.compare_digest(
            mac(self._secret, "refresh", body), tag
        ):
            return None
        try:
            account = json.loads(b64url_decode(body)).get("acct")
        except (ValueError, AttributeError):
            return None
        return account if isinstance(account, str) else None
