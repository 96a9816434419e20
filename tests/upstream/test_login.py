"""The Codex CLI's login: read, re-read on change, a clear 401 when it is missing, and the
pure rules of its refresh (expiry, the request, the new file, the refusal texts)."""

from __future__ import annotations

import base64
import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chat2responses.protocol.errors import ClientError
from chat2responses.transports.login_file import LoginFile, write_login
from chat2responses.upstream.login import (
    CodexCredentials,
    account_digest,
    bearer_of,
    jwt_expiry,
    needs_refresh,
    refresh_refused,
    refresh_request_body,
    refreshed_login,
)


def write(path: Path, data: object) -> None:
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)


def test_the_login_gives_the_codex_headers(tmp_path: Path) -> None:
    path = tmp_path / "auth.json"
    write(path, {"OPENAI_API_KEY": None, "tokens": {"access_token": "at", "account_id": "ac"}})
    headers = LoginFile(str(path)).headers()
    assert headers["authorization"] == "Bearer at"
    assert headers["chatgpt-account-id"] == "ac"
    assert headers["session_id"]
    # The client's name is identity.py's, added to every call to the backend, not the login's.
    assert "originator" not in headers and "user-agent" not in headers


def test_a_new_login_is_read_on_the_next_call(tmp_path: Path) -> None:
    path = tmp_path / "auth.json"
    write(path, {"tokens": {"access_token": "first"}})
    login = LoginFile(str(path))
    assert login.headers()["authorization"] == "Bearer first"
    write(path, {"tokens": {"access_token": "second-token"}})
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert login.headers()["authorization"] == "Bearer second-token"
    assert "chatgpt-account-id" not in login.headers()


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "no Codex login"),
        ("{not json", "not valid JSON"),
        ({"tokens": {}}, "no ChatGPT access token"),
        ({"tokens": {"access_token": ""}}, "no ChatGPT access token"),
        ([1, 2], "no ChatGPT access token"),
    ],
)
def test_a_missing_or_broken_login_is_a_401_that_says_codex_login(
    tmp_path: Path, content: object, needle: str
) -> None:
    path = tmp_path / "auth.json"
    if content is not None:
        write(path, content)
    with pytest.raises(ClientError) as caught:
        LoginFile(str(path)).headers()
    assert caught.value.status == 401
    assert needle in caught.value.message and "codex login" in caught.value.message


# --- the login's pure rules -------------------------------------------------------------------


def jwt(claims: object) -> str:
    def part(value: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(claims)}.sig"


@pytest.mark.parametrize(
    ("token", "expiry"),
    [
        (jwt({"exp": 1700000000}), 1700000000.0),
        (jwt({"exp": 1700000000.5}), 1700000000.5),
        (jwt({"sub": "x"}), None),
        (jwt({"exp": "soon"}), None),
        (jwt({"exp": True}), None),
        (jwt([1, 2]), None),
        ("opaque-token", None),
        ("a.b", None),
        ("a.!!!.c", None),
        ("a..c", None),
    ],
)
def test_the_expiry_is_read_from_the_jwt_payload(token: str, expiry: float | None) -> None:
    assert jwt_expiry(token) == expiry


@pytest.mark.parametrize(
    ("exp", "now", "margin", "due"),
    [
        (1000, 0, 300, False),
        (1000, 700, 300, True),  # within the margin
        (1000, 699, 300, False),
        (1000, 1500, 300, True),  # expired
        (1000, 1000, 0, True),
        (None, 10**12, 300, False),  # no readable exp: used as it is
    ],
)
def test_a_token_is_due_within_the_margin_of_its_expiry(
    exp: int | None, now: float, margin: float, due: bool
) -> None:
    token = jwt({"exp": exp}) if exp is not None else "opaque"
    assert needs_refresh(CodexCredentials(token, None), now, margin) is due


NOW = datetime(2026, 3, 1, 12, 30, 0, tzinfo=UTC)
NEW_ID = jwt({"https://api.openai.com/auth": {"chatgpt_account_id": "acct-new"}})
PLAIN_ID = jwt({"email": "a@example.com"})


@pytest.mark.parametrize(
    ("answer", "tokens"),
    [
        (
            {"access_token": "A2", "id_token": PLAIN_ID, "refresh_token": "R2"},
            {
                "id_token": PLAIN_ID,
                "access_token": "A2",
                "refresh_token": "R2",
                "account_id": "acct",
            },
        ),
        (
            {"access_token": "A2"},  # a token the answer lacks is kept
            {"id_token": "I1", "access_token": "A2", "refresh_token": "R1", "account_id": "acct"},
        ),
        (
            {"access_token": "A2", "id_token": NEW_ID, "refresh_token": ""},
            {
                "id_token": NEW_ID,
                "access_token": "A2",
                "refresh_token": "R1",
                "account_id": "acct-new",
            },
        ),
    ],
)
def test_a_refresh_replaces_the_tokens_and_keeps_the_rest(
    answer: dict[str, str], tokens: dict[str, str]
) -> None:
    old = {
        "OPENAI_API_KEY": None,
        "auth_mode": "chatgpt",
        "tokens": {
            "id_token": "I1",
            "access_token": "A1",
            "refresh_token": "R1",
            "account_id": "acct",
        },
        "last_refresh": "2025-01-01T00:00:00Z",
    }
    assert refreshed_login(old, answer, NOW) == {
        "OPENAI_API_KEY": None,
        "auth_mode": "chatgpt",
        "tokens": tokens,
        "last_refresh": "2026-03-01T12:30:00Z",
    }


def test_an_answer_without_an_access_token_is_a_refresh_failure() -> None:
    with pytest.raises(ClientError) as caught:
        refreshed_login({"tokens": {}}, {"id_token": "x"}, NOW)
    assert caught.value.status == 401 and "no access token" in caught.value.message


def test_the_refresh_request_is_the_codex_clis() -> None:
    assert refresh_request_body("R1") == {
        "client_id": "app_EMoamEEZ73f0CkXaXp7hrann",
        "grant_type": "refresh_token",
        "refresh_token": "R1",
        "scope": "openid profile email",
    }


@pytest.mark.parametrize(
    ("status", "body", "code", "needle"),
    [
        (
            401,
            b'{"error": {"code": "refresh_token_reused"}}',
            "codex_refresh_token_reused",
            "already used",
        ),
        (401, b'{"error": "refresh_token_expired"}', "codex_refresh_token_expired", "has expired"),
        (400, b'{"code": "REFRESH_TOKEN_INVALIDATED"}', "codex_refresh_token_revoked", "revoked"),
        (400, b'{"error": "invalid_grant"}', "codex_refresh_failed", "HTTP 400, invalid_grant"),
        (502, b"<html>bad gateway</html>", "codex_refresh_failed", "HTTP 502)"),
        (
            400,
            b'{"error": {"code": "R1 is not a valid token"}}',
            "codex_refresh_failed",
            "HTTP 400)",
        ),
    ],
)
def test_a_refused_refresh_reads_as_a_401_that_says_why(
    status: int, body: bytes, code: str, needle: str
) -> None:
    err = refresh_refused(status, body)
    assert (err.status, err.type, err.code) == (401, "authentication_error", code)
    assert needle in err.message and "codex login" in err.message
    assert "R1" not in err.message and "html" not in err.message


@pytest.mark.parametrize(
    ("creds", "same_as"),
    [
        (CodexCredentials("A1", "acct"), CodexCredentials("A2", "acct")),
        (
            CodexCredentials(
                "A1",
                None,
                id_token=jwt({"https://api.openai.com/auth": {"chatgpt_account_id": "w"}}),
            ),
            CodexCredentials("A2", "w"),
        ),
        (
            CodexCredentials(jwt({"sub": "user-1", "exp": 1}), None),
            CodexCredentials(jwt({"sub": "user-1", "exp": 2}), None),
        ),
    ],
)
def test_the_account_digest_names_the_account_not_the_token(
    creds: CodexCredentials, same_as: CodexCredentials
) -> None:
    digest = account_digest(creds)
    assert digest == account_digest(same_as)
    assert len(digest) == 12 and digest != account_digest(CodexCredentials("A1", "other"))


def test_the_bearer_is_read_back_from_the_headers(tmp_path: Path) -> None:
    path = tmp_path / "auth.json"
    write(path, {"tokens": {"access_token": "at", "account_id": "ac"}})
    assert bearer_of(LoginFile(str(path)).headers()) == "at"


def test_the_login_is_written_atomically_with_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "auth.json"
    write(path, {"tokens": {"access_token": "old"}})
    path.chmod(0o640)
    inode = path.stat().st_ino
    write_login(path, {"tokens": {"access_token": "new"}, "extra": [1]})
    assert json.loads(path.read_text()) == {"tokens": {"access_token": "new"}, "extra": [1]}
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert path.stat().st_ino != inode  # replaced, not rewritten in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["auth.json"]


def test_a_login_replaced_with_the_same_size_and_time_is_still_reread(tmp_path: Path) -> None:
    path = tmp_path / "auth.json"
    write(path, {"tokens": {"access_token": "first-token"}})
    login = LoginFile(str(path))
    assert bearer_of(login.headers()) == "first-token"
    before = path.stat()
    write_login(path, {"tokens": {"access_token": "other-token"}})
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert bearer_of(login.headers()) == "other-token"
