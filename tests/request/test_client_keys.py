"""Keys per person (request/client_keys.py): the key a request presents, the person it names,
the 401 without one, and the keys file's lines."""

from __future__ import annotations

import pytest

from chat2responses.protocol.errors import ClientError
from chat2responses.request.client_keys import (
    MAX_KEYS,
    ClientKeys,
    key_digest,
    key_line,
    parse_keys,
    presented_key,
)

KEYS = parse_keys(key_line("alice", "sk-alice") + key_line("bob", "sk-bob"), "keys")


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        ([(b"Authorization", b"Bearer sk-alice")], "sk-alice"),
        ([(b"authorization", b"bearer   sk-alice ")], "sk-alice"),
        ([(b"api-key", b"sk-alice")], "sk-alice"),
        ([(b"x-api-key", b"sk-alice")], "sk-alice"),
        # Authorization first, then api-key, then x-api-key (rule 1).
        ([(b"x-api-key", b"sk-x"), (b"authorization", b"Bearer sk-a")], "sk-a"),
        ([(b"x-api-key", b"sk-x"), (b"api-key", b"sk-k")], "sk-k"),
        # Of a header sent twice, the first counts.
        ([(b"authorization", b"Bearer sk-1"), (b"Authorization", b"Bearer sk-2")], "sk-1"),
        ([(b"api-key", b"sk-1"), (b"api-key", b"sk-2")], "sk-1"),
        ([(b"authorization", b"Basic dXNlcg=="), (b"api-key", b"sk-k")], "sk-k"),
        ([(b"authorization", b"Basic dXNlcg==")], None),
        ([(b"authorization", b"Bearer ")], None),
        ([(b"authorization", b"Bearer \xff")], None),
        ([(b"cookie", b"sk-alice")], None),
        ([], None),
    ],
)
def test_the_key_a_request_presents(fields: list[tuple[bytes, bytes]], key: str | None) -> None:
    assert presented_key(fields) == key


@pytest.mark.parametrize(
    ("fields", "person"),
    [
        ([(b"authorization", b"Bearer sk-alice")], "alice"),
        ([(b"api-key", b"sk-bob")], "bob"),
    ],
)
def test_a_listed_key_names_its_person(fields: list[tuple[bytes, bytes]], person: str) -> None:
    assert KEYS.person(fields) == person


# OpenAI's 401 openings, then where to get a key (the command that makes one).
NO_KEY = (
    "You didn't provide an API key. This gateway needs your own key in an Authorization header "
    "(Authorization: Bearer YOUR_KEY); ask whoever runs it for one "
    "(chat2responses keys add NAME --file PATH)."
)
WRONG_KEY = (
    "Incorrect API key provided: it is not one of this gateway's keys. Ask whoever runs it for "
    "yours (chat2responses keys add NAME --file PATH)."
)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ([(b"authorization", b"Bearer sk-mallory")], WRONG_KEY),
        ([], NO_KEY),
        ([(b"authorization", b"Basic sk-alice")], NO_KEY),
    ],
)
def test_anything_else_is_a_401_that_never_quotes_the_key(
    fields: list[tuple[bytes, bytes]], message: str
) -> None:
    with pytest.raises(ClientError) as refused:
        KEYS.person(fields)
    err = refused.value
    assert (err.status, err.type, err.code) == (401, "invalid_request_error", "invalid_api_key")
    assert err.message == message


def test_a_line_holds_the_name_and_the_digest_never_the_key() -> None:
    line = key_line("carol.d@team", "sk-secret")
    assert line == f"carol.d@team {key_digest('sk-secret')}\n" and "sk-secret" not in line
    assert len(key_digest("sk-secret")) == 64


@pytest.mark.parametrize("name", ["", "two words", "-dash-first", "é", "x" * 65])
def test_a_name_a_keys_file_cannot_hold_is_refused(name: str) -> None:
    with pytest.raises(ValueError) as refused:
        key_line(name, "sk")
    assert str(refused.value) == (
        f"{name!r} cannot be a name in a keys file: 1-64 letters, digits and ._@+-, "
        "starting with a letter or digit"
    )


def test_the_file_skips_comments_and_blank_lines_and_a_person_may_hold_two_keys() -> None:
    text = "# the team\n\n" + key_line("alice", "k1") + "  \n" + key_line("alice", "k2")
    keys = parse_keys(text, "f")
    assert keys.names == {"alice"} and len(keys.by_digest) == 2
    assert keys.person([(b"authorization", b"Bearer k2")]) == "alice"
    upper = parse_keys(f"dave {key_digest('k').upper()}\n", "f")
    assert upper.person([(b"authorization", b"Bearer k")]) == "dave"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("alice\n", "line 1: expected 'NAME SHA256'"),
        ("alice abc def\n", "line 1: expected"),
        ("al ice " + "0" * 64 + "\n", "line 1: expected"),
        ("-alice " + "0" * 64 + "\n", "line 1: expected"),
        ("# c\nalice " + "z" * 64 + "\n", "line 2: alice's digest is not 64 hex digits"),
        ("alice 1234\n", "digest is not 64 hex digits"),
        (key_line("alice", "k") + key_line("bob", "k"), "line 2: bob's key is listed already"),
    ],
)
def test_a_broken_file_names_the_line(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_keys(text, "f")


def test_a_file_holds_at_most_max_keys() -> None:
    lines = [f"p{n} {key_digest(str(n))}\n" for n in range(MAX_KEYS + 1)]
    assert len(parse_keys("".join(lines[:MAX_KEYS]), "f").by_digest) == MAX_KEYS
    with pytest.raises(ValueError) as refused:
        parse_keys("".join(lines), "f")
    assert str(refused.value) == f"f, line {MAX_KEYS + 1}: more than {MAX_KEYS} keys"


def test_an_empty_file_lists_nobody() -> None:
    keys = parse_keys("", "f")
    assert keys == ClientKeys({}) and keys.names == frozenset()
    with pytest.raises(ClientError):
        keys.person([(b"authorization", b"Bearer anything")])
