"""The Codex CLI's login: read, re-read on change, and a clear 401 when it is missing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from addon.auth import CodexLogin
from addon.errors import ClientError


def write(path: Path, data: object) -> None:
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)


def test_the_login_gives_the_codex_headers(tmp_path: Path) -> None:
    path = tmp_path / "auth.json"
    write(path, {"OPENAI_API_KEY": None, "tokens": {"access_token": "at", "account_id": "ac"}})
    headers = CodexLogin(str(path)).headers()
    assert headers["authorization"] == "Bearer at"
    assert headers["chatgpt-account-id"] == "ac"
    assert headers["originator"] and headers["session_id"]


def test_a_new_login_is_read_on_the_next_call(tmp_path: Path) -> None:
    path = tmp_path / "auth.json"
    write(path, {"tokens": {"access_token": "first"}})
    login = CodexLogin(str(path))
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
        CodexLogin(str(path)).headers()
    assert caught.value.status == 401
    assert needle in caught.value.message and "codex login" in caught.value.message
