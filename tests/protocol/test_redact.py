"""redact: what looks like a credential in an upstream's text becomes <redacted> (a table)."""
# ruff: noqa: E501

from __future__ import annotations

import pytest

from chat2responses.protocol.redact import redact

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJl"
ACCOUNT = "3f2a9c1e-7b4d-4e8a-9c2f-1a2b3c4d5e6f"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Incorrect API key provided", "Incorrect API key provided"),
        ("no such model gpt-5.5 (resp_abc123, req_789)", "no such model gpt-5.5 (resp_abc123, req_789)"),
        (f"bad header Authorization: Bearer {JWT}", "bad header Authorization: <redacted>"),
        (f"got 'Bearer {JWT}'", "got 'Bearer <redacted>'"),
        ("got bearer abc.def-ghi", "got bearer <redacted>"),
        ("Basic dXNlcjpwYXNz is not allowed", "Basic <redacted> is not allowed"),
        (f"token {JWT} expired", "token <redacted> expired"),
        ("Incorrect API key provided: sk-proj-abcdEFGH1234", "Incorrect API key provided: sk-<redacted>"),
        ("refresh token rt_Zm9vYmFy.abc123 was reused", "refresh token rt_<redacted> was reused"),
        (f"account {ACCOUNT} is deactivated", "account <redacted> is deactivated"),
        (f"account {ACCOUNT.upper()}", "account <redacted>"),
        ('{"refresh_token": "opaque-value-1"}', '{"refresh_token": "<redacted>"}'),
        ("refresh_token=opaque&grant_type=refresh_token", "refresh_token=<redacted>&grant_type=refresh_token"),
        ('{"chatgpt-account-id":"acct-9"}', '{"chatgpt-account-id":"<redacted>"}'),
        ("account_id: acct-9, plan: plus", "account_id: <redacted>, plan: plus"),
        ("x-api-key=abc123 rejected", "x-api-key=<redacted> rejected"),
        # JSON text quoted inside a JSON string (an upstream echoing the headers it got)
        (r'{"message": "{\"api-key\": \"KEY-1\", \"x-api-key\": \"KEY-2\"}"}', r'{"message": "{\"api-key\": \"<redacted>\", \"x-api-key\": \"<redacted>\"}"}'),
        (r'got {\"chatgpt-account-id\": \"acct-9q7z\"}', r'got {\"chatgpt-account-id\": \"<redacted>\"}'),
        ("openai-organization: org-abc123, openai-project: proj_xyz", "openai-organization: <redacted>, openai-project: <redacted>"),
        # a cookie header, whole: every cookie in it
        ("cookie: __cf_bm=CFBM-1; __cflb=LB-2\nnext line", "cookie: <redacted>\nnext line"),
        ('{"set-cookie": "__cf_bm=CFBM-1; path=/", "ok": 1}', '{"set-cookie": "<redacted>", "ok": 1}'),
        (r'{\"Cookie\": \"a=1; b=2\"}', r'{\"Cookie\": \"<redacted>\"}'),
        ("the cookie jar is full", "the cookie jar is full"),
        ("", ""),
    ],
)  # fmt: skip
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_redacting_twice_changes_nothing_more() -> None:
    text = (
        f"Authorization: Bearer {JWT}; refresh_token=rt_abcdefghij account {ACCOUNT}"
        r" {\"api-key\": \"KEY-1\"} cookie: a=1; b=2"
    )
    once = redact(text)
    assert redact(once) == once
    assert JWT not in once and "rt_abcdefghij" not in once and ACCOUNT not in once
    assert "KEY-1" not in once and "a=1" not in once and "b=2" not in once


def test_every_upstream_error_is_built_redacted() -> None:
    from chat2responses.protocol.errors import (
        HandshakeRefused,
        UpstreamError,
        upstream_error_from_body,
        upstream_error_from_event,
    )

    echoed = f'{{"error": {{"message": "bad Authorization: Bearer {JWT} for {ACCOUNT}"}}}}'
    for err in (
        upstream_error_from_body(401, echoed.encode(), {}),
        HandshakeRefused.from_response(403, echoed.encode(), {}),
        upstream_error_from_event({"message": f"Bearer {JWT}"}, 400, "x"),
        UpstreamError(f"closed ({ACCOUNT})"),
    ):
        assert JWT not in err.message and ACCOUNT not in err.message
        assert "<redacted>" in err.message


def test_a_token_endpoints_echo_of_the_refresh_token_is_redacted() -> None:
    from chat2responses.upstream.login import refresh_refused, refresh_unreachable

    echo = b'{"error": "rt_abcdefghijklmnop"}'
    assert "rt_abcdefghijklmnop" not in refresh_refused(400, echo).message
    assert "rt_abcdefghijklmnop" not in refresh_unreachable("rt_abcdefghijklmnop").message
