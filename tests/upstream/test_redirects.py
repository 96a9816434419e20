"""redirects: only a same-origin redirect is followed (a table)."""

from __future__ import annotations

import pytest

from chat2responses.protocol.errors import UpstreamError
from chat2responses.upstream.redirects import MAX_REDIRECTS, redirect_target

URL = "https://chatgpt.com/backend-api/codex/responses"


@pytest.mark.parametrize(
    ("url", "status", "location", "method", "hops", "expected"),
    [
        (
            URL,
            307,
            "/backend-api/codex/v2/responses",
            "POST",
            0,
            "https://chatgpt.com/backend-api/codex/v2/responses",
        ),
        (URL, 308, "https://chatgpt.com:443/x", "POST", 0, "https://chatgpt.com:443/x"),
        (URL, 307, "v2", "POST", 0, "https://chatgpt.com/backend-api/codex/v2"),
        ("http://127.0.0.1:9/m", 302, "/m2", "GET", 0, "http://127.0.0.1:9/m2"),
        ("http://127.0.0.1:9/m", 301, "/m2", "GET", MAX_REDIRECTS - 1, "http://127.0.0.1:9/m2"),
        # Refused: another origin (host, port, scheme), a method change, no Location, too many.
        (URL, 307, "https://attacker.example/collect", "POST", 0, "another origin"),
        (URL, 307, "https://chatgpt.com.attacker.example/", "POST", 0, "another origin"),
        (URL, 307, "http://chatgpt.com/backend-api/codex/responses", "POST", 0, "another origin"),
        (URL, 308, "https://chatgpt.com:8443/x", "POST", 0, "another origin"),
        (URL, 307, "//attacker.example/x", "POST", 0, "another origin"),
        (URL, 307, "https://user:pw@attacker.example/", "POST", 0, "another origin"),
        ("http://127.0.0.1:9/m", 302, "http://127.0.0.2:9/m", "GET", 0, "another origin"),
        (URL, 302, "/x", "POST", 0, "would drop the request"),
        (URL, 303, "/x", "POST", 0, "would drop the request"),
        (URL, 307, None, "POST", 0, "without a Location"),
        (URL, 307, "", "POST", 0, "without a Location"),
        (URL, 307, "/x", "POST", MAX_REDIRECTS, "more than"),
    ],
)
def test_redirect_target(  # noqa: PLR0917
    url: str, status: int, location: str | None, method: str, hops: int, expected: str
) -> None:
    if expected.startswith(("http://", "https://")):
        assert redirect_target(url, status, location, method, hops) == expected
        return
    with pytest.raises(UpstreamError) as caught:
        redirect_target(url, status, location, method, hops)
    err = caught.value
    assert (err.status, err.code) == (502, "upstream_redirect") and expected in err.message
    assert "collect" not in err.message and "pw" not in err.message  # only the origin is named
