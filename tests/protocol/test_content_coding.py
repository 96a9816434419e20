"""A request body's content-encoding undone (protocol/content_coding.py): every coding, stacked,
bounded, and a 400 or 413 for what cannot be had."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable

import brotli
import pytest
import zstandard
from hypothesis import given
from hypothesis import strategies as st

from chat2responses.protocol.content_coding import decode_content
from chat2responses.protocol.errors import ClientError

BODY = b'{"model": "gpt-5.5", "messages": [{"role": "user", "content": "hi"}]}'


def raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "x-gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": zstandard.ZstdCompressor().compress,
}


@pytest.mark.parametrize("coding", sorted(ENCODERS))
def test_each_coding_is_undone(coding: str) -> None:
    assert decode_content(ENCODERS[coding](BODY), coding, 1 << 20) == BODY
    assert decode_content(ENCODERS[coding](BODY), coding.upper(), 1 << 20) == BODY


def test_raw_deflate_several_gzip_members_and_zstd_frames_decode() -> None:
    assert decode_content(raw_deflate(BODY), "deflate", 1 << 20) == BODY
    assert decode_content(gzip.compress(b"ab") + gzip.compress(b"cd"), "gzip", 99) == b"abcd"
    zstd = zstandard.ZstdCompressor()
    assert decode_content(zstd.compress(b"ab") + zstd.compress(b"cd"), "zstd", 99) == b"abcd"


@given(codings=st.lists(st.sampled_from(sorted(ENCODERS)), min_size=0, max_size=3))
def test_stacked_codings_are_undone_last_applied_first(codings: list[str]) -> None:
    data = BODY
    for coding in codings:
        data = ENCODERS[coding](data)
    header = ", ".join(["identity", *codings])
    assert decode_content(data, header, 1 << 20) == BODY


@pytest.mark.parametrize("coding", sorted(ENCODERS))
def test_a_body_that_grows_past_the_limit_is_a_413_without_growing_past_it(coding: str) -> None:
    bomb = ENCODERS[coding](b"\0" * (8 << 20))  # 8 MB of zeros: a few KB compressed
    with pytest.raises(ClientError) as caught:
        decode_content(bomb, coding, 1 << 20)
    assert caught.value.status == 413 and "more than 1048576 bytes" in caught.value.message
    assert decode_content(ENCODERS[coding](b"\0" * 1000), coding, 1000) == b"\0" * 1000


@pytest.mark.parametrize(
    ("raw", "coding", "why"),
    [
        (b"not compressed", "gzip", "could not be decoded as content-encoding 'gzip'"),
        (gzip.compress(BODY)[:-12], "gzip", "ends early"),
        (zlib.compress(BODY) + b"junk", "deflate", "after the end"),
        (brotli.compress(BODY)[:-3], "br", "could not be decoded"),
        (b"\x28\xb5\x2f\xfd garbage", "zstd", "could not be decoded"),
        (BODY, "compress", "unknown content-encoding 'compress'"),
    ],
)
def test_what_does_not_decode_is_a_400_naming_the_coding(raw: bytes, coding: str, why: str) -> None:
    with pytest.raises(ClientError) as caught:
        decode_content(raw, coding, 1 << 20)
    assert caught.value.status == 400 and why in caught.value.message


def test_a_body_of_many_gzip_members_is_refused_after_max_members() -> None:
    from chat2responses.protocol.content_coding import MAX_MEMBERS

    hostile = gzip.compress(b"") * ((8 << 20) // 20)  # 8 MiB of empty members
    with pytest.raises(ClientError) as caught:
        decode_content(hostile, "gzip", 32 << 20)
    assert caught.value.status == 400 and f"more than {MAX_MEMBERS} gzip members" in str(
        caught.value.message
    )
    fine = b"".join(gzip.compress(bytes([65 + i % 26])) for i in range(MAX_MEMBERS))
    assert len(decode_content(fine, "gzip", 1 << 20)) == MAX_MEMBERS


def test_members_after_a_large_one_are_found_where_they_start() -> None:
    first = bytes(range(256)) * 400  # compresses poorly: the member spans many slices
    body = gzip.compress(first) + gzip.compress(b"tail") + gzip.compress(b"")
    assert decode_content(body, "gzip", 1 << 20) == first + b"tail"


@pytest.mark.parametrize("coding", sorted(ENCODERS))
def test_the_output_is_bounded_by_a_ratio_of_the_compressed_size(coding: str) -> None:
    from chat2responses.protocol.content_coding import MAX_RATIO, RATIO_FLOOR

    bomb = ENCODERS[coding](b"\0" * (30 << 20))  # under the body limit, but a bomb
    assert MAX_RATIO * len(bomb) < 30 << 20
    with pytest.raises(ClientError) as caught:
        decode_content(bomb, coding, 32 << 20)
    assert caught.value.status == 413
    limit = max(RATIO_FLOOR, MAX_RATIO * len(bomb))
    assert f"more than {limit} bytes" in caught.value.message


def test_needs_thread_only_for_a_large_encoded_body() -> None:
    from chat2responses.protocol.content_coding import OFF_LOOP_BYTES, needs_thread

    big = b"x" * (OFF_LOOP_BYTES + 1)
    assert needs_thread(big, "gzip") and needs_thread(big, "identity, br")
    assert not needs_thread(big, "") and not needs_thread(big, "identity")
    assert not needs_thread(b"x", "gzip") and not needs_thread(None, "gzip")
