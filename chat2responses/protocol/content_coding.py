"""A request body's `content-encoding` undone, with a bound on what it may grow to.

Rule 1: the codings are undone last applied first (`gzip, br` was gzipped, then brotli'd);
        `identity` and empty entries are no coding.
Rule 2: decoding stops as soon as the output passes `limit`, with a 413: a small compressed body
        must not take the proxy's memory, or its event loop for seconds (a 2 MB gzip body
        inflates to 2 GB).
Rule 3: gzip (`x-gzip`; several members), deflate (zlib-wrapped, or raw as some clients send
        it), br and zstd (several frames). Any other coding, or a body that does not decode or
        ends early, is a 400 naming the coding.

Pure: no I/O.
"""

from __future__ import annotations

import io
import zlib

import brotli  # type: ignore[import-untyped]
import zstandard

from chat2responses.protocol.body import too_large
from chat2responses.protocol.errors import ClientError


def decode_content(raw: bytes, encoding: str, limit: int) -> bytes:
    """`raw` with `encoding` (the header's value) undone; a ClientError when it cannot be, or
    when the result would pass `limit` bytes (413)."""
    codings = [c.strip().lower() for c in encoding.split(",")]
    data = raw
    for coding in reversed([c for c in codings if c and c != "identity"]):
        decoder = _DECODERS.get(coding)
        if decoder is None:
            raise _undecodable(encoding, f"unknown content-encoding {coding!r}")
        try:
            data = decoder(data, limit)
        except (zlib.error, brotli.error, zstandard.ZstdError, _Truncated) as exc:
            raise _undecodable(encoding, str(exc) or type(exc).__name__) from None
    return data


class _Truncated(Exception):
    pass


def _gzip(data: bytes, limit: int) -> bytes:
    out = bytearray()
    while True:
        rest = _inflate(zlib.decompressobj(16 + zlib.MAX_WBITS), data, out, limit)
        if not rest:
            return bytes(out)
        data = rest  # another member follows


def _deflate(data: bytes, limit: int) -> bytes:
    out = bytearray()
    try:
        rest = _inflate(zlib.decompressobj(zlib.MAX_WBITS), data, out, limit)
    except zlib.error:
        out.clear()
        rest = _inflate(zlib.decompressobj(-zlib.MAX_WBITS), data, out, limit)
    if rest:
        raise _Truncated("data after the end of the deflate stream")
    return bytes(out)


def _inflate(decoder: zlib._Decompress, data: bytes, out: bytearray, limit: int) -> bytes:
    """Inflate one stream of `data` into `out`, at most `limit` bytes in all; what follows it."""
    while True:
        out += decoder.decompress(data, limit + 1 - len(out))
        if len(out) > limit:
            raise too_large(f"decodes to more than {limit} bytes", limit)
        if decoder.eof:
            return decoder.unused_data
        data = decoder.unconsumed_tail
        if not data:
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
