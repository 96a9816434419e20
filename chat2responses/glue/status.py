"""The `chat2responses.status` text: quota per account and what upstreams taught.

Accounts appear as digests only; routes and refused summaries as model and upstream URL (without
credentials or query).
"""

from __future__ import annotations

from datetime import UTC, datetime

from chat2responses.call.memory import Memory
from chat2responses.upstream.quota import QuotaBook


def status_text(book: QuotaBook, memory: Memory) -> str:
    lines = ["chat2responses status"]
    lines.append(book.status(datetime.now(UTC)).strip() or "quota: nothing seen yet")
    if memory.routes:
        lines.append("learned routes:")
        lines += [
            f"  {model} at {up}: {route.value}" for (up, model), route in memory.routes.items()
        ]
    else:
        lines.append("learned routes: none (every model goes where the catalog says)")
    if memory.no_summaries:
        lines.append("reasoning summaries refused for:")
        lines += [f"  {model} at {up}" for up, model in memory.no_summaries]
    return "\n".join(lines)
