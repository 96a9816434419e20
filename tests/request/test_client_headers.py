"""The client's headers (request/client_headers.py): what goes on per auth mode, joined repeats,
values that cannot be sent, and the quota account's digest."""

from __future__ import annotations

import pytest

from chat2responses.protocol.errors import ClientError
from chat2responses.request.client_headers import account_of, client_headers
from chat2responses.settings import AuthMode

FIELDS = [
    (b"Authorization", b"Bearer sk-1"),
    (b"X-Api-Key", b"k"),
    (b"OpenAI-Organization", b"org"),
    (b"User-Agent", b"tool/1"),
    (b"Cookie", b"c=1"),
    (b"Proxy-Authorization", b"Basic x"),
    (b"Accept", b"*/*"),
]


def test_the_client_mode_passes_on_credentials_and_responses_headers_only() -> None:
    assert client_headers(FIELDS, AuthMode.CLIENT) == {
        "authorization": "Bearer sk-1",
        "x-api-key": "k",
        "openai-organization": "org",
        "user-agent": "tool/1",
    }


def test_the_codex_mode_passes_on_no_client_credential() -> None:
    assert client_headers(FIELDS, AuthMode.CODEX) == {"user-agent": "tool/1"}


def test_a_repeated_header_goes_on_once_joined() -> None:
    fields = [(b"openai-beta", b"a"), (b"OpenAI-Beta", b"b")]
    assert client_headers(fields, AuthMode.CLIENT) == {"openai-beta": "a, b"}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (b"authorization", b"Bearer h\xe9llo"),
        (b"authorization", b"Bearer a\x01b"),
        (b"x-api-key", b"\xff"),
        (b"openai-organization", b"a\x7fb"),
        (b"openai-project", b"a\x0bb"),
    ],
)
def test_a_value_that_cannot_be_sent_is_a_400_naming_the_header_not_quoting_it(
    name: bytes, value: bytes
) -> None:
    with pytest.raises(ClientError) as caught:
        client_headers([(name, value)], AuthMode.CLIENT)
    err = caught.value
    assert (err.status, err.type, err.code) == (
        400,
        "invalid_request_error",
        "invalid_header_value",
    )
    assert err.message == (
        f"The '{name.decode()}' header holds characters that cannot be sent on: only printable "
        "ASCII is allowed in it."
    )


def test_an_unsendable_user_agent_is_left_out_and_a_tab_is_fine() -> None:
    fields = [(b"user-agent", b"\xe9\x01"), (b"authorization", b"Bearer\tx")]
    assert client_headers(fields, AuthMode.CLIENT) == {"authorization": "Bearer\tx"}
    assert client_headers([(b"user-agent", b"\xe9")], AuthMode.CODEX) == {}


def test_the_quota_account_is_a_digest_of_the_credential() -> None:
    mine = account_of({"authorization": "Bearer sk-1"}, None)
    assert len(mine) == 12 and "sk-1" not in mine
    assert mine == account_of({"authorization": "Bearer sk-1"}, None)
    assert mine != account_of({"x-api-key": "k"}, None)
    assert account_of({}, None) == account_of({}, None)  # anonymous: one account


@pytest.mark.parametrize("header", ["authorization", "api-key", "x-api-key"])
def test_each_credential_header_names_its_own_account(header: str) -> None:
    mine, theirs = account_of({header: "sk-1"}, None), account_of({header: "sk-2"}, None)
    assert mine != theirs and mine != account_of({}, None)


def test_the_first_credential_header_counts_and_the_login_beats_them_all() -> None:
    first = {"authorization": "Bearer a", "api-key": "b", "x-api-key": "c"}
    assert account_of(first, None) == account_of({"authorization": "Bearer a"}, None)
    assert account_of({"api-key": "b", "x-api-key": "c"}, None) == account_of(
        {"api-key": "b"}, None
    )
    assert account_of(first, "login-digest") == "login-digest"
