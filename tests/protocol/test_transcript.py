"""What is kept for display: bounded, and it says so."""

from __future__ import annotations

from chat2responses.protocol.transcript import Transcript


def test_a_transcript_is_bounded_and_says_so() -> None:
    transcript = Transcript(limit=10)
    transcript.add(b"0123456789abcdef")
    transcript.add(b"more")
    assert transcript.value().startswith(b"0123456789\n: chat2responses: truncated for display")
    assert transcript.size == 10
