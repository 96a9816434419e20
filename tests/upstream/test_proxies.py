"""Which proxy carries each of the addon's own upstream calls (upstream/proxies.py), as tables."""

from __future__ import annotations

import pytest

from chat2responses.upstream.proxies import Egress, Proxy, bypassed, upstream_mode_url
from chat2responses.upstream.routing import HOP_HEADER

CORP = "http://corp.test:3128"


@pytest.mark.parametrize(
    ("modes", "env", "url", "expected"),
    [
        # nothing set: straight to the upstream
        ([], {}, "https://api.openai.com/v1/responses", None),
        # rule 2: per scheme; wss follows https, ws follows http
        ([], {"HTTPS_PROXY": CORP}, "https://api.openai.com/v1/responses", CORP),
        ([], {"HTTPS_PROXY": CORP}, "wss://chatgpt.com/backend-api/codex/responses", CORP),
        ([], {"HTTPS_PROXY": CORP}, "http://127.0.0.1:9/backend-api/codex/responses", None),
        ([], {"HTTP_PROXY": CORP}, "ws://emu.test:9/responses", CORP),
        ([], {"HTTP_PROXY": CORP}, "https://api.openai.com/v1/responses", None),
        # the lower-case name wins
        ([], {"https_proxy": CORP, "HTTPS_PROXY": "http://other.test:1"}, "https://a.test/", CORP),
        # httpoxy: HTTP_PROXY is not read under CGI, http_proxy still is
        ([], {"HTTP_PROXY": CORP, "REQUEST_METHOD": "GET"}, "http://a.test/", None),
        ([], {"http_proxy": CORP, "REQUEST_METHOD": "GET"}, "http://a.test/", CORP),
        # ALL_PROXY is the fallback for both
        ([], {"ALL_PROXY": CORP}, "http://a.test/", CORP),
        ([], {"all_proxy": CORP}, "https://a.test/", CORP),
        # rule 3: NO_PROXY
        ([], {"HTTPS_PROXY": CORP, "NO_PROXY": "openai.com"}, "https://api.openai.com/", None),
        ([], {"HTTPS_PROXY": CORP, "NO_PROXY": ".openai.com"}, "https://api.openai.com/", None),
        ([], {"HTTPS_PROXY": CORP, "NO_PROXY": "openai.com"}, "https://notopenai.com/", CORP),
        ([], {"HTTPS_PROXY": CORP, "no_proxy": "*"}, "https://a.test/", None),
        ([], {"HTTPS_PROXY": CORP, "NO_PROXY": "10.0.0.0/8"}, "https://10.1.2.3/", None),
        ([], {"HTTPS_PROXY": CORP, "NO_PROXY": "10.0.0.0/8"}, "https://11.1.2.3/", CORP),
        ([], {"HTTPS_PROXY": CORP, "NO_PROXY": "::1"}, "https://[::1]:8443/", None),
        ([], {"HTTPS_PROXY": CORP, "NO_PROXY": "a.test:443"}, "https://a.test/", None),
        # rule 1: --mode upstream:URL wins over the environment, NO_PROXY still exempts
        (["regular", f"upstream:{CORP}"], {"HTTPS_PROXY": "http://x.test:1"}, "https://a/", CORP),
        ([f"upstream:{CORP}@8081"], {}, "http://127.0.0.1:9/responses", CORP),
        ([f"upstream:{CORP}"], {"NO_PROXY": "127.0.0.1"}, "http://127.0.0.1:9/", None),
        (["regular", "reverse:https://x.test"], {}, "https://a.test/", None),
    ],
)
def test_the_proxy_of_each_call(
    modes: list[str], env: dict[str, str], url: str, expected: str | None
) -> None:
    proxy = Egress.configure(modes, "", env).proxy_for(url)
    assert (proxy.url if proxy else None) == expected


@pytest.mark.parametrize(
    ("value", "url", "user", "password"),
    [
        ("corp.test:3128", "http://corp.test:3128", "", ""),
        ("http://corp.test", "http://corp.test:80", "", ""),
        ("https://corp.test", "https://corp.test:443", "", ""),
        ("http://u%40x:p%3Aw@corp.test:3128/", "http://corp.test:3128", "u@x", "p:w"),
        ("http://[::1]:3128", "http://[::1]:3128", "", ""),
    ],
)
def test_a_proxy_url_is_read_with_its_credentials_apart(
    value: str, url: str, user: str, password: str
) -> None:
    proxy = Proxy.parse(value, "HTTPS_PROXY")
    assert (proxy.url, proxy.username, proxy.password) == (url, user, password)
    assert "p:w" not in repr(proxy) and "p%3Aw" not in repr(proxy)


def test_credentials_go_to_the_proxy_only_as_the_clients_need_them() -> None:
    proxy = Proxy.parse("http://me:s3cret@corp.test:3128", "HTTPS_PROXY")
    assert proxy.authorization == "Basic bWU6czNjcmV0"
    assert proxy.url_with_credentials() == "http://me:s3cret@corp.test:3128"
    assert Proxy.parse("corp.test:1", "x").authorization is None
    upstream = Egress.configure([f"upstream:{CORP}"], "me:s3cret", {}).upstream
    assert upstream is not None and upstream.authorization == "Basic bWU6czNjcmV0"
    assert "s3cret" not in Egress.configure([f"upstream:{CORP}"], "me:s3cret", {}).describe()


@pytest.mark.parametrize(
    "value", ["socks5://corp.test:1080", "ftp://corp.test", "http://", "http://h:notaport"]
)
def test_a_proxy_that_cannot_be_used_is_refused_naming_where_it_came_from(value: str) -> None:
    with pytest.raises(ValueError, match="HTTPS_PROXY") as caught:
        Egress.configure([], "", {"HTTPS_PROXY": value})
    assert "only http:// and https://" in str(caught.value)


@pytest.mark.parametrize(
    ("spec", "url"),
    [
        ("upstream:http://corp.test:3128", "http://corp.test:3128"),
        ("upstream:http://corp.test:3128@8081", "http://corp.test:3128"),
        ("upstream:https://corp.test@127.0.0.1:8081", "https://corp.test"),
        ("regular", None),
        ("regular@8081", None),
        ("reverse:http://upstream.test", None),
        ("transparent", None),
    ],
)
def test_the_upstream_mode_is_read_as_mitmproxy_reads_it(spec: str, url: str | None) -> None:
    assert upstream_mode_url(spec) == url


@pytest.mark.parametrize(
    ("host", "entries", "expected"),
    [
        ("a.test", (), False),
        ("a.test", ("*",), True),
        ("a.test", ("a.test",), True),
        ("b.a.test", ("a.test",), True),
        ("ba.test", ("a.test",), False),
        ("a.test.", ("a.test",), True),
        ("127.0.0.1", ("127.0.0.0/8",), True),
        ("127.0.0.1", ("localhost",), False),
        ("::1", ("[::1]:8080",), True),
        ("10.0.0.1", ("not an ip/xx",), False),
    ],
)
def test_no_proxy_entries(host: str, entries: tuple[str, ...], expected: bool) -> None:
    assert bypassed(host, entries) is expected


def test_every_call_carries_the_hop_mark() -> None:
    assert Egress.configure([], "", {}, hop="abc").headers() == {HOP_HEADER: "abc"}
    assert Egress().headers() == {}
