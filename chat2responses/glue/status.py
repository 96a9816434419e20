"""The `chat2responses.status` text: quota per account, what upstreams taught, calls per person.

Accounts appear as digests only; routes and refused summaries as model and upstream URL (without
credentials or query); people by the names the keys file gives them (responses_client_keys).
"""

from __future__ import annotations

from datetime import UTC, datetime

from chat2responses.call.memory import Memory, unstable_note
from chat2responses.call.people import People
from chat2responses.upstream.quota_book import QuotaBook


def status_text(
    book: QuotaBook, memory: Memory, people: People | None = None, shared: str = ""
) -> str:
    now = datetime.now(UTC)
    lines = ["chat2responses status"]
    lines.append(book.status(now).strip() or "quota: nothing seen yet")
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
    unstable = memory.unstable(now.timestamp())
    if unstable:
        lines.append("WebSocket unstable (sent over HTTP for now):")
        lines += [f"  {model} at {up}: {unstable_note(until)}" for up, model, until in unstable]
    if people is not None:
        lines += people.lines()
    if shared:
        lines.append(f"shared state: {shared}")
    return "\n".join(lines)
