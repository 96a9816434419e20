"""Keys per person (`responses_client_keys`): who is calling, told by the SHA-256 of their key.

The keys file holds one person per line, `NAME SHA256HEX` (what `chat2responses keys add` appends);
blank lines and lines starting with `#` are ignored. The file never holds a key, only its digest,
and nothing here keeps a key past the lookup.

Rule 1 (the key): a client presents its key as `Authorization: Bearer KEY` (the openai SDKs),
        else as `api-key` or `x-api-key` (Azure-style clients), the first one present counting.
Rule 2 (the person): a listed key names its person; that name, never the key or its digest, is
        what summaries, flows, the per-call numbers and the status show.
Rule 3 (refusal): with a keys file set, a request without a listed key is a 401 in OpenAI's
        shape (`invalid_request_error`, code `invalid_api_key`), before anything is planned or
        sent; the message never quotes the key.
Rule 4 (the file): a name is 1-64 of letters, digits and `._@+-`, starting with a letter or
        digit; a digest is 64 hex digits; a name or digest listed twice, or a line of any other
        shape, is a ValueError naming the line (never its content past the name).
Pure: no I/O; reading the file is transports/client_keys_file.py's.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from chat2responses.protocol.errors import ClientError

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
_DIGEST = re.compile(r"[0-9a-f]{64}")
_KEY_HEADERS = (b"authorization", b"api-key", b"x-api-key")  # rule 1, in order
MAX_KEYS = 10_000


def key_digest(key: str) -> str:
    """The digest a keys file holds for `key` (lowercase hex SHA-256 of its UTF-8 bytes)."""
    return hashlib.sha256(key.encode()).hexdigest()


def key_line(name: str, key: str) -> str:
    """The line `chat2responses keys add` appends for `name` holding `key` (rule 4)."""
    if not NAME.fullmatch(name):
        raise ValueError(
            f"{name!r} cannot be a name in a keys file: 1-64 letters, digits and ._@+-, "
            "starting with a letter or digit"
        )
    return f"{name} {key_digest(key)}\n"


@dataclass(frozen=True, slots=True)
class ClientKeys:
    """The people of a keys file, by the digest of their key."""

    by_digest: Mapping[str, str] = field(default_factory=dict)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.by_digest.values())

    def person(self, fields: Iterable[tuple[bytes, bytes]]) -> str:
        """The person whose key the request's raw header `fields` present (rules 1-3); raises
        the 401 `ClientError` when no listed key is presented."""
        key = presented_key(fields)
        if key is None:
            raise ClientError(
                "You didn't provide an API key. This gateway needs your own key in an "
                "Authorization header (Authorization: Bearer YOUR_KEY); ask whoever runs it "
                "for one (chat2responses keys add NAME --file PATH).",
                status=401,
                code="invalid_api_key",
            )
        name = self.by_digest.get(key_digest(key))
        if name is None:
            raise ClientError(
                "Incorrect API key provided: it is not one of this gateway's keys. Ask whoever "
                "runs it for yours (chat2responses keys add NAME --file PATH).",
                status=401,
                code="invalid_api_key",
            )
        return name


def presented_key(fields: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The key a request presents (rule 1), or None."""
    found: dict[bytes, bytes] = {}
    for raw_name, raw_value in fields:
        name = raw_name.lower()
        if name in _KEY_HEADERS and name not in found:
            found[name] = raw_value.strip()
    for name in _KEY_HEADERS:
        value = found.get(name)
        if not value:
            continue
        if name == b"authorization":
            scheme, _, value = value.partition(b" ")
            if scheme.lower() != b"bearer":
                continue
            value = value.strip()
        if not value.isascii():
            return None  # no listed key holds such bytes (a keys file's keys are ASCII)
        return value.decode() or None
    return None


def parse_keys(text: str, source: str) -> ClientKeys:
    """The keys file's content (rule 4); `source` names it in errors."""
    by_digest: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        words = line.split()
        where = f"{source}, line {number}"
        if len(words) != 2 or not NAME.fullmatch(words[0]):
            raise ValueError(f"{where}: expected 'NAME SHA256' (chat2responses keys add writes it)")
        name, digest = words[0], words[1].lower()
        if not _DIGEST.fullmatch(digest):
            raise ValueError(f"{where}: {name}'s digest is not 64 hex digits")
        if digest in by_digest:
            raise ValueError(f"{where}: {name}'s key is listed already (for {by_digest[digest]})")
        if len(by_digest) >= MAX_KEYS:
            raise ValueError(f"{where}: more than {MAX_KEYS} keys")
        by_digest[digest] = name
    return ClientKeys(by_digest)
