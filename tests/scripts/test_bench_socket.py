"""The long-stream benchmark's client (scripts/bench_socket.py): a chunked body decoded whole
however it is cut, the end of a stream told from a cut one, and the first byte timed at its
arrival, not at the answer's head."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scripts.bench_socket import StreamClient, _Chunked, _ended

HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"


def chunked(*parts: bytes) -> bytes:
    return b"".join(b"%x\r\n%b\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


@given(
    parts=st.lists(st.binary(min_size=1, max_size=40), max_size=6),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=8),
)
def test_a_chunked_body_decodes_whole_however_the_reads_cut_it(
    parts: list[bytes], cuts: list[int]
) -> None:
    raw = chunked(*parts)
    decoder = _Chunked()
    start = 0
    for cut in sorted({min(c, len(raw)) for c in cuts} | {len(raw)}):
        assert not decoder.done
        decoder.feed(raw[start:cut])
        start = cut
    assert decoder.done
    assert decoder.body() == b"".join(parts)


def test_the_body_is_not_done_before_the_last_chunks_empty_line() -> None:
    decoder = _Chunked()
    decoder.feed(b"3\r\nabc\r\n0\r\n")
    assert not decoder.done  # its CRLF would otherwise begin the next answer on the socket
    decoder.feed(b"\r\n")
    assert decoder.done


@pytest.mark.parametrize(
    ("body", "ended"),
    [
        (b'data: {"a":1}\n\ndata: [DONE]\n\n', True),
        (b"event: response.created\ndata: {}\n\nevent: response.completed\ndata: {}\n\n", True),
        (b"event: response.completed\ndata: {}\n\nevent: response.failed\ndata: {}\n\n", False),
        (b'data: {"a":1}\n\n', False),
        (b"", False),
    ],
)
def test_a_stream_ends_with_done_or_response_completed_last(body: bytes, ended: bool) -> None:
    assert _ended(body) is ended


@contextmanager
def server(answer: list[tuple[float, bytes]], answers: int = 1) -> Iterator[int]:
    """A one-connection HTTP server on 127.0.0.1: for each request, `answer`'s pieces, each
    after its pause."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            for _ in range(answers):
                request = b""
                while b"\r\n\r\n" not in request:
                    request += conn.recv(65536)
                head, _, body = request.partition(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                while len(body) < length:
                    body += conn.recv(65536)
                for pause, data in answer:
                    time.sleep(pause)
                    conn.sendall(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        thread.join(timeout=5)


def test_the_first_byte_is_the_bodys_not_the_heads_and_the_connection_is_kept() -> None:
    body = chunked(b"data: [DONE]\n\n")
    with server([(0.0, HEAD), (0.15, body)], answers=2) as port:
        client = StreamClient()
        try:
            for _ in range(2):  # the second answer on the same connection reads clean
                arrived, read, whole = client.post(f"http://127.0.0.1:{port}/x", {"q": 1})
                assert 150 <= arrived <= read <= whole
        finally:
            client.close()


def test_an_error_status_or_a_cut_stream_raises() -> None:
    error = b"HTTP/1.1 500 Internal Server Error\r\ntransfer-encoding: chunked\r\n\r\n"
    cut = HEAD + chunked(b'data: {"a":1}\n\n')
    for answer, why in ((error + chunked(b'{"error": {}}'), "HTTP 500"), (cut, "did not end")):
        with server([(0.0, answer)]) as port, pytest.raises(RuntimeError, match=why):
            StreamClient().post(f"http://127.0.0.1:{port}/x", {})
