"""callers: which requests a web page made, and which Host names the proxy (a table)."""

from __future__ import annotations

import pytest

from chat2responses.request.callers import Callers, caller_refusal, parse_hosts, parse_origins

ALLOWED = Callers(
    origins=frozenset({"http://localhost:3000", "chrome-extension://abc", "https://toolbox"}),
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
        # An IPv6 address is what its brackets hold, the closing one missing or not.
        ({"host": "[::1]"}, "127.0.0.1", REVERSE, None),
        ({"host": "[::1"}, "127.0.0.1", REVERSE, None),
        ({"host": "[::2]:8080"}, "[::2]", REVERSE, None),
        ({"host": "[::2]:8080"}, "::1", REVERSE, "host"),
        # Rule 1: an Origin not listed.
        ({"host": "127.0.0.1", "origin": "http://attacker.example"}, "", REVERSE, "origin"),
        ({"host": "127.0.0.1", "Origin": "null"}, "", REVERSE, "origin"),
        ({"host": "127.0.0.1", "origin": "http://localhost:3001"}, "", REVERSE, "origin"),
        ({"host": "127.0.0.1", "origin": "http://localhost:3000"}, "", REVERSE, None),
        ({"host": "127.0.0.1", "origin": "HTTP://LOCALHOST:3000/"}, "", REVERSE, None),
        ({"host": "127.0.0.1", "origin": "chrome-extension://abc"}, "", REVERSE, None),
        ({"host": "127.0.0.1", "origin": " HTTPS://TOOLBOX/"}, "", REVERSE, None),
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
        ({"host": "MY-BOX:8080"}, " My-Box ", REVERSE, None),
        ({"host": "[::2]"}, "[::2]", REVERSE, None),
        ({"host": "[FE80::1]"}, "fe80::1", REVERSE, None),
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
    # The first 100 characters, quoted, each non-ASCII one escaped.
    assert "page at 'http://x" + "\\u2028" * 92 + "' are not" in err.message


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (
            {"host": "127.0.0.1", "origin": "https://évil.example"},
            "Requests from the web page at 'https://\\xe9vil.example' are not accepted: this "
            "proxy spends your own login and keys. To allow a browser-based tool, add its origin "
            "to the option responses_allowed_origins.",
        ),
        (
            {"host": "127.0.0.1", "sec-fetch-site": "cross-site"},
            "Requests a browser makes for a web page (Sec-Fetch-Site: 'cross-site') are not "
            "accepted without an Origin listed in responses_allowed_origins.",
        ),
        (
            {"host": "rebind.example:80"},
            "The Host 'rebind.example' does not name this proxy (a DNS name pointed at it is "
            "refused unless listed in the option responses_allowed_hosts).",
        ),
        (
            {},
            "The Host '' does not name this proxy (a DNS name pointed at it is refused unless "
            "listed in the option responses_allowed_hosts).",
        ),
    ],
)
def test_a_refusal_says_what_it_refuses_and_how_to_allow_it(
    headers: dict[str, str], message: str
) -> None:
    err = caller_refusal(headers, Callers(), listen_host="127.0.0.1", rewritten_hosts=None)
    assert err is not None and err.message == message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", frozenset()),
        (
            "http://localhost:3000, https://App.Example/",
            {"http://localhost:3000", "https://app.example"},
        ),
        ("*", {"*"}),
        ("*, http://a.example", {"*", "http://a.example"}),
        ("http://a.example,, http://b.example", {"http://a.example", "http://b.example"}),
    ],
)
def test_parse_origins(value: str, expected: set[str]) -> None:
    assert parse_origins("o", value) == expected


@pytest.mark.parametrize(
    "value", ["localhost:3000", "http://h/path", "http://h?q=1", "http://", "//localhost:3000"]
)
def test_parse_origins_refuses_what_is_not_an_origin(value: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_origins("responses_allowed_origins", f"http://ok.example, {value}")
    assert str(refused.value) == (
        f"responses_allowed_origins: {value!r} is not an origin (scheme://host[:port], e.g. "
        "http://localhost:3000)"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (" GW.example.com., llm.internal:8080 ,", {"gw.example.com", "llm.internal"}),
        ("a.example,,b.example", {"a.example", "b.example"}),
        (".., [::1]:8080, ::1", {"::1"}),
        ("", set()),
    ],
)
def test_parse_hosts(value: str, expected: set[str]) -> None:
    assert parse_hosts("h", value) == expected


@pytest.mark.parametrize("value", ["http://gw.example.com/", "me@gw.example.com", "gw example"])
def test_parse_hosts_refuses_what_is_not_a_host(value: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_hosts("responses_allowed_hosts", f"ok.example, {value}")
    assert str(refused.value) == f"responses_allowed_hosts: {value!r} is not a host name"
