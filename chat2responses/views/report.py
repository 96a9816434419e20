"""The report page (`chat2responses report FLOWS -o report.html`): the calls of saved flows as one
self-contained HTML page.

Owns the page: the totals over every call, then each conversation with its charts (input tokens
per turn, the cached part darker and the misses marked; output tokens, the reasoning part
darker; the time to the first token, the addon's own part darker), why its cache missed, and
its turns as the Conversation view's table. It reads `CallRecord`s grouped into conversations
(call/ledger.py); what it shows holds no credential, prompt or answer, since records hold none.
Must not: load anything from elsewhere (no script, font, stylesheet or image from a server: the
charts are inline SVG, views/charts.py), or trust a record's text (every text is escaped).
Pure: no I/O; the time zone and the page's date are given.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import datetime, tzinfo
from html import escape

from chat2responses.call.record import CallRecord
from chat2responses.call.report import share_text
from chat2responses.views.charts import Segment, stacked_bars
from chat2responses.views.conversation import columns

INPUT = (Segment("cached", "cached"), Segment("not cached", "uncached"))
OUTPUT = (Segment("reasoning", "reasoning"), Segment("visible", "visible"))
TIMES = (Segment("chat2responses", "own"), Segment("upstream and the rest", "rest"))

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #1d1d1f; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 32px 0 4px; }
.meta { color: #555; margin: 0 0 12px; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; margin: 8px 0; }
th, td { padding: 3px 8px; border-bottom: 1px solid #e4e4e7; text-align: left; }
th, td { white-space: nowrap; }
td.num, th.num { text-align: right; }
.totals { display: inline-table; } .totals td:first-child { color: #555; }
.charts { display: flex; flex-wrap: wrap; gap: 12px 24px; }
svg.chart { background: #fafafa; border: 1px solid #eee; }
svg .title { font: 600 12px system-ui, sans-serif; fill: #1d1d1f; }
svg .axis, svg .legend { font: 11px system-ui, sans-serif; fill: #555; }
svg .grid { stroke: #e4e4e7; stroke-width: 1; }
svg .mark { font: 600 10px system-ui, sans-serif; fill: #c0392b; }
.cached { fill: #1f5fa8; } .uncached { fill: #8fb8e8; }
.reasoning { fill: #b35c00; } .visible { fill: #f0a050; }
.own { fill: #2e7d32; } .rest { fill: #a5d6a7; }
ul.misses li { color: #8a1c10; }
"""


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.1f} ms"


def _sum(turns: Sequence[CallRecord], name: str) -> int:
    return sum(getattr(t, name) or 0 for t in turns)


def _totals(turns: Sequence[CallRecord]) -> list[tuple[str, str]]:
    inputs, cached = _sum(turns, "input_tokens"), _sum(turns, "cached_tokens")
    ttft = [t.first_token_ms for t in turns if t.first_token_ms is not None]
    own = [t.c2r_ms for t in turns if t.c2r_ms is not None]
    routes = sorted({t.route for t in turns})
    errors = sum(1 for t in turns if t.error or (t.status not in (None, 200)))
    return [
        ("calls", f"{len(turns)} ({', '.join(routes)})" if routes else str(len(turns))),
        ("errors", str(errors)),
        ("input tokens", f"{inputs} ({cached} cached, {share_text(cached / inputs)})"
         if inputs else "0"),
        ("output tokens", f"{_sum(turns, 'output_tokens')} "
         f"({_sum(turns, 'reasoning_tokens')} reasoning)"),
        ("time to first token", f"median {_ms(statistics.median(ttft) if ttft else None)}, "
         f"90th percentile {_ms(_percentile(ttft, 0.9))}"),
        ("chat2responses' own time", f"median {_ms(statistics.median(own) if own else None)}"),
        ("continued on the kept WebSocket", str(sum(1 for t in turns if t.continued))),
        ("retries · fallbacks · continuation misses",
         f"{_sum(turns, 'retries')} · {sum(t.fallback for t in turns)} · "
         f"{sum(t.continuation_miss for t in turns)}"),
        ("cache misses explained", str(sum(1 for t in turns if t.miss))),
    ]  # fmt: skip


def _table(rows: Sequence[tuple[str, str]], css: str) -> str:
    cells = "".join(f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in rows)
    return f'<table class="{css}">{cells}</table>'


def _turns(turns: Sequence[CallRecord], tz: tzinfo | None) -> str:
    shown = columns(tz)
    head = "".join(
        f'<th class="{"num" if right else ""}">{escape(title)}</th>' for title, _, right in shown
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{"num" if right else ""}">{escape(cell(turn))}</td>'
            for _, cell, right in shown
        )
        + "</tr>"
        for turn in turns
    )
    return f'<table class="turns"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _charts(turns: Sequence[CallRecord]) -> str:
    labels = [str(t.turn) for t in turns]
    inputs = [
        (t.cached_tokens or 0, max(0, (t.input_tokens or 0) - (t.cached_tokens or 0)))
        for t in turns
    ]
    outputs = [
        (t.reasoning_tokens or 0, max(0, (t.output_tokens or 0) - (t.reasoning_tokens or 0)))
        for t in turns
    ]
    times = []
    for t in turns:
        first = t.first_token_ms or 0.0
        own = min(t.c2r_ms or 0.0, first)
        times.append((own, first - own))
    marked = [bool(t.miss) for t in turns]
    return (
        '<div class="charts">'
        + stacked_bars("input tokens per turn", INPUT, inputs, labels, marked=marked)
        + stacked_bars("output tokens per turn", OUTPUT, outputs, labels)
        + stacked_bars("time to first token per turn", TIMES, times, labels, unit=" ms")
        + "</div>"
    )


def _conversation(number: int, turns: Sequence[CallRecord], tz: tzinfo | None) -> str:
    first, last = turns[0], turns[-1]
    models = ", ".join(sorted({t.model for t in turns}))
    start = datetime.fromtimestamp(first.at, tz).strftime("%Y-%m-%d %H:%M:%S")
    end = datetime.fromtimestamp(last.ended_at, tz).strftime("%H:%M:%S")
    plural = "s" if len(turns) != 1 else ""
    misses = "".join(
        f"<li>turn {t.turn}: cached {share_text(t.cached_share or 0)}, "
        f"{escape('; '.join(t.miss))}</li>"
        for t in turns
        if t.miss
    )
    return (
        f'<section class="conversation"><h2>Conversation {number} · {escape(models)} · '
        f"{len(turns)} turn{plural}</h2>"
        f'<p class="meta">{escape(start)} to {escape(end)} · key {escape(last.key or "?")} · '
        f"upstream {escape(last.upstream or '?')}</p>"
        + _table(_totals(turns), "totals")
        + _charts(turns)
        + (f'<h3>Why the cache missed</h3><ul class="misses">{misses}</ul>' if misses else "")
        + _turns(turns, tz)
        + "</section>"
    )


def render_report(
    conversations: Sequence[Sequence[CallRecord]],
    *,
    sources: Sequence[str],
    generated: datetime,
    tz: tzinfo | None = None,
) -> str:
    """The whole page."""
    shown = [turns for turns in conversations if turns]
    calls = [turn for turns in shown for turn in turns]
    where = ", ".join(sources) or "no file"
    body = (
        _table(_totals(calls), "totals")
        + "".join(_conversation(n, turns, tz) for n, turns in enumerate(shown, 1))
        if calls
        else "<p>These flows hold no call that chat2responses rewrote.</p>"
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>chat2responses report</title><style>{STYLE}</style></head><body>"
        "<h1>chat2responses report</h1>"
        f'<p class="meta">{len(calls)} rewritten calls in {len(shown)} conversations, from '
        f"{escape(where)} · made {escape(generated.strftime('%Y-%m-%d %H:%M'))}</p>"
        f"{body}</body></html>\n"
    )
