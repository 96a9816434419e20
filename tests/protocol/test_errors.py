"""protocol/errors.py: upstream errors keep the upstream's error status, and a status that is no
error becomes a 502; a message that quotes an upstream's lone surrogate can be logged. Tables."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chat2responses.protocol.errors import (
    HandshakeRefused,
    ProxyError,
    UpstreamError,
    upstream_error_from_body,
    upstream_error_from_event,
)


def body(message: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": "x_error", "code": "x"}}).encode()


@pytest.mark.parametrize(
    ("status", "sent", "want_status", "want_code", "want_message"),
    [
        (400, body("bad"), 400, "x", "bad"),
        (429, body("slow down"), 429, "x", "slow down"),
        (503, b"<html>busy</html>", 503, None, "<html>busy</html>"),
        (599, b"", 599, None, "upstream answered HTTP 599"),
        # no error status (an upstream that lies): the client is owed an error all the same
        (201, body("made"), 502, "x", "upstream answered HTTP 201: made"),
        (204, b"", 502, "upstream_protocol_error", "upstream answered HTTP 204"),
        (304, b"", 502, "upstream_protocol_error", "upstream answered HTTP 304"),
        (399, b"odd", 502, "upstream_protocol_error", "upstream answered HTTP 399: odd"),
        (600, b"", 502, "upstream_protocol_error", "upstream answered HTTP 600"),
        (999, b"", 502, "upstream_protocol_error", "upstream answered HTTP 999"),
    ],
)
def test_an_upstream_answer_keeps_only_an_error_status(
    status: int, sent: bytes, want_status: int, want_code: str | None, want_message: str
) -> None:
    err = upstream_error_from_body(status, sent, {})
    assert (err.status, err.code, err.message) == (want_status, want_code, want_message)
    assert 400 <= err.status <= 599


def test_a_websocket_upgrade_answered_200_is_a_502() -> None:
    err = HandshakeRefused.from_response(200, b"hello", {})
    assert isinstance(err, HandshakeRefused)
    assert (err.status, err.code) == (502, "upstream_protocol_error")
    assert HandshakeRefused.from_response(426, b"", {}).status == 426  # use HTTP: kept


@pytest.mark.parametrize(
    ("status", "fields", "want"),
    [
        (500, {"message": "m"}, 500),
        (999, {"message": "m"}, 502),
        (None, {"code": "rate_limit_exceeded", "message": "m"}, 429),
    ],
)
def test_an_error_events_status(status: int | None, fields: dict[str, Any], want: int) -> None:
    assert upstream_error_from_event(fields, status, "failed").status == want


@pytest.mark.parametrize(
    "make",
    [
        ProxyError,
        lambda text: UpstreamError(text, status=500),
        lambda text: upstream_error_from_body(500, body(text), {}),
        lambda text: upstream_error_from_event({"message": text}, 500, "failed"),
    ],
)
def test_a_message_quoting_a_lone_surrogate_can_be_logged(make: Any) -> None:
    # mitmproxy's console refuses a lone surrogate: the call that logged it would fail
    err = make("bad \ud800 thing")
    assert err.message == "bad \\ud800 thing" and str(err) == err.message
    err.message.encode()  # UTF-8 takes it
