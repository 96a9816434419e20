"""What a call notices about its upstream answer that is not answer text: the service tier it
was served at, safety buffering, `response.metadata`.

The Codex backend answers a tier the account lacks silently at `service_tier: "auto"`; it
reports safety buffering as `x-codex-safety-buffering-*` headers (an HTTP answer's, a WebSocket
handshake's) and `response.metadata` events (`metadata.type: "safety_buffering"`, a
`retry_model`) (reference/codex-backend-2026.md §8). None of it is answer text: it goes to the
call's summary and comment, and a served tier other than the one asked for to the response
header `x-chat2responses-service-tier: asked=…; got=…`.

Rule 1: the served tier is the last `response.service_tier` seen (created, in_progress, then the
        terminal event); a downgrade is a specific tier asked for and another served.
Rule 2: bounded: at most MAX_METADATA metadata objects are kept, each as it came.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

TIER_HEADER = "x-chat2responses-service-tier"
SAFETY_PREFIX = "x-codex-safety-buffering-"
METADATA_EVENT = "response.metadata"
MAX_METADATA = 8
# Tiers that ask for nothing in particular: never a downgrade.
UNSPECIFIC_TIERS = frozenset({"auto", "default"})
_RESPONSE_EVENTS = frozenset(
    {
        "response.created",
        "response.in_progress",
        "response.queued",
        "response.completed",
        "response.incomplete",
        "response.done",
    }
)


@dataclass(slots=True)
class UpstreamNotes:
    asked_tier: str | None = None  # the tier sent upstream
    served_tier: str | None = None
    safety: dict[str, str] = field(default_factory=dict)  # header suffix → value
    metadata: list[dict[str, Any]] = field(default_factory=list)

    def headers(self, headers: Mapping[str, Any]) -> None:
        """An HTTP answer's or a WebSocket handshake's headers."""
        for name, value in headers.items():
            lower = str(name).lower()
            if lower.startswith(SAFETY_PREFIX):
                self.safety[lower.removeprefix(SAFETY_PREFIX)] = str(value)

    def event(self, event: Mapping[str, Any]) -> None:
        kind = event.get("type")
        if kind in _RESPONSE_EVENTS:
            response = event.get("response")
            tier = response.get("service_tier") if isinstance(response, dict) else None
            if isinstance(tier, str) and tier:
                self.served_tier = tier
        elif kind == METADATA_EVENT:
            metadata = event.get("metadata")
            if isinstance(metadata, dict) and len(self.metadata) < MAX_METADATA:
                self.metadata.append(metadata)

    @property
    def downgraded(self) -> bool:
        asked, served = self.asked_tier, self.served_tier
        return (
            asked is not None
            and asked not in UNSPECIFIC_TIERS
            and served is not None
            and served != asked
        )

    def answer_headers(self) -> dict[str, str]:
        """The client answer's extra headers: the tier header on a downgrade (rule 1)."""
        if not self.downgraded:
            return {}
        return {TIER_HEADER: f"asked={self.asked_tier}; got={self.served_tier}"}

    def text(self) -> str:
        """In words, for the summary line (empty when there is nothing to say)."""
        parts = []
        if self.downgraded:
            parts.append(f"service tier {self.asked_tier} asked, {self.served_tier} served")
        if self.safety or any(m.get("type") == "safety_buffering" for m in self.metadata):
            parts.append(self._safety_text())
        others = sorted({str(m.get("type")) for m in self.metadata} - {"safety_buffering"})
        if others:
            parts.append("response.metadata " + ", ".join(others))
        return " · ".join(parts)

    def _safety_text(self) -> str:
        faster = self.safety.get("faster-model")
        for metadata in self.metadata:
            retry = metadata.get("retry_model")
            if metadata.get("type") == "safety_buffering" and isinstance(retry, str):
                faster = faster or retry
        return "safety buffering" + (f" (faster model: {faster})" if faster else "")
