"""What one call reads about its account's quota, kept in the process's `QuotaBook`.

The driver shows every quota source of one call to its `QuotaTap`: the headers of an HTTP answer
or a WebSocket handshake, the `codex.rate_limits` event, the `headers` of an error frame. The tap
keeps the book up to date for the account (a digest, never the credential), collects the
warnings of a window passing 90 %, and turns a `usage_limit_reached` error into the 429 that
says which window ran out and when it resets. The same headers and events go to the call's
`UpstreamNotes` (notes.py: the served tier, safety buffering), when it has one. The events go on
to the sink as they came: a Codex client reads `codex.rate_limits` itself, the others' sinks
leave it out (responses_sinks.py).

Pure: the clock is injected; no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chat2responses.protocol.errors import UpstreamError
from chat2responses.upstream.notes import UpstreamNotes
from chat2responses.upstream.quota import (
    snapshot_from_error_frame,
    snapshot_from_event,
    snapshot_from_headers,
)
from chat2responses.upstream.quota_book import QuotaBook
from chat2responses.upstream.quota_limit import usage_limit_error

RATE_LIMITS_EVENT = "codex.rate_limits"


@dataclass(slots=True)
class QuotaTap:
    book: QuotaBook
    account: str
    clock: Callable[[], datetime]
    warnings: list[str] = field(default_factory=list)  # for the log, in order
    notes: UpstreamNotes | None = None  # what else the call notices (tier, safety buffering)

    def headers(self, headers: Mapping[str, Any]) -> None:
        self._keep(snapshot_from_headers(headers, self.clock()))
        if self.notes is not None:
            self.notes.headers(headers)

    def event(self, event: Mapping[str, Any]) -> None:
        """Read `event` (it goes on to the sink all the same)."""
        kind = event.get("type")
        if kind == RATE_LIMITS_EVENT:
            self._keep(snapshot_from_event(event, self.clock()))
        elif kind == "error" and isinstance(event.get("headers"), dict):
            self._keep(snapshot_from_error_frame(event, self.clock()))
        if self.notes is not None:
            self.notes.event(event)

    def usage_limit(self, err: UpstreamError) -> UpstreamError:
        """`err` itself, or the 429 a `usage_limit_reached` answer stands for."""
        if err.status != 429 and err.code != "usage_limit_reached":
            return err
        better = usage_limit_error(err.payload, self.book.get(self.account), self.clock())
        return better if better is not None else err

    def text(self) -> str:
        return self.book.text(self.account, self.clock())

    def _keep(self, snapshot: Any) -> None:
        if snapshot is not None:
            self.warnings += self.book.update(self.account, snapshot)
