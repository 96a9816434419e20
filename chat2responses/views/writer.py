"""The output bound of every view (rule 3 of the package): each text block is clipped to
MAX_BLOCK_CHARS and the whole view to MAX_OUTPUT_CHARS, saying what was left out.

Owns the `Writer` the views add their lines to, and `clip`. Must not read or parse a body.
Pure: no I/O.
"""

from __future__ import annotations

MAX_OUTPUT_CHARS = 1 << 20
MAX_BLOCK_CHARS = 1 << 18


def clip(text: str, limit: int = MAX_BLOCK_CHARS) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n… {len(text) - limit} more characters not shown"


class Writer:
    """Collects the view's lines up to MAX_OUTPUT_CHARS; past it, drops the rest and says so."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._left = MAX_OUTPUT_CHARS
        self._full = False

    def add(self, *lines: str) -> None:
        for line in lines:
            if self._left <= 0:
                self._full = True
                return
            kept = line[: self._left]
            if len(kept) < len(line):
                self._full = True
            self._lines.append(kept)
            self._left -= len(kept) + 1

    def section(self, title: str, body: str) -> None:
        self.add(f"── {title} ──", clip(body))

    def text(self) -> str:
        if self._full:
            self._lines.append(f"… truncated: the view is capped at {MAX_OUTPUT_CHARS} characters")
        # JSON may carry lone surrogates ("\ud800"): make the text encodable.
        return "\n".join(self._lines).encode("utf-8", "replace").decode("utf-8")
