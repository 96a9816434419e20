"""Bar charts as inline SVG: the report's pictures (views/report.py), with no script and no
download, so the page works offline and opens from a file.

Owns `stacked_bars`: one bar per turn, each split into stacked segments (cached and uncached
input, say), a y axis with round gridlines, the turns along the x axis, and a mark over the bars
the caller flags (a cache miss). Every value is checked (no negative, no NaN) and every text is
escaped. Must not hold a size beyond its bounds: at most MAX_BARS bars (the last ones), each at
least MIN_BAR_WIDTH pixels wide. Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

MAX_BARS = 400
MIN_BAR_WIDTH = 3
MIN_WIDTH, MAX_WIDTH = 360, 1200  # px
HEIGHT = 220
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 44, 28  # margins, px: the title and legend above


@dataclass(frozen=True, slots=True)
class Segment:
    """One part of every bar: its name (the legend) and its CSS class (its colour)."""

    name: str
    css: str


def nice_step(value: float) -> float:
    """The smallest of 1, 2, 2.5 or 5 times 10^k at or above `value` (1 for nothing)."""
    if not math.isfinite(value) or value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value * (1 - 1e-12):
            return float(step * power)
    return float(10 * power)


def axis(largest: float) -> tuple[float, int]:
    """A round step and how many of them (at most four) reach `largest`."""
    step = nice_step(largest / 4)
    return step, max(1, math.ceil(largest / step - 1e-9))


def _number(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:g} M"
    if value >= 10_000:
        return f"{value / 1000:g} k"
    return f"{value:g}"


def _clean(value: float | None) -> float:
    return value if value is not None and math.isfinite(value) and value > 0 else 0.0


def stacked_bars(
    title: str,
    segments: Sequence[Segment],
    bars: Sequence[Sequence[float | None]],
    labels: Sequence[str],
    *,
    unit: str = "",
    marked: Sequence[bool] = (),
    width: int | None = None,
) -> str:
    """An SVG chart: `bars[i][j]` is segment j of bar i, stacked bottom up. Its width: `width`,
    or what its bars need (between MIN_WIDTH and MAX_WIDTH)."""
    bars, labels = list(bars)[-MAX_BARS:], list(labels)[-MAX_BARS:]
    marked = list(marked)[-MAX_BARS:] if marked else [False] * len(bars)
    count = max(1, len(bars))
    if width is None:
        width = min(MAX_WIDTH, max(MIN_WIDTH, LEFT + RIGHT + 40 * count))
    width = max(width, LEFT + RIGHT + count * MIN_BAR_WIDTH * 3 // 2)
    plot_w, plot_h = width - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step, steps = axis(max((sum(_clean(v) for v in bar) for bar in bars), default=0.0))
    top = step * steps
    slot = plot_w / count
    bar_w = max(MIN_BAR_WIDTH, slot * 0.7)
    out = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{HEIGHT}" viewBox="0 0 {width} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}">',
        f'<text class="title" x="{LEFT}" y="14">{escape(title)}</text>',
    ]
    for line in range(steps + 1):  # a gridline at each round step
        value = step * line
        y = TOP + plot_h - plot_h * line / steps
        out.append(
            f'<line class="grid" x1="{LEFT}" x2="{width - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        out.append(
            f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(_number(value))}{escape(unit)}</text>"
        )
    every = max(1, math.ceil(count / 30))  # at most about 30 labels along the x axis
    for index, bar in enumerate(bars):
        x = LEFT + slot * index + (slot - bar_w) / 2
        base = float(TOP + plot_h)
        for segment, part in zip(segments, bar, strict=False):
            amount = _clean(part)
            height = plot_h * amount / top
            if height <= 0:
                continue
            base -= height
            out.append(
                f'<rect class="bar {escape(segment.css)}" x="{x:.1f}" y="{base:.1f}" '
                f'width="{bar_w:.1f}" height="{height:.1f}">'
                f"<title>{escape(labels[index] if index < len(labels) else '')}: "
                f"{escape(segment.name)} {amount:g}{escape(unit)}</title></rect>"
            )
        if index < len(marked) and marked[index]:
            out.append(
                f'<text class="mark" x="{x + bar_w / 2:.1f}" y="{max(base - 3, TOP):.1f}" '
                'text-anchor="middle">miss</text>'
            )
        if index % every == 0 and index < len(labels):
            out.append(
                f'<text class="axis" x="{x + bar_w / 2:.1f}" y="{HEIGHT - BOTTOM + 14}" '
                f'text-anchor="middle">{escape(labels[index])}</text>'
            )
    legend_x = LEFT  # under the title, at about 6 px a character
    for segment in segments:
        out.append(
            f'<rect class="{escape(segment.css)}" x="{legend_x}" y="21" width="10" height="10"/>'
            f'<text class="legend" x="{legend_x + 14}" y="30">{escape(segment.name)}</text>'
        )
        legend_x += 26 + len(segment.name) * 6
    out.append("</svg>")
    return "".join(out)
