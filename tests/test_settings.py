"""settings: option values parsed once, from mitmproxy's typed values or from `--set` strings."""

from __future__ import annotations

import pytest

from chat2responses.options import OPTIONS
from chat2responses.settings import (
    AuthMode,
    RewriteMode,
    Settings,
    TransportMode,
)


def test_the_defaults_of_the_options_parse_to_the_default_settings() -> None:
    assert Settings.from_strings({}) == Settings.parse(
        **{name: default for name, _, default, _, _ in OPTIONS}  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("values", "field", "expected"),
    [
        ({"responses_rewrite": "all"}, "rewrite", RewriteMode.ALL),
        ({"responses_rewrite": " ALL "}, "rewrite", RewriteMode.ALL),
        ({"responses_transport": "websocket"}, "transport", TransportMode.WEBSOCKET),
        ({"responses_retries": "0"}, "retries", 0),
        ({"responses_idle_timeout": "30"}, "idle_timeout", 30),
        ({"responses_url": "https://h/v1/"}, "responses_url", "https://h/v1"),
        # codex auth without a URL: only ever the Codex backend.
        ({"responses_auth": "codex"}, "responses_url", "https://chatgpt.com/backend-api/codex"),
        ({"responses_auth": "codex"}, "auth", AuthMode.CODEX),
        ({}, "client_version", "0.171.0"),  # the newest Codex CLI the project knows
        ({"responses_client_version": " 0.153.0 "}, "client_version", "0.153.0"),
        ({}, "hosts", frozenset({"api.openai.com", "chatgpt.com"})),
        ({"responses_hosts": " API.OpenAI.com., x.test ,"}, "hosts", {"api.openai.com", "x.test"}),
        ({"responses_hosts": "[::1],10.0.0.5"}, "hosts", {"::1", "10.0.0.5"}),
        ({"responses_hosts": ""}, "hosts", frozenset()),  # the reverse target only
        ({}, "metrics", None),
        ({"responses_metrics": "127.0.0.1:9464"}, "metrics", ("127.0.0.1", 9464)),
        ({"responses_metrics": " 0.0.0.0:80 "}, "metrics", ("0.0.0.0", 80)),
        ({"responses_metrics": "[::1]:9464"}, "metrics", ("::1", 9464)),
        ({"responses_metrics": "9464"}, "metrics", ("127.0.0.1", 9464)),
        ({"responses_calls_log": " ~/calls.jsonl "}, "calls_log", "~/calls.jsonl"),
    ],
)
def test_values_as_set_spells_them(values: dict[str, str], field: str, expected: object) -> None:
    assert getattr(Settings.from_strings(values), field) == expected


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"responses_rewrite": "sometimes"}, "responses_rewrite must be one of 'catalog', 'all'"),
        ({"responses_retries": "x"}, "responses_retries must be a whole number, not 'x'"),
        ({"responses_retries": "99"}, "responses_retries must be a whole number from 0 to 10"),
        ({"responses_idle_timeout": "0"}, "responses_idle_timeout must be a whole number of"),
        ({"responses_url": "ftp://h"}, "responses_url must be an http:// or https:// URL"),
        # userinfo: aiohttp would refuse it beside the Authorization header at every call
        ({"responses_url": "https://u:p@h/v1"}, "responses_url must not hold a user name or"),
        ({"responses_url": "https://u@h/v1"}, "responses_url must not hold a user name or"),
        ({"responses_codex_refresh_url": "https://u:p@h/t"}, "responses_codex_refresh_url must"),
        ({"responses_retry": "1"}, "there is no option responses_retry; did you mean "),
        ({"responses_metrics": "localhost"}, "responses_metrics must be host:port"),
        ({"responses_metrics": "h:0"}, "responses_metrics must be host:port"),
        ({"responses_metrics": "h:70000"}, "responses_metrics must be host:port"),
        ({"responses_metrics": ":9464"}, "responses_metrics must be host:port"),
        ({"responses_nothing_like_it": "1"}, "there is no option responses_nothing_like_it"),
        ({"responses_client_version": "latest"}, "responses_client_version must be a Codex CLI"),
        ({"responses_hosts": "https://api.openai.com"}, "responses_hosts takes host names"),
        ({"responses_hosts": "api.openai.com:443"}, "responses_hosts takes host names"),
        ({"responses_hosts": "*.openai.com"}, "responses_hosts takes host names"),
    ],
)
def test_a_bad_value_or_name_is_a_value_error_naming_it(
    values: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        Settings.from_strings(values)


def test_a_refused_url_never_echoes_its_password() -> None:
    with pytest.raises(ValueError) as caught:
        Settings.from_strings({"responses_url": "ftp://user:PASS-123@h/v1"})
    assert "PASS-123" not in str(caught.value)
