"""identity: the Codex CLI identity on every call to the Codex backend, checked against what the
CLI itself sends (tests/fixtures/codex_cli_0.171.0.json), and the model gating it drives."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from chat2responses.transports.catalog_fetch import models_url
from chat2responses.upstream.identity import (
    CODEX_CLI_VERSION,
    OPTION,
    check_client_version,
    identity_headers,
    is_codex_client,
    is_codex_originator,
    parse_version,
    refresh_headers,
    too_old_for,
    user_agent,
    version_of,
    with_identity,
)

CAPTURE = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "codex_cli_0.171.0.json").read_text("utf-8")
)
# default_client.rs: `{originator}/{version} ({os} {os version}; {arch}) {terminal}[ (suffix)]`
AGENT = re.compile(r"^(?P<originator>[a-z_]+)/(?P<version>\d+\.\d+\.\d+) \(\S+ [\d.]+; \S+\) \S+")


def captured(request: str) -> dict[str, str]:
    return {name.lower(): value for name, value in CAPTURE[request]["headers"]}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.153.0", (0, 153, 0)),
        (" 0.171.0 ", (0, 171, 0)),
        ("0.129.0-alpha.6", (0, 129, 0)),
        ([0, 99, 0], (0, 99, 0)),
        ((1, 2, 3), (1, 2, 3)),
        ("0.153", None),
        ("v0.153.0", None),
        ("0.153.0.1", None),
        ([0, 99], None),
        ([0, True, 0], None),
        (["0", "99", "0"], None),
        (None, None),
        (153, None),
    ],
)
def test_parse_version(value: object, expected: tuple[int, int, int] | None) -> None:
    assert parse_version(value) == expected


def test_the_identity_has_the_clis_own_shape() -> None:
    """The same headers, in the same form, as the CLI's /models request and WebSocket
    handshake: only the originator differs (the interactive CLI's, which every model takes)."""
    ours = identity_headers(CODEX_CLI_VERSION)
    for request in ("models_request", "websocket"):
        theirs = captured(request)
        assert set(ours) <= set(theirs)
        found = AGENT.match(theirs["user-agent"])
        assert found is not None and found["version"] == theirs["version"] == CODEX_CLI_VERSION
        assert found["originator"] == theirs["originator"] == "codex_exec"
    mine = AGENT.match(ours["user-agent"])
    assert mine is not None and mine["version"] == ours["version"] == CODEX_CLI_VERSION
    assert mine["originator"] == ours["originator"] == "codex_cli_rs"
    assert ours["user-agent"].endswith(") unknown")  # a proxy has no terminal
    assert refresh_headers("0.160.0") == {
        "originator": "codex_cli_rs",
        "user-agent": user_agent("0.160.0"),
    }


def test_the_catalog_is_asked_for_as_the_cli_asks() -> None:
    theirs = CAPTURE["models_request"]
    url = models_url("https://chatgpt.com/backend-api/codex", CODEX_CLI_VERSION)
    assert urlsplit(url).path == theirs["path"]
    assert parse_qs(urlsplit(url).query) == parse_qs(theirs["query"])


def test_the_clients_own_name_never_goes_on() -> None:
    client = {"user-agent": "OpenAI/Python 2.9.0", "originator": "cline", "version": "9", "x": "y"}
    assert with_identity(client, "0.160.0") == {"x": "y", **identity_headers("0.160.0")}
    assert client["user-agent"] == "OpenAI/Python 2.9.0"  # the given mapping is not changed


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"version": "0.150.1"}, (0, 150, 1)),
        ({"version": "0.150.1", "user-agent": "codex_cli_rs/0.171.0 (Linux 6; x)"}, (0, 150, 1)),
        ({"user-agent": "codex_exec/0.171.0 (Debian 12.0.0; x86_64) xterm"}, (0, 171, 0)),
        ({"version": "junk", "user-agent": "codex_cli_rs/0.144.2 (x)"}, (0, 144, 2)),
        ({"user-agent": "OpenAI/Python 2.9.0"}, None),
        ({}, None),
    ],
)
def test_version_of(headers: dict[str, str], expected: tuple[int, int, int] | None) -> None:
    assert version_of(headers) == expected


@pytest.mark.parametrize(
    ("originator", "codex"),
    [
        ("codex_cli_rs", True),
        ("codex_exec", True),
        ("codex-tui", True),
        ("codex_vscode", True),
        ("Codex Desktop", True),
        (" codex_exec ", True),
        ("codex_cli", False),
        ("cline", False),
        ("", False),
        (None, False),
    ],
)
def test_is_codex_originator(originator: str | None, codex: bool) -> None:
    assert is_codex_originator(originator) is codex


@pytest.mark.parametrize(
    ("fields", "codex"),
    [
        (((b"originator", b"codex_exec"),), True),
        (((b"Originator", b"Codex Desktop"),), True),
        (((b"user-agent", b"codex_exec/0.171.0 (Debian 12.0.0; x86_64) xterm"),), True),
        (((b"User-Agent", b"codex_vscode/0.171.0"),), True),
        (((b"user-agent", b"OpenAI/Python 2.8.1"), (b"originator", b"cline")), False),
        (((b"user-agent", b"opencode/1.18.33 (linux) ai-sdk/provider-utils/4.0.40"),), False),
        (((b"user-agent", b"my-codex_tool/1.0.0"),), False),
        (((b"user-agent", b"codex_exec"),), False),  # no version: not `<originator>/<version>`
        (((b"x-originator", b"codex_exec"),), False),
        ((), False),
    ],
)
def test_is_codex_client(fields: tuple[tuple[bytes, bytes], ...], codex: bool) -> None:
    assert is_codex_client(fields) is codex


def test_a_model_too_new_for_the_version_is_a_400_naming_version_and_option() -> None:
    refusal = too_old_for("gpt-6-astra", (0, 153, 0), "0.150.0")
    assert refusal is not None and (refusal.status, refusal.param) == (400, "model")
    assert refusal.code == "client_version_too_old"
    assert "gpt-6-astra" in refusal.message and "0.153.0" in refusal.message
    assert OPTION in refusal.message and "0.150.0" in refusal.message
    assert f"--set {OPTION}={CODEX_CLI_VERSION}" in refusal.message
    assert too_old_for("gpt-6-astra", (0, 153, 0), "0.153.0") is None
    assert too_old_for("gpt-6-astra", (0, 153, 0), "0.171.0") is None
    assert too_old_for("gpt-5.5", None, "0.1.0") is None


@pytest.mark.parametrize("value", ["0.171.0", " 0.153.0 ", "0.180.0-alpha.1"])
def test_a_client_version_option_is_a_version(value: str) -> None:
    assert check_client_version(value) == value.strip()


@pytest.mark.parametrize("value", ["", "latest", "0.171", "1.2.3.4"])
def test_a_bad_client_version_option_names_the_option(value: str) -> None:
    with pytest.raises(ValueError, match=f"^{OPTION} must be a Codex CLI version"):
        check_client_version(value)
