"""The latency model: how long the emulated backend stays silent before a response's first event.

- Rule 1: `rtt_ms` is added once per HTTP request, once per WebSocket handshake (websocket.py
  waits it before the 101) and once per `response.create`.
- Rule 2: before the first event (or the refusal) of a response come, added together: the RTT
  of Rule 1, the upload (request bytes ÷ `upload_kbps`, kilobits of 1000 bits per second; 0
  means unlimited), and the prefill (`prefill_us_per_token` per uncached input token plus
  `prefill_us_per_cached_token` per cached one; tokens as tokens.py counts them).
- Every figure defaults to 0: no delay at all, and no `Sleep` step.

Pure: it computes seconds; the front ends sleep.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Latency:
    rtt_ms: float = 0.0
    upload_kbps: float = 0.0
    prefill_us_per_token: float = 0.0
    prefill_us_per_cached_token: float = 0.0

    @property
    def rtt(self) -> float:
        """Rule 1, in seconds."""
        return self.rtt_ms / 1000

    def before_first_event(
        self, *, request_bytes: int, input_tokens: int, cached_tokens: int
    ) -> float:
        """Rule 2, in seconds."""
        upload = request_bytes * 8 / (self.upload_kbps * 1000) if self.upload_kbps > 0 else 0.0
        uncached = max(0, input_tokens - cached_tokens)
        prefill_us = (
            uncached * self.prefill_us_per_token + cached_tokens * self.prefill_us_per_cached_token
        )
        return self.rtt + upload + prefill_us / 1_000_000

    def describe(self) -> str:
        """The one line `python -m chat2responses.emulator` prints at start."""
        upload = f"{self.upload_kbps:g} kbit/s" if self.upload_kbps > 0 else "unlimited"
        return (
            f"emulator: latency rtt={self.rtt_ms:g} ms upload={upload} "
            f"prefill={self.prefill_us_per_token:g} us/token "
            f"cached={self.prefill_us_per_cached_token:g} us/token"
        )
