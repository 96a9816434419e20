"""The report page and its charts: self-contained, escaped, bounded; a chart per measure."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

import pytest

from chat2responses.views.charts import MAX_BARS, Segment, axis, nice_step, stacked_bars
from chat2responses.views.report import render_report
from tests.records_helpers import record

SEGMENTS = (Segment("cached", "cached"), Segment("not cached", "uncached"))


@pytest.mark.parametrize(
    ("value", "step"),
    [(0, 1.0), (-3, 1.0), (math.nan, 1.0), (math.inf, 1.0), (0.3, 0.5), (1, 1.0), (1.2, 2.0),
     (2.1, 2.5), (3, 5.0), (7, 10.0), (512, 1000.0), (2400, 2500.0)],
)  # fmt: skip
def test_nice_step(value: float, step: float) -> None:
    assert nice_step(value) == step


@pytest.mark.parametrize(
    ("largest", "expected"), [(0, (1.0, 1)), (2369, (1000.0, 3)), (8, (2.0, 4)), (10, (2.5, 4))]
)
def test_axis(largest: float, expected: tuple[float, int]) -> None:
    assert axis(largest) == expected


def test_bars_stack_their_segments_and_the_marks_show() -> None:
    svg = stacked_bars("input", SEGMENTS, [(10, 0), (6, 4), (None, math.nan)], ["1", "2", "3"],
                       marked=[False, True, False])  # fmt: skip
    heights = [float(h) for h in re.findall(r'class="bar [^"]+"[^>]*height="([\d.]+)"', svg)]
    assert len(heights) == 3  # zero, None and NaN draw nothing
    assert heights[0] == pytest.approx(heights[1] + heights[2])  # 10 = 6 + 4
    assert svg.count(">miss<") == 1
    assert svg.startswith("<svg") and svg.endswith("</svg>")


def test_at_most_max_bars_the_last_ones() -> None:
    bars = [(float(i), 0.0) for i in range(MAX_BARS + 50)]
    svg = stacked_bars("many", SEGMENTS, bars, [str(i) for i in range(MAX_BARS + 50)])
    assert svg.count('class="bar ') == MAX_BARS  # bars 50 to 449
    assert "<title>49:" not in svg and f"<title>{MAX_BARS + 49}:" in svg


def test_text_is_escaped() -> None:
    svg = stacked_bars("<b>", (Segment("<i>", 'x" onload="y'),), [(1,)], ["<script>"])
    assert "<b>" not in svg and "<script>" not in svg and 'onload="y' not in svg


CONVERSATION = [
    record(id="a", turn=1, at=0.0, input_tokens=3000, cached_tokens=0, output_tokens=30,
           reasoning_tokens=10, first_token_ms=300.0, c2r_ms=2.0),
    record(id="b", turn=2, at=60.0, input_tokens=3200, cached_tokens=0, output_tokens=20,
           reasoning_tokens=0, first_token_ms=250.0, c2r_ms=1.0,
           miss=("instructions changed",), key="<key>"),
]  # fmt: skip


def test_the_page_holds_totals_charts_misses_and_turns() -> None:
    page = render_report(
        [CONVERSATION, [record(id="c", route="http", status=500, error="boom")]],
        sources=["flows"],
        generated=datetime(2026, 12, 7, tzinfo=UTC),
        tz=UTC,
    )
    assert page.startswith("<!DOCTYPE html>")
    assert "3 rewritten calls in 2 conversations, from flows" in page
    assert page.count('<svg class="chart"') == 6  # three per conversation
    assert page.count('<section class="conversation">') == 2
    assert "turn 2: cached 0 %, instructions changed" in page
    assert "6200 (0 cached, 0 %)" in page  # the first conversation's input
    assert "&lt;key&gt;" in page and "<key>" not in page
    assert not re.search(r"""(src|href)\s*=|@import|url\(""", page)  # nothing loaded


def test_a_page_of_no_calls_says_so() -> None:
    page = render_report([], sources=[], generated=datetime(2026, 1, 1, tzinfo=UTC))
    assert "hold no call that chat2responses rewrote" in page
