"""The Conversation view: one row per turn, numbers in full, the misses and errors below."""

from __future__ import annotations

from datetime import UTC

from chat2responses.views.conversation import render_conversation
from tests.records_helpers import record

ROWS = [
    record(id="a", turn=1, at=0.0, input_tokens=12345, cached_tokens=0, output_tokens=40,
           reasoning_tokens=10, request_bytes=20480, full_items=1, socket=3, socket_turn=1,
           first_token_ms=812.0, c2r_ms=1.4, upstream_ms=790.0, total_ms=1500.0,
           quota_used={"5 h": 3.0, "weekly": 20.0}),
    record(id="b", turn=2, at=61.0, input_tokens=12500, cached_tokens=12288, output_tokens=7,
           reasoning_tokens=0, request_bytes=600, continued=True, sent_items=2, full_items=3,
           socket=3, socket_turn=2, first_token_ms=120.0, total_ms=12_345.0),
    record(id="c", turn=3, at=3725.0, route="http", status=429, error="usage limit reached",
           error_code="usage_limit_reached", retries=2, miss=("instructions changed",)),
]  # fmt: skip


def test_a_row_per_turn_with_the_numbers_in_full() -> None:
    text = render_conversation(ROWS, "b", tz=UTC)
    lines = text.splitlines()
    assert lines[0].startswith("conversation c2r-key · 3 turns up to this call, turn 3")
    header = lines[1].split()
    assert header[:5] == ["turn", "time", "model", "route", "sent"]
    first, second, third = lines[2:5]
    assert (
        first.split()[:4]
        == [
            "1",
            "00:00:00",
            "gpt-5.5",
            "websocket",
        ][:4]
    )
    for cell in ("websocket #3·1", "full 1", "20.0", "12345", "40", "10", "0 %", "812.0 ms",
                 "1.4 ms", "790.0 ms", "1500.0 ms", "5 h 3 %, weekly 20 %"):  # fmt: skip
        assert cell in first, cell
    for cell in ("00:01:01", "#3·2", "continued 2 of 3", "0.6", "12500", "12288", "98 %",
                 "120.0 ms", "12.35 s"):  # fmt: skip
        assert cell in second, cell
    assert second.endswith("← this call")
    assert "01:02:05" in third and "usage_limit_reached" in third and " 2 " in third
    assert "why the cache fell short of the turn before:\n  turn 3: instructions changed" in text
    assert "errors:\n  turn 3: usage limit reached" in text


def test_kept_turns_and_no_turns() -> None:
    later = [record(id="z", turn=7, input_tokens=None)]
    text = render_conversation(later, "z", tz=UTC)
    assert "(turns before 7 are no longer kept)" in text
    assert "-" in text.splitlines()[2]  # no counts: a dash, not a crash
    assert "not part of a conversation" in render_conversation([], "z")
