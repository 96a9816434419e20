"""callers: which requests a web page made, and which Host names the proxy (a table)."""

from __future__ import annotations

import pytest

from chat2responses.request.callers import Callers, caller_refusal, parse_hosts, parse_origins

ALLOWED = Callers(
    origins=frozenset({"http://localhost:3000", "chrome-extension://abc"}),
    hosts=frozenset({"gateway.example.com"}),
)
REVERSE = None  # the Host must name the proxy
EVERY = frozenset[str]()  # intercepting, every host rewritten
OPENAI = frozenset({"api.openai.com", "chatgpt.com"})


@pytest.mark.parametrize(
    ("headers", "listen", "rewritten", "code"),
    [
        # Tools that are not browsers: no Origin, no Sec-Fetch-Site.
        ({"host": "127.0.0.1:8080"}, "127.0.0.1", REVERSE, None),
        ({"host": "localhost:8080"}, "127.0.0.1", REVERSE, None),
        ({"host": "app.localhost"}, "127.0.0.1", REVERSE, None),
        ({"host": "[::1]:8080"}, "", REVERSE, None),
        ({"host": "127.5.6.7"}, "127.0.0.1", REVERSE, None),
        ({"Host": "LOCALHOST."}, "127.0.0.1", REVERSE, None),
        # Rule 1: an Origin not listed.
        ({"host": "127.0.0.1", "origin": "http://attacker.example"}, "", REVERSE, "origin"),
        ({"host": "127.0.0.1", "Origin": "null"}, "", REVERSE, "origin"),
        ({"host": "127.0.0.1", "origin": "http://localhost:3001"}, "", REVERSE, "origin"),
        ({"host": "127.0.0.1", "origin": "http://localhost:3000"}, "", REVERSE, None),
        ({"host": "127.0.0.1", "origin": "HTTP://LOCALHOST:3000/"}, "", REVERSE, None),
        ({"host": "127.0.0.1", "origin": "chrome-extension://abc"}, "", REVERSE, None),
        # Rule 2: a browser's request for a page, with no allowed Origin.
        ({"host": "127.0.0.1", "sec-fetch-site": "cross-site"}, "", REVERSE, "origin"),
        ({"host": "127.0.0.1", "sec-fetch-site": "same-origin"}, "", REVERSE, "origin"),
        ({"host": "127.0.0.1", "sec-fetch-site": "same-site"}, "", REVERSE, "origin"),
        ({"host": "127.0.0.1", "sec-fetch-site": "none"}, "", REVERSE, None),
        (
            {
                "host": "127.0.0.1",
                "sec-fetch-site": "cross-site",
                "origin": "http://localhost:3000",
            },
            "",
            REVERSE,
            None,
        ),
        # Rule 3: the Host of a rebound page, in reverse mode.
        ({"host": "rebind.attacker.example:8080"}, "127.0.0.1", REVERSE, "host"),
        ({"host": "rebind.attacker.example"}, "", REVERSE, "host"),
        ({"host": "127.0.0.1.attacker.example"}, "", REVERSE, "host"),
        ({}, "127.0.0.1", REVERSE, "host"),
        ({"host": "gateway.example.com:8080"}, "", REVERSE, None),
        ({"host": "my-box"}, "my-box", REVERSE, None),
        ({"host": "192.168.1.5:8080"}, "192.168.1.5", REVERSE, None),
        ({"host": "192.168.1.5:8080"}, "", REVERSE, None),  # listening everywhere: any address
        ({"host": "192.168.1.5:8080"}, "0.0.0.0", REVERSE, None),
        ({"host": "192.168.1.6:8080"}, "192.168.1.5", REVERSE, "host"),
        # Intercepting: the rewritten hosts (every one, or a list).
        ({"host": "api.openai.com"}, "", EVERY, None),
        ({"host": "anything.example"}, "", EVERY, None),
        ({"host": "api.openai.com"}, "", OPENAI, None),
        ({"host": "rebind.attacker.example"}, "127.0.0.1", OPENAI, "host"),
        ({"host": "localhost"}, "127.0.0.1", OPENAI, None),
        # The Origin rule applies whatever the Host.
        ({"host": "api.openai.com", "origin": "https://evil.example"}, "", EVERY, "origin"),
    ],
)
def test_caller_refusal(
    headers: dict[str, str], listen: str, rewritten: frozenset[str] | None, code: str | None
) -> None:
    err = caller_refusal(headers, ALLOWED, listen_host=listen, rewritten_hosts=rewritten)
    if code is None:
        assert err is None
        return
    assert err is not None
    assert (err.status, err.type, err.code) == (403, "permission_error", f"{code}_not_allowed")


def test_no_origin_is_allowed_by_default() -> None:
    err = caller_refusal(
        {"host": "127.0.0.1", "origin": "http://localhost:3000"},
        Callers(),
        listen_host="127.0.0.1",
        rewritten_hosts=None,
    )
    assert err is not None and "responses_allowed_origins" in err.message


def test_every_origin_with_a_star() -> None:
    callers = Callers(origins=parse_origins("o", "*"))
    headers = {"host": "127.0.0.1", "origin": "https://any.example"}
    assert caller_refusal(headers, callers, listen_host="", rewritten_hosts=None) is None


def test_a_hostile_value_is_quoted_cut_and_escaped() -> None:
    err = caller_refusal(
        {"host": "127.0.0.1", "origin": "http://x" + "\u2028" * 500},
        Callers(),
        listen_host="",
        rewritten_hosts=None,
    )
    assert err is not None and len(err.message) < 1000 and "\u2028" not in err.message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", frozenset()),
        (
            "http://localhost:3000, https://App.Example/",
            {"http://localhost:3000", "https://app.example"},
        ),
        ("*", {"*"}),
    ],
)
def test_parse_origins(value: str, expected: set[str]) -> None:
    assert parse_origins("o", value) == expected


@pytest.mark.parametrize("value", ["localhost:3000", "http://h/path", "http://h?q=1"])
def test_parse_origins_refuses_what_is_not_an_origin(value: str) -> None:
    with pytest.raises(ValueError, match="is not an origin"):
        parse_origins("responses_allowed_origins", value)


def test_parse_hosts() -> None:
    assert parse_hosts("h", " GW.example.com., llm.internal:8080 ,") == {
        "gw.example.com",
        "llm.internal",
    }
    with pytest.raises(ValueError, match="is not a host name"):
        parse_hosts("responses_allowed_hosts", "http://gw.example.com/")
