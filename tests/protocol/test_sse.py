"""sse.py: literal framing cases, every split of recorded streams, limits, and the encoder.

The openai SDK's own SSE decoder is the oracle for streams whose events all carry data.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai._streaming import SSEDecoder as SDKDecoder

from chat2responses.protocol.errors import UpstreamProtocolError
from chat2responses.protocol.sse import DONE, SSEDecoder, SSEMessage, encode_data, encode_event

FIXTURES = sorted((Path(__file__).parents[1] / "fixtures").glob("*.sse"))
LINE_ENDS = {"lf": b"\n", "crlf": b"\r\n", "cr": b"\r"}


def decode(*feeds: bytes) -> list[SSEMessage]:
    decoder = SSEDecoder()
    out: list[SSEMessage] = []
    for data in feeds:
        out += decoder.feed(data)
    return out + decoder.finish()


def with_line_ends(raw: bytes, end: bytes) -> bytes:
    return raw.replace(b"\n", end)


def msg(data: str, event: str | None = None) -> SSEMessage:
    return SSEMessage(event, data)


CASES: list[tuple[str, bytes, list[SSEMessage]]] = [
    ("event and data", b"event: a\ndata: {}\n\n", [msg("{}", "a")]),
    ("data only", b"data: x\n\n", [msg("x")]),
    ("two events", b"data: 1\n\nevent: e\ndata: 2\n\n", [msg("1"), msg("2", "e")]),
    ("multi-line data joined with LF", b"data: a\ndata: b\ndata: c\n\n", [msg("a\nb\nc")]),
    ("no space after colon", b"data:x\n\n", [msg("x")]),
    ("only one space stripped", b"data:  x\n\n", [msg(" x")]),
    ("colon in the value", b"data: a: b\n\n", [msg("a: b")]),
    ("field without colon is an empty value", b"data\ndata: x\n\n", [msg("\nx")]),
    ("empty data", b"data:\n\n", [msg("")]),
    ("comment ignored", b": keepalive\n\ndata: x\n: mid\n\n", [msg("x")]),
    ("id and retry ignored", b"id: 7\nretry: 10\ndata: x\n\n", [msg("x")]),
    ("unknown field ignored", b"foo: bar\ndata: x\n\n", [msg("x")]),
    ("event without data is dropped", b"event: a\n\ndata: x\n\n", [msg("x")]),
    ("last event field wins", b"event: a\nevent: b\ndata: x\n\n", [msg("x", "b")]),
    ("empty event name", b"event:\ndata: x\n\n", [msg("x")]),
    ("data before event", b"data: x\nevent: a\n\n", [msg("x", "a")]),
    ("leading blank lines", b"\n\n\ndata: x\n\n", [msg("x")]),
    ("extra blank lines between", b"data: 1\n\n\n\n\ndata: 2\n\n", [msg("1"), msg("2")]),
    ("CRLF", b"event: a\r\ndata: x\r\n\r\n", [msg("x", "a")]),
    ("CR", b"event: a\rdata: x\r\r", [msg("x", "a")]),
    ("mixed line ends", b"data: 1\r\ndata: 2\rdata: 3\n\r\n", [msg("1\n2\n3")]),
    ("BOM at start stripped", b"\xef\xbb\xbfdata: x\n\n", [msg("x")]),
    ("BOM later is not stripped", b"data: \xef\xbb\xbfx\n\n", [msg("\ufeffx")]),
    ("UTF-8", "data: café ☕ 🗼\n\n".encode(), [msg("café ☕ 🗼")]),
    ("invalid UTF-8 replaced", b"data: \xff\n\n", [msg("\ufffd")]),
    ("unterminated last event dispatched", b"data: 1\n\ndata: 2", [msg("1"), msg("2")]),
    ("unterminated after one LF", b"event: a\ndata: 2\n", [msg("2", "a")]),
    ("DONE sentinel is plain data", b"data: [DONE]\n\n", [msg("[DONE]")]),
    ("empty stream", b"", []),
    ("only a comment", b": hi\n\n", []),
]


@pytest.mark.parametrize(("raw", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_literal_cases(raw: bytes, expected: list[SSEMessage]) -> None:
    assert decode(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_literal_cases_byte_by_byte(raw: bytes, expected: list[SSEMessage]) -> None:
    assert decode(*(raw[i : i + 1] for i in range(len(raw)))) == expected


def test_cr_then_lf_in_the_next_feed_is_one_line_end() -> None:
    assert decode(b"data: 1\r", b"\n", b"\r", b"\ndata: 2\n\n") == [msg("1"), msg("2")]


def test_split_bom_is_still_stripped() -> None:
    assert decode(b"\xef", b"\xbb", b"\xbfdata: x\n\n") == [msg("x")]


def test_a_feed_returns_only_completed_events() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"event: a\ndata: {") == []
    assert decoder.feed(b'"k": 1}\n') == []
    assert decoder.feed(b"\n") == [msg('{"k": 1}', "a")]
    assert decoder.finish() == []


def test_bytearray_and_memoryview_reads() -> None:
    raw = b"event: a\ndata: 1\n\nevent: a\ndata: 2\n\n"
    decoder = SSEDecoder()
    assert decoder.feed(bytearray(raw[:20])) + decoder.feed(memoryview(raw)[20:]) == [
        msg("1", "a"),
        msg("2", "a"),
    ]


def test_finish_resets_for_a_new_stream() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: 1\n\ndata: 2") == [msg("1")]
    assert decoder.finish() == [msg("2")]
    assert decoder.feed(b"\xef\xbb\xbfdata: 3\n\n") == [msg("3")]


# -- recorded streams, every split -----------------------------------------------------------


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_fixture_matches_the_sdk_decoder(path: Path) -> None:
    raw = path.read_bytes()
    ours = decode(raw)
    theirs = [SSEMessage(e.event, e.data) for e in SDKDecoder().iter_bytes(iter([raw]))]
    assert ours == theirs
    assert all(m.event is not None and m.data.startswith("{") for m in ours)


# CR-only streams are covered by the random multi-splits; CRLF is the case where a split can
# fall inside a line end.
@pytest.mark.parametrize("end", [b"\n", b"\r\n"], ids=["lf", "crlf"])
@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_fixture_at_every_single_split_point(path: Path, end: bytes) -> None:
    raw = with_line_ends(path.read_bytes(), end)
    whole = decode(raw)
    assert whole == decode(path.read_bytes())
    for cut in range(1, len(raw)):
        assert decode(raw[:cut], raw[cut:]) == whole, f"split at {cut}"


@st.composite
def split_fixture(draw: st.DrawFn) -> tuple[bytes, list[bytes]]:
    raw = draw(st.sampled_from([p.read_bytes() for p in FIXTURES]))
    raw = with_line_ends(raw, draw(st.sampled_from(list(LINE_ENDS.values()))))
    cuts = sorted(draw(st.sets(st.integers(0, len(raw)), max_size=40)))
    bounds = [0, *cuts, len(raw)]
    return raw, [raw[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=60, deadline=None)
@given(split_fixture())
def test_fixture_under_random_multi_splits(case: tuple[bytes, list[bytes]]) -> None:
    raw, pieces = case
    assert decode(*pieces) == decode(raw)


# Random streams built from field lines; the SDK decoder is the oracle. Every event carries a
# data line (the SDK, unlike WHATWG, also dispatches data-less events) and `id` is left out
# (the SDK keeps it across events and dispatches on it).
_VALUE = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n"))
_FIELD = st.one_of(
    _VALUE.map(lambda v: f"data: {v}"),
    _VALUE.map(lambda v: f"data:{v}"),
    st.just("data"),
    st.text("abc", min_size=1).map(lambda v: f"event: {v}"),
    _VALUE.map(lambda v: f":{v}"),
    st.just("retry: 5"),
    st.just("unknown: x"),
    st.just("nocolon"),
)
_EVENT = st.tuples(st.lists(_FIELD, max_size=4), _VALUE, st.lists(_FIELD, max_size=3)).map(
    lambda parts: [*parts[0], f"data: {parts[1]}", *parts[2]]
)


@st.composite
def field_stream(draw: st.DrawFn) -> tuple[bytes, list[bytes]]:
    chunks: list[str] = []
    for event in draw(st.lists(_EVENT, min_size=1, max_size=6)):
        blanks = draw(st.integers(1, 3))
        for line in [*event, *([""] * blanks)]:
            chunks.append(line + draw(st.sampled_from(["\n", "\r\n", "\r"])))
    raw = "".join(chunks).encode()
    cuts = sorted(draw(st.sets(st.integers(0, len(raw)), max_size=12)))
    bounds = [0, *cuts, len(raw)]
    return raw, [raw[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=80, deadline=None)
@given(field_stream())
def test_random_streams_match_the_sdk_decoder(case: tuple[bytes, list[bytes]]) -> None:
    raw, pieces = case
    decoder = SSEDecoder()
    ours = [m for piece in pieces for m in decoder.feed(piece)]  # terminated events only
    theirs = [SSEMessage(e.event or None, e.data) for e in SDKDecoder().iter_bytes(iter([raw]))]
    assert ours == theirs


# -- limits ----------------------------------------------------------------------------------


def test_an_event_at_the_limit_passes() -> None:
    event = b"data: " + b"x" * 94  # 100 bytes
    decoder = SSEDecoder(max_event_bytes=100)
    assert decoder.feed(event + b"\n\n") == [msg("x" * 94)]
    decoder = SSEDecoder(max_event_bytes=100)
    assert [m for i in range(0, 102, 7) for m in decoder.feed((event + b"\n\n")[i : i + 7])] == [
        msg("x" * 94)
    ]


@pytest.mark.parametrize("piece", [1, 7, 64, 1000])
def test_an_event_over_the_limit_raises_whatever_the_split(piece: int) -> None:
    raw = b"data: " + b"x" * 95 + b"\n\n"  # a 101-byte event
    decoder = SSEDecoder(max_event_bytes=100)
    with pytest.raises(UpstreamProtocolError, match="exceeds 100 bytes"):
        for i in range(0, len(raw), piece):
            decoder.feed(raw[i : i + piece])


def test_an_endless_line_is_refused_before_it_ends() -> None:
    decoder = SSEDecoder(max_event_bytes=1000)
    with pytest.raises(UpstreamProtocolError):
        for _ in range(100):
            decoder.feed(b"data: " + b"y" * 100)


def test_a_large_event_in_small_reads() -> None:
    payload = "z" * 300_000
    raw = encode_event("big", payload)
    decoder = SSEDecoder()
    out = [m for i in range(0, len(raw), 1024) for m in decoder.feed(raw[i : i + 1024])]
    assert out == [msg(payload, "big")]


# -- encoder ---------------------------------------------------------------------------------

ENCODED = [
    (encode_data('{"a":1}'), b'data: {"a":1}\n\n'),
    (encode_data("a\nb"), b"data: a\ndata: b\n\n"),
    (encode_data("a\r\nb\rc"), b"data: a\ndata: b\ndata: c\n\n"),
    (encode_data(""), b"data: \n\n"),
    (encode_data("é"), "data: é\n\n".encode()),
    (encode_event("response.created", "{}"), b"event: response.created\ndata: {}\n\n"),
    (encode_event("e", "1\n2"), b"event: e\ndata: 1\ndata: 2\n\n"),
    (DONE, b"data: [DONE]\n\n"),
]


@pytest.mark.parametrize(("got", "expected"), ENCODED)
def test_encoder(got: bytes, expected: bytes) -> None:
    assert got == expected


@pytest.mark.parametrize("payload", ["{}", "a\nb", "", " lead", "x\n\ny", "ü"])
def test_encode_then_decode_round_trips(payload: str) -> None:
    assert decode(encode_data(payload)) == [msg(payload)]
    assert decode(encode_event("e", payload)) == [msg(payload, "e")]


def test_event_names_with_line_breaks_are_refused() -> None:
    with pytest.raises(ValueError, match="line break"):
        encode_event("a\nb", "{}")
