"""glue/calls.py: where a client's request goes."""

from __future__ import annotations

import pytest
from mitmproxy import http

from chat2responses.glue import calls
from chat2responses.glue.calls import upstream_url


@pytest.mark.parametrize(
    ("configured", "client_url", "expected"),
    [
        # responses_url set: its endpoint, whatever the client asked for
        ("https://chatgpt.com/backend-api/codex", "http://127.0.0.1:8080/v1/chat/completions",
         "https://chatgpt.com/backend-api/codex/responses"),
        ("https://h/openai/v1?api-version=preview", "http://x/chat/completions",
         "https://h/openai/v1/responses?api-version=preview"),
        # empty (transparent interception): the request's own origin and path
        ("", "https://api.openai.com/v1/chat/completions", "https://api.openai.com/v1/responses"),
        ("", "http://h:8080/v1/chat/completions?x=1", "http://h:8080/v1/responses?x=1"),
        ("", "https://h:443/v1/chat/completions", "https://h/v1/responses"),
    ],
)  # fmt: skip
def test_upstream_url(configured: str, client_url: str, expected: str) -> None:
    req = http.Request.make("POST", client_url)
    assert upstream_url(configured, req) == expected


def test_the_origin_is_read_only_without_a_configured_url(monkeypatch: pytest.MonkeyPatch) -> None:
    read: list[str] = []
    monkeypatch.setattr(calls, "origin_of", lambda req: read.append(req.host) or "http://h")
    req = http.Request.make("POST", "http://h/v1/chat/completions")
    assert upstream_url("https://up/v1", req) == "https://up/v1/responses"
    assert read == []
    assert upstream_url("", req) == "http://h/v1/responses"
    assert read == ["h"]
