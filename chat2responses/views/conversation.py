"""The Conversation view: a conversation up to one of its calls, one row per turn.

Each row is one call's record (call/record.py), as the conversation ledger filed it: when, the
model, the route (and on a WebSocket, which socket and which turn on it), continued or full
(items sent of items), the request's size, the tokens written out in full, the cached share, the
time to the first token (reasoning counts), the addon's own time and the upstream's, the total,
retries, the error and the quota after it. Under a turn whose cache fell short, why (call/
misses.py). Must not show a credential, a prompt or an answer (records hold none), nor raise on
any record. Pure: no I/O; the time zone is given.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo

from chat2responses.call.record import CallRecord
from chat2responses.call.report import ms_text, share_text
from chat2responses.views.writer import Writer

Column = tuple[str, Callable[[CallRecord], str], bool]  # title, cell, right-aligned
NONE = "-"  # a value the call does not have


def _ms(value: float | None) -> str:
    if value is None:
        return NONE
    return f"{value / 1000:.2f} s" if value >= 10_000 else ms_text(value)


def _count(value: int | None) -> str:
    return NONE if value is None else str(value)


def _how(record: CallRecord) -> str:
    if record.continued:
        return f"continued {record.sent_items} of {record.full_items}"
    return f"full {record.full_items}" if record.full_items else "full"


def _route(record: CallRecord) -> str:
    if record.socket is None:
        return record.route
    return f"{record.route} #{record.socket}·{record.socket_turn}"


def _quota(record: CallRecord) -> str:
    return ", ".join(f"{name} {used:.0f} %" for name, used in record.quota_used.items()) or NONE


def _error(record: CallRecord) -> str:
    if not record.error and (record.status in (None, 200)):
        return NONE
    return record.error_code or (str(record.status) if record.status else "error")


def columns(tz: tzinfo | None) -> list[Column]:
    """The table's columns (the report's turn tables use them too)."""
    return [
        ("turn", lambda r: str(r.turn), True),
        ("time", lambda r: datetime.fromtimestamp(r.at, tz).strftime("%H:%M:%S"), False),
        ("model", lambda r: r.model, False),
        ("route", _route, False),
        ("sent", _how, False),
        ("KB", lambda r: f"{r.request_bytes / 1024:.1f}", True),
        ("input", lambda r: _count(r.input_tokens), True),
        ("cached", lambda r: _count(r.cached_tokens), True),
        ("output", lambda r: _count(r.output_tokens), True),
        ("reasoning", lambda r: _count(r.reasoning_tokens), True),
        ("cached %", lambda r: share_text(s) if (s := r.cached_share) is not None else NONE, True),
        ("first token", lambda r: _ms(r.first_token_ms), True),
        ("c2r", lambda r: _ms(r.c2r_ms), True),
        ("upstream", lambda r: _ms(r.upstream_ms), True),
        ("total", lambda r: _ms(r.total_ms), True),
        ("retries", lambda r: str(r.retries), True),
        ("error", _error, False),
        ("quota after", _quota, False),
    ]


def render_conversation(turns: Sequence[CallRecord], current: str, tz: tzinfo | None = None) -> str:
    """The table of `turns` (oldest first, ending with the call `current`), then the misses."""
    out = Writer()
    if not turns:
        out.add("This call is not part of a conversation chat2responses recorded.")
        return out.text()
    last = turns[-1]
    first = turns[0].turn
    kept = f" (turns before {first} are no longer kept)" if first > 1 else ""
    out.add(
        f"conversation {last.key or '?'} · {len(turns)} turn{'s' if len(turns) != 1 else ''} "
        f"up to this call, turn {last.turn}{kept} · upstream {last.upstream or '?'}"
    )
    shown = columns(tz)
    rows = [[cell(turn) for _, cell, _ in shown] for turn in turns]
    widths = [
        max(len(title), *(len(row[i]) for row in rows)) for i, (title, _, _) in enumerate(shown)
    ]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.rjust(width) if right else cell.ljust(width)
            for cell, width, (_, _, right) in zip(cells, widths, shown, strict=True)
        ).rstrip()

    out.add(line([title for title, _, _ in shown]))
    for turn, row in zip(turns, rows, strict=True):
        out.add(line(row) + ("   ← this call" if turn.id == current else ""))
    misses = [turn for turn in turns if turn.miss]
    if misses:
        out.add("", "why the cache fell short of the turn before:")
        out.add(*(f"  turn {turn.turn}: {'; '.join(turn.miss)}" for turn in misses))
    errors = [turn for turn in turns if turn.error]
    if errors:
        out.add("", "errors:")
        out.add(*(f"  turn {turn.turn}: {turn.error}" for turn in errors))
    return out.text()
