"""The words of a call: the summary line (route first), the comment, the token text."""

from __future__ import annotations

import pytest

from chat2responses.call.report import continuation_text, details, share_text, summary, tokens_text
from tests.records_helpers import record

USAGE = {
    "prompt_tokens": 52,
    "completion_tokens": 41,
    "total_tokens": 93,
    "prompt_tokens_details": {"cached_tokens": 8},
    "completion_tokens_details": {"reasoning_tokens": 12},
}


def test_a_finished_call_reads_as_one_line_route_first() -> None:
    call = record(
        requested="gpt-5.5(high)",
        first_token_ms=12.4,
        total_ms=340.2,
        c2r_ms=1.24,
        upstream_ms=9.6,
        input_tokens=52,
        cached_tokens=8,
        output_tokens=41,
        reasoning_tokens=12,
        continued=True,
        sent_items=2,
        full_items=7,
        request_bytes=410,
        socket=3,
        socket_turn=2,
        dropped=("seed",),
        quota="quota 5 h 3 % (resets 14:05)",
    )
    assert summary(call) == (
        "websocket · 200 · first token 12.4 ms · cached 15 % · continued 2 of 7 items, 0.4 KB · "
        "gpt-5.5(high) → gpt-5.5 (catalog prefers it) · 340.2 ms (c2r 1.2 ms, upstream 9.6 ms) · "
        "tokens 52 in (8 cached) / 41 out (12 reasoning) · socket 3, turn 2 on it · "
        "quota 5 h 3 % (resets 14:05)"
    )
    assert details(call).endswith("\ndropped (no Responses counterpart): seed")
    assert ":" not in summary(call).split(" · ")[0]  # no emoji shortcode, no mark: a plain word


def test_a_miss_says_why_right_after_the_cached_share() -> None:
    call = record(
        route="http",
        input_tokens=2000,
        cached_tokens=0,
        output_tokens=5,
        miss=("instructions changed", "idle 400 s since the previous turn"),
    )
    parts = summary(call).split(" · ")
    assert parts[:3] == [
        "http",
        "200",
        "cached 0 % (missed: instructions changed; idle 400 s since the previous turn)",
    ]


def test_a_failed_call_without_an_answer_says_so() -> None:
    call = record(route="http", reason="learned", status=None, error="client left", total_ms=None)
    assert summary(call) == (
        "http · no answer · full · gpt-5.5 → gpt-5.5 (learned from the upstream) · "
        "error: client left"
    )


def test_an_unstable_models_summary_says_until_when() -> None:
    call = record(route="http", reason="unstable", reason_note="http until 14:05")
    assert "gpt-5.5 → gpt-5.5 (websocket unstable for this model: http until 14:05)" in summary(
        call
    )


def test_notes_and_removed_fields() -> None:
    call = record(notes="service tier ultrafast asked, auto served", removed=("temperature",),
                  quota="quota 5 h 1 %")  # fmt: skip
    assert summary(call).endswith(" · service tier ultrafast asked, auto served · quota 5 h 1 %")
    assert details(call).endswith("\nremoved (the upstream refuses them): temperature")


def test_the_attempts_follow_the_summary() -> None:
    call = record(
        attempts=("first over websocket: overloaded (503)", "retry over websocket: answered")
    )
    assert details(call).splitlines()[1] == (
        "attempts: first over websocket: overloaded (503); retry over websocket: answered"
    )


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({}, "full"),
        ({"replayed": 1}, "full, 1 reasoning item replayed"),
        ({"replayed": 3}, "full, 3 reasoning items replayed"),
        ({"continued": True, "sent_items": 1, "full_items": 9, "request_bytes": 2048}, "continued 1 of 9 items, 2.0 KB"),  # noqa: E501
        ({"continued": True, "sent_items": 1, "full_items": 9, "request_bytes": 410, "client_bytes": 12288}, "continued 1 of 9 items, 0.4 of 12.0 KB"),  # noqa: E501
    ],
)  # fmt: skip
def test_continuation_text(fields: dict[str, object], text: str) -> None:
    assert continuation_text(record(**fields)) == text


@pytest.mark.parametrize(
    ("share", "text"),
    [(0.0, "0 %"), (0.9149, "91 %"), (0.996, "99 %"), (1.0, "100 %"), (0.29, "29 %")],
)
def test_share_text_rounds_down(share: float, text: str) -> None:
    assert share_text(share) == text


RESPONSES_USAGE = {
    "input_tokens": 52,
    "input_tokens_details": {"cached_tokens": 8},
    "output_tokens": 41,
    "output_tokens_details": {"reasoning_tokens": 12},
    "total_tokens": 93,
}


@pytest.mark.parametrize(
    ("usage", "text"),
    [
        (None, ""),
        ({"prompt_tokens": 1}, ""),
        ({"prompt_tokens": 3, "completion_tokens": 4}, "tokens 3 in / 4 out"),
        ({"prompt_tokens": 3, "completion_tokens": 4, "prompt_tokens_details": "x"}, "tokens 3 in / 4 out"),  # noqa: E501
        (USAGE, "tokens 52 in (8 cached) / 41 out (12 reasoning)"),
        # A Responses usage object: a call on the Responses path.
        ({"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}, "tokens 3 in / 4 out"),
        ({"input_tokens": 3}, ""),
        (RESPONSES_USAGE, "tokens 52 in (8 cached) / 41 out (12 reasoning)"),
    ],
)  # fmt: skip
def test_tokens_text(usage: dict[str, object] | None, text: str) -> None:
    assert tokens_text(usage) == text
