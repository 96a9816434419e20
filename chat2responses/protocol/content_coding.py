"""A request body's `content-encoding` undone, with a bound on what it may grow to.

Rule 1: the codings are undone last applied first (`gzip, br` was gzipped, then brotli'd);
        `identity` and empty entries are no coding.
Rule 2: decoding stops as soon as the output passes `limit`, with a 413: a small compressed body
        must not take the proxy's memory, or its event loop for seconds (a 2 MB gzip body
        inflates to 2 GB).
Rule 3: gzip (`x-gzip`; several members), deflate (zlib-wrapped, or raw as some clients send
        it), br and zstd (several frames). Any other coding, or a body that does not decode or
        ends early, is a 400 naming the coding.
Rule 4: linear in the compressed and the decoded size: the input is fed in slices of a
        memoryview (never re-copied per gzip member), at most MAX_MEMBERS gzip members, and the
        output may grow to at most MAX_RATIO times the compressed size (above RATIO_FLOOR): a
        body of a million empty members or a deflate bomb is refused in bounded time.
Rule 5: `needs_thread` says when decoding is worth taking off the event loop (the glue does).

Pure: no I/O.
"""

from __future__ import annotations

import io
import zlib

import brotli  # type: ignore[import-untyped]
import zstandard

from chat2responses.protocol.body import too_large
from chat2responses.protocol.errors import ClientError

MAX_MEMBERS = 1000  # gzip members in one body (real clients send one)
MAX_RATIO = 200  # decoded bytes per compressed byte (JSON compresses 5-20 times)
RATIO_FLOOR = 1 << 20  # a small body may always decode to this much
OFF_LOOP_BYTES = 64 * 1024  # an encoded body larger than this is decoded in a thread
_SLICE = 16 * 1024  # compressed bytes fed to zlib at a time (rule 4)


def needs_thread(raw: bytes | None, encoding: str) -> bool:
    """Whether decoding `raw` may take long enough to keep it off the event loop (rule 5)."""
    return raw is not None and len(raw) > OFF_LOOP_BYTES and _codings(encoding) != []


def decode_content(raw: bytes, encoding: str, limit: int) -> bytes:
    """`raw` with `encoding` (the header's value) undone; a ClientError when it cannot be, or
    when the result would pass `limit` bytes, or MAX_RATIO times `raw`'s size (413)."""
    codings = _codings(encoding)
    if codings:
        limit = min(limit, max(RATIO_FLOOR, MAX_RATIO * len(raw)))
    data = raw
    for coding in reversed(codings):
        decoder = _DECODERS.get(coding)
        if decoder is None:
            raise _undecodable(encoding, f"unknown content-encoding {coding!r}")
        try:
            data = decoder(data, limit)
        except (zlib.error, brotli.error, zstandard.ZstdError, _Truncated) as exc:
            raise _undecodable(encoding, str(exc) or type(exc).__name__) from None
    return data


def _codings(encoding: str) -> list[str]:
    return [c for c in (c.strip().lower() for c in encoding.split(",")) if c and c != "identity"]


class _Truncated(Exception):
    pass


def _gzip(data: bytes, limit: int) -> bytes:
    out, view, at = bytearray(), memoryview(data), 0
    for _ in range(MAX_MEMBERS):
        at = _inflate(zlib.decompressobj(16 + zlib.MAX_WBITS), view, at, out, limit)
        if at == len(view):
            return bytes(out)
        # another member follows
    raise _Truncated(f"more than {MAX_MEMBERS} gzip members")


def _deflate(data: bytes, limit: int) -> bytes:
    out, view = bytearray(), memoryview(data)
    try:
        at = _inflate(zlib.decompressobj(zlib.MAX_WBITS), view, 0, out, limit)
    except zlib.error:
        out.clear()
        at = _inflate(zlib.decompressobj(-zlib.MAX_WBITS), view, 0, out, limit)
    if at != len(view):
        raise _Truncated("data after the end of the deflate stream")
    return bytes(out)


def _inflate(
    decoder: zlib._Decompress, view: memoryview, at: int, out: bytearray, limit: int
) -> int:
    """Inflate the one stream that starts at `view[at]` into `out`, at most `limit` bytes in
    all; returns where the stream ended. Fed a slice at a time, so what follows a stream is never
    copied whole (rule 4)."""
    while at < len(view):
        piece = view[at : at + _SLICE]
        pending: bytes | memoryview = piece
        while True:
            out += decoder.decompress(pending, limit + 1 - len(out))
            if len(out) > limit:
                raise too_large(f"decodes to more than {limit} bytes", limit)
            if decoder.eof:
                return at + len(piece) - len(decoder.unused_data)
            if not decoder.unconsumed_tail:
                break
            pending = decoder.unconsumed_tail
        at += len(piece)
    raise _Truncated("the compressed body ends early")


def _brotli(data: bytes, limit: int) -> bytes:
    decoder = brotli.Decompressor()
    out: bytes = decoder.process(data, output_buffer_limit=limit + 1)
    if len(out) > limit:
        raise too_large(f"decodes to more than {limit} bytes", limit)
    if not decoder.is_finished():
        raise _Truncated("the compressed body ends early")
    return out


def _zstd(data: bytes, limit: int) -> bytes:
    reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True)
    out = reader.read(limit + 1)
    if len(out) > limit:
        raise too_large(f"decodes to more than {limit} bytes", limit)
    return out


_DECODERS = {
    "gzip": _gzip,
    "x-gzip": _gzip,
    "deflate": _deflate,
    "br": _brotli,
    "zstd": _zstd,
}


def _undecodable(encoding: str, why: str) -> ClientError:
    return ClientError(
        f"The request body could not be decoded as content-encoding {encoding!r} ({why}).",
        code="invalid_encoding",
    )
