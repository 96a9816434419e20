"""Call records for the tests of the pure layers: `record(**fields)` with plain defaults, and
`fp(...)` for digests of letters standing for items."""

from __future__ import annotations

import zlib
from typing import Any

from chat2responses.call.digests import Digests
from chat2responses.call.record import CallRecord


def fp(items: str = "", *, instructions: str = "be brief", tools: str = "", **kw: Any) -> Digests:
    """Digests whose items are the letters of `items` (each letter one item: the same
    letter, the same item), all user messages unless `kinds` says otherwise."""
    digests = tuple(zlib.crc32(letter.encode()) for letter in items)
    fields: dict[str, Any] = {
        "model": "gpt-5.5",
        "instructions": zlib.crc32(instructions.encode()) if instructions else 0,
        "tools": zlib.crc32(tools.encode()) if tools else 0,
        "items": digests,
        "kinds": "u" * len(items),
        **kw,
    }
    return Digests(**fields)


def record(**fields: Any) -> CallRecord:
    values: dict[str, Any] = {
        "id": "flow-1",
        "at": 1_000.0,
        "kind": "chat",
        "requested": "gpt-5.5",
        "model": "gpt-5.5",
        "route": "websocket",
        "reason": "catalog",
        "stream": True,
        "status": 200,
        "key": "c2r-key",
        "upstream": "http://127.0.0.1:9/backend-api/codex/responses",
        "account": "acct",
        "instance": "host-1",
        "total_ms": 500.0,
        **fields,
    }
    return CallRecord(**values)
