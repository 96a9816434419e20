"""A client's Responses WebSocket frames (protocol/client_frames.py), as a table."""

from __future__ import annotations

import json

import pytest

from chat2responses.protocol.client_frames import (
    Acknowledged,
    Create,
    error_frame,
    error_frame_text,
    read_frame,
)
from chat2responses.protocol.errors import ClientError, UpstreamError

CREATE = '{"type": "response.create", "model": "gpt-5.5", "input": "hi"}'


def test_a_create_frame_is_its_body_without_the_type() -> None:
    frame = read_frame(CREATE)
    assert frame == Create({"model": "gpt-5.5", "input": "hi"}, CREATE.encode())


def test_an_acknowledgement_needs_no_answer() -> None:
    assert read_frame('{"type": "response.processed", "response_id": "r"}') == Acknowledged()


@pytest.mark.parametrize(
    ("data", "code", "param", "words"),
    [
        (b"\x00\x01", None, "type", "Binary frames are not supported"),
        ("not json", None, None, "not valid JSON"),
        ("[1, 2]", "invalid_type", "body", "JSON object"),
        ('{"type": "response.cancel"}', "invalid_value", "type", "'response.cancel'"),
        ('{"model": "gpt-5.5"}', "invalid_value", "type", "'None'"),
        ('{"type": "response.create", "n": NaN}', None, None, "NaN"),
        ('{"type": "response.create", "x": "\\ud800"}', "invalid_value", "x", "surrogate"),
    ],
)
def test_a_frame_that_cannot_be_served_is_a_400(
    data: str | bytes, code: str | None, param: str | None, words: str
) -> None:
    with pytest.raises(ClientError) as caught:
        read_frame(data)
    err = caught.value
    assert err.status == 400 and err.code == code and err.param == param
    assert words in err.message


def test_the_error_frame_is_openais_with_the_status() -> None:
    err = UpstreamError("busy", status=503, code="server_is_overloaded")
    assert error_frame(err) == {
        "type": "error",
        "status": 503,
        "error": {"message": "busy", "type": "upstream_error", "param": None,
                  "code": "server_is_overloaded"},
    }  # fmt: skip
    assert json.loads(error_frame_text(err)) == error_frame(err)
