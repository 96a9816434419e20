"""The emulator's secret, and the reasoning items' `encrypted_content` it can verify.

- Rule 1: one secret per emulator, derived from its `seed` (`secret_for`), signs everything the
  emulator hands out: login tokens (login.py) and reasoning items. Two runs with the same seed
  accept each other's tokens and items; a test can make them with `secret_for(seed)`.
- Rule 2 (the caller): a request's credential is its `chatgpt-account-id` header when present
  (it survives a token refresh, as a login's account does), else its `Authorization` value, else
  the empty string; only its SHA-256 digest enters a signature (`credential_digest`).
- Rule 3 (reasoning): a reasoning item's `encrypted_content` is
  `base64url({"id", "mac"})`, where `mac` is an HMAC-SHA256 under the secret of the caller's
  digest, the item id and the canonical JSON of its summary. An item sent back as input verifies
  when its content decodes, names the item's own id (if the item has one), and the MAC matches
  its summary for this caller: an edited summary or blob, or an item made for another
  credential, does not (`check_reasoning_items` → `invalid_encrypted_content`). A `compaction`
  item's `encrypted_content` is sealed and checked alike (its summary is empty).

Pure: no I/O, no clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from typing import Any

from chat2responses.emulator.rules import Rejection
from chat2responses.emulator.tokens import canonical_json


def secret_for(seed: str) -> bytes:
    return hashlib.sha256(f"chat2responses-emulator-secret:{seed}".encode()).digest()


def credential_digest(headers: Mapping[str, str]) -> str:
    """Rule 2. `headers` must look names up case-insensitively (aiohttp's do)."""
    credential = headers.get("chatgpt-account-id") or headers.get("authorization") or ""
    return hashlib.sha256(credential.encode()).hexdigest()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """Raises ValueError on anything that is not base64url."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError(str(exc)) from None


def mac(secret: bytes, *parts: str) -> str:
    message = "\x1f".join(parts).encode()
    return b64url(hmac.new(secret, message, hashlib.sha256).digest())


class ReasoningSealer:
    """Makes and checks `encrypted_content` for one caller (Rule 3)."""

    def __init__(self, secret: bytes, caller: str) -> None:
        self._secret = secret
        self._caller = caller

    def seal(self, item_id: str, summary: Sequence[Any]) -> str:
        tag = mac(self._secret, self._caller, item_id, canonical_json(list(summary)).decode())
        return b64url(canonical_json({"id": item_id, "mac": tag}))

    def verifies(self, item: Mapping[str, Any]) -> bool:
        content = item.get("encrypted_content")
        if not isinstance(content, str):
            return False
        try:
            sealed = json.loads(b64url_decode(content))
        except ValueError:
            return False
        if not isinstance(sealed, dict) or not isinstance(sealed.get("id"), str):
            return False
        if item.get("id") not in (None, sealed["id"]):
            return False
        summary = item.get("summary")
        expected = self.seal(sealed["id"], summary if isinstance(summary, list) else [])
        return hmac.compare_digest(expected, content)


SEALED_ITEMS = frozenset({"reasoning", "compaction"})


def check_reasoning_items(items: Sequence[Any], sealer: ReasoningSealer) -> Rejection | None:
    """The 400 for the first reasoning or compaction input item whose `encrypted_content` does
    not verify (a compaction item must carry one)."""
    for index, item in enumerate(items):
        if not isinstance(item, dict) or item.get("type") not in SEALED_ITEMS:
            continue
        if item["type"] == "compaction" and not isinstance(item.get("encrypted_content"), str):
            return Rejection(
                400,
                f"Missing required parameter: 'input[{index}].encrypted_content'.",
                code="missing_required_parameter",
                param=f"input[{index}].encrypted_content",
            )
        if "encrypted_content" not in item or item["encrypted_content"] is None:
            continue
        if not sealer.verifies(item):
            return Rejection(
                400,
                f"The encrypted content for item {item.get('id', f'input[{index}]')} "
                "could not be verified.",
                code="invalid_encrypted_content",
                param=f"input[{index}]",
            )
    return None
