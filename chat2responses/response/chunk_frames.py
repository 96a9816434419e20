"""Chat chunks → the SSE `data:` events a streaming client reads, encoded once.

Owns: the bytes of each chunk. Must not: decide what a chunk holds (chunks.py, translate.py).
"""

from __future__ import annotations

from typing import Any

from chat2responses.protocol.wire import dumps, utf8


class ChunkFrames:
    """Chunks as SSE `data:` events. JSON text never holds a raw line break (json escapes it),
    so each is one `data:` line: no scan for line breaks is needed (sse.encode_data's rule 3).

    A chunk that carries only text, nearly every chunk of a long answer, is framed from a head
    and a tail cut once per stream from the first such chunk's own encoding: only its text is
    encoded, and the bytes are those `dumps` gives. This holds because every chunk of one stream
    is a copy of one template (chunks.ChunkWriter); a chunk of any other shape, or with other
    fields, is encoded whole."""

    __slots__ = ("_fields", "_head", "_tail")

    _PROBE = "\x00text\x00"

    def __init__(self) -> None:
        self._fields = -1  # how many fields the probed chunk had
        self._head = self._tail = b""

    def __call__(self, chunks: list[Any]) -> bytes:
        if len(chunks) == 1:
            return self._one(chunks[0])
        return b"".join([self._one(chunk) for chunk in chunks])

    def _one(self, chunk: Any) -> bytes:
        text = _text_only(chunk)
        if text is None:
            return _whole(chunk)
        if self._fields < 0:
            return self._probe(chunk, text)
        if len(chunk) != self._fields:
            return _whole(chunk)
        return self._head + utf8(dumps(text)) + self._tail

    def _probe(self, chunk: Any, text: str) -> bytes:
        """Cut the head and tail from this chunk's encoding with a marker for its text (the
        last occurrence: the text comes after every other string of the chunk, even a model
        name that happens to hold the marker); kept only if they rebuild this very chunk."""
        choice = {**chunk["choices"][0], "delta": {"content": self._PROBE}}
        probe = f"data: {dumps({**chunk, 'choices': [choice]})}\n\n"
        head, _, tail = probe.rpartition(dumps(self._PROBE))
        whole = _whole(chunk)
        if utf8(head + dumps(text) + tail) == whole:
            self._fields, self._head, self._tail = len(chunk), utf8(head), utf8(tail)
        else:
            self._fields = 0  # no chunk has no fields: every one is encoded whole
        return whole


def _whole(chunk: Any) -> bytes:
    return b"data: " + utf8(dumps(chunk)) + b"\n\n"


def _text_only(chunk: Any) -> str | None:
    """The text of a chunk whose only content is one choice's `delta.content`, else None."""
    choices = chunk.get("choices")
    if not choices or len(choices) != 1 or chunk.get("usage") is not None:
        return None
    choice = choices[0]
    if (
        len(choice) != 4
        or choice.get("index") != 0
        or choice.get("finish_reason") is not None
        or choice.get("logprobs", 0) is not None
    ):
        return None
    delta = choice.get("delta")
    if type(delta) is not dict or len(delta) != 1:
        return None
    text = delta.get("content")
    return text if type(text) is str else None
