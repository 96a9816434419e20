"""The ChatGPT cookie policy (upstream/cookies.py), as a table."""

from __future__ import annotations

import pytest

from chat2responses.upstream.cookies import (
    KEPT_NAMES,
    cookies_allowed,
    kept_set_cookies,
    name_kept,
    set_cookie_name,
)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://chatgpt.com/backend-api/codex/responses", True),
        ("wss://chatgpt.com/backend-api/codex/responses", True),
        ("https://CHATGPT.COM./backend-api/codex/models", True),
        ("https://ab.chatgpt.com/x", True),
        ("https://chat.openai.com/backend-api/x", True),
        ("https://chatgpt-staging.com/x", True),
        ("https://eu.chatgpt-staging.com/x", True),
        ("http://chatgpt.com/backend-api/codex/responses", False),  # rule 1: https or wss only
        ("ws://chatgpt.com/backend-api/codex/responses", False),
        ("https://api.openai.com/v1/responses", False),
        ("https://auth.openai.com/oauth/token", False),
        ("https://x.chat.openai.com/x", False),  # only chat.openai.com itself
        ("https://notchatgpt.com/x", False),
        ("https://chatgpt.com.evil.example/x", False),
        ("http://127.0.0.1:8080/backend-api/codex", False),
        ("https://[::1/x", False),  # not a URL
        ("", False),
    ],
)
def test_which_urls_get_and_leave_cookies(url: str, allowed: bool) -> None:
    assert cookies_allowed(url) is allowed


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        *((name, True) for name in sorted(KEPT_NAMES)),
        ("cf_chl_rc_ni", True),
        ("cf_chl_", False),
        ("__oailb ", True),
        ("__Secure-next-auth.session-token", False),
        ("oai-did", False),
        ("_account", False),
        ("__cf_bm_extra", False),
        ("", False),
    ],
)
def test_which_names_are_kept(name: str, kept: bool) -> None:
    assert name_kept(name) is kept


def test_the_set_cookie_name_is_what_precedes_the_first_equals_sign() -> None:
    assert set_cookie_name(" __cf_bm =a=b; Path=/") == "__cf_bm"
    assert set_cookie_name("no-equals-sign") == ""


def test_an_answer_keeps_only_its_infrastructure_cookies_and_only_from_chatgpt() -> None:
    headers = [
        "__cf_bm=a; Path=/; Secure; HttpOnly",
        "__Secure-next-auth.session-token=secret; Path=/; Secure",
        "__oailb=jwt; Path=/",
        "oai-did=device; Path=/",
        "garbage",
    ]
    kept = ["__cf_bm=a; Path=/; Secure; HttpOnly", "__oailb=jwt; Path=/"]
    assert kept_set_cookies("https://chatgpt.com/backend-api/codex/responses", headers) == kept
    assert kept_set_cookies("https://api.openai.com/v1/responses", headers) == []
