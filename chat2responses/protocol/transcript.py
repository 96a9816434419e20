"""Bytes kept for display, bounded: what mitmweb shows of a call's traffic, never more than
DISPLAY_LIMIT per side. The client always gets everything; only the copy is cut.

Pure: no I/O.
"""

from __future__ import annotations

DISPLAY_LIMIT = 2 * 1024 * 1024  # bytes of each side kept for mitmweb; the client gets all


class Transcript:
    """Bytes kept for display, bounded: a huge stream is truncated here, never for the client."""

    __slots__ = ("limit", "parts", "size", "truncated")

    def __init__(self, limit: int = DISPLAY_LIMIT) -> None:
        self.limit = limit
        self.parts: list[bytes] = []
        self.size = 0
        self.truncated = False

    def add(self, data: bytes) -> None:
        room = self.limit - self.size
        if len(data) > room:
            self.truncated = True
            data = data[: max(room, 0)]
        if data:
            self.parts.append(data)
            self.size += len(data)

    def value(self) -> bytes:
        note = b"\n: chat2responses: truncated for display\n\n" if self.truncated else b""
        return b"".join(self.parts) + note
