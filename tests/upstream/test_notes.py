"""notes: the served tier, safety buffering and `response.metadata`, never answer text."""

from __future__ import annotations

import pytest

from chat2responses.upstream.notes import MAX_METADATA, TIER_HEADER, UpstreamNotes


def response_event(kind: str, tier: str | None) -> dict[str, object]:
    return {"type": kind, "response": {"id": "resp_1", "service_tier": tier}}


@pytest.mark.parametrize(
    ("asked", "served", "header"),
    [
        ("priority", "auto", "asked=priority; got=auto"),
        ("ultrafast", "default", "asked=ultrafast; got=default"),
        ("priority", "priority", None),
        (None, "auto", None),
        ("auto", "default", None),
        ("default", "priority", None),
        ("flex", None, None),
    ],
)
def test_a_downgrade_is_a_header_and_words(
    asked: str | None, served: str | None, header: str | None
) -> None:
    notes = UpstreamNotes(asked_tier=asked)
    notes.event(response_event("response.created", "default" if served else None))
    notes.event(response_event("response.completed", served))
    assert notes.answer_headers() == ({TIER_HEADER: header} if header else {})
    words = f"service tier {asked} asked, {served} served"
    assert (words in notes.text()) is (header is not None)


def test_the_last_tier_seen_is_the_served_one() -> None:
    notes = UpstreamNotes(asked_tier="priority")
    for kind, tier in [("response.created", "priority"), ("response.in_progress", "auto")]:
        notes.event(response_event(kind, tier))
    notes.event({"type": "response.output_text.delta", "delta": "hi"})  # no response: ignored
    assert notes.served_tier == "auto"


def test_safety_buffering_from_headers_and_metadata() -> None:
    notes = UpstreamNotes()
    notes.headers(
        {
            "X-Codex-Safety-Buffering-Enabled": "true",
            "x-codex-safety-buffering-faster-model": "gpt-5.6-luna",
            "content-type": "text/event-stream",
        }
    )
    assert notes.safety == {"enabled": "true", "faster-model": "gpt-5.6-luna"}
    assert notes.text() == "safety buffering (faster model: gpt-5.6-luna)"
    events_only = UpstreamNotes()
    events_only.event(
        {"type": "response.metadata", "metadata": {"type": "safety_buffering", "retry_model": "m"}}
    )
    events_only.event({"type": "response.metadata", "metadata": {"type": "model_reroute"}})
    assert events_only.text() == (
        "safety buffering (faster model: m) · response.metadata model_reroute"
    )
    assert UpstreamNotes().text() == ""


def test_metadata_is_bounded() -> None:
    notes = UpstreamNotes()
    for _ in range(MAX_METADATA + 5):
        notes.event({"type": "response.metadata", "metadata": {"type": "x"}})
    notes.event({"type": "response.metadata", "metadata": "not an object"})
    assert len(notes.metadata) == MAX_METADATA
