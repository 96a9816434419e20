"""Which paths are ours, and the upstream URLs: tables of literal cases."""

from __future__ import annotations

import pytest

from chat2responses.upstream import routing
from chat2responses.upstream.catalog import Catalog
from chat2responses.upstream.profiles import (
    CODEX,
    OPENAI,
    OPENAI_API,
    UpstreamProfile,
    profile_for_url,
)
from chat2responses.upstream.routing import (
    CallKind,
    call_kind,
    is_chat_completions_path,
    is_loopback,
    ours_under_catalog,
    redacted_url,
    responses_url_for,
    upstream_for,
    websocket_url,
)


@pytest.mark.parametrize(
    ("configured", "origin", "path", "expected"),
    [
        ("", "https://api.openai.com", "/v1/chat/completions", "https://api.openai.com/v1/responses"),
        ("", "http://h:8080", "/v1/chat/completions/?x=1", "http://h:8080/v1/responses?x=1"),
        ("https://chatgpt.com/backend-api/codex", "http://x", "/v1/chat/completions",
         "https://chatgpt.com/backend-api/codex/responses"),
        ("http://127.0.0.1:9/up/", "http://x", "/chat/completions", "http://127.0.0.1:9/up/responses"),
        ("https://h/openai/v1?api-version=preview", "http://x", "/chat/completions",
         "https://h/openai/v1/responses?api-version=preview"),
        ("", "https://h", "/openai/deployments/d/chat/completions?api-version=1",
         "https://h/openai/deployments/d/responses?api-version=1"),
    ],
)  # fmt: skip
def test_responses_urls(configured: str, origin: str, path: str, expected: str) -> None:
    assert responses_url_for(configured, origin, path) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://chatgpt.com/backend-api/codex/responses", "wss://chatgpt.com/backend-api/codex/responses"),
        ("http://127.0.0.1:8/v1/responses", "ws://127.0.0.1:8/v1/responses"),
        ("HTTPS://h/v1/responses?api-version=2", "wss://h/v1/responses?api-version=2"),
    ],
)  # fmt: skip
def test_websocket_urls(url: str, expected: str) -> None:
    assert websocket_url(url) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/chat/completions", True),
        ("/chat/completions?api-version=1", True),
        ("/openai/deployments/x/chat/completions/", True),
        ("/v1/completions", False),
        ("/v1/chat/completions/abc", False),
        ("/v1/responses", False),
    ],
)
def test_which_paths_are_chat_completions(path: str, expected: bool) -> None:
    assert is_chat_completions_path(path) is expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "wss://user:pw@example.com:8443/v1/responses?api_key=k#f",
            "wss://example.com:8443/v1/responses",
        ),
        (
            "https://chatgpt.com/backend-api/codex/responses",
            "https://chatgpt.com/backend-api/codex/responses",
        ),
        ("http://token@127.0.0.1:9/up?key=sk-1", "http://127.0.0.1:9/up"),
    ],
)
def test_redacted_url_drops_userinfo_query_and_fragment(url: str, expected: str) -> None:
    assert redacted_url(url) == expected


@pytest.mark.parametrize(
    ("model", "profile", "chat", "ours"),
    [
        ("gpt-5.5", OPENAI, True, True),  # the catalog lists it
        ("gpt-5.5", OPENAI, False, True),
        ("gpt-5.4", OPENAI, True, True),  # a catalog alias
        ("gpt-5-codex", OPENAI_API, True, True),  # the API's chat endpoint refuses it
        ("GPT-5.1-Codex-Max", OPENAI_API, True, True),
        ("codex-mini-latest", OPENAI_API, True, True),
        ("gpt-5-codex", OPENAI_API, False, False),  # the API's /responses serves it as sent
        ("gpt-5-codex", OPENAI, True, False),  # another upstream may serve it by chat
        ("gpt-5-codex", CODEX, True, False),
        ("gpt-4o", OPENAI_API, True, False),  # the API's chat endpoint serves it
        ("o3-pro", OPENAI_API, True, False),  # not known to stream: not rewritten
        (None, OPENAI_API, True, False),
    ],
)
def test_which_models_are_ours_under_rewrite_catalog(
    model: str | None, profile: UpstreamProfile, chat: bool, ours: bool
) -> None:
    match = Catalog.default().match(model) if model is not None else None
    assert ours_under_catalog(match, profile, chat=chat) is ours


@pytest.mark.parametrize(
    ("configured", "origin", "path", "expected"),
    [
        # responses_url set: its endpoint, whatever the client asked for
        ("https://chatgpt.com/backend-api/codex", "", "/v1/chat/completions",
         "https://chatgpt.com/backend-api/codex/responses"),
        ("https://h/openai/v1?api-version=preview", "", "/chat/completions",
         "https://h/openai/v1/responses?api-version=preview"),
        # empty (transparent interception): the request's own origin and path
        ("", "https://api.openai.com", "/v1/chat/completions", "https://api.openai.com/v1/responses"),
        ("", "http://h:8080", "/v1/chat/completions?x=1", "http://h:8080/v1/responses?x=1"),
    ],
)  # fmt: skip
def test_the_upstream_of_a_request(configured: str, origin: str, path: str, expected: str) -> None:
    up = upstream_for(configured, origin, path)
    assert up.http_url == expected
    assert up.ws_url == expected.replace("https://", "wss://").replace("http://", "ws://")
    assert up.key == redacted_url(expected) and up.ws_shown == redacted_url(up.ws_url)
    assert up.profile is profile_for_url(expected)


def test_the_upstream_shown_holds_no_credential() -> None:
    up = upstream_for("https://user:secret@h/v1?key=sk-1", "", "/chat/completions")
    assert "secret" not in up.key + up.ws_shown and "sk-1" not in up.key + up.ws_shown
    assert up.http_url == "https://user:secret@h/v1/responses?key=sk-1"


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/v1/chat/completions", CallKind.CHAT),
        ("/v1/chat/completions?x=1", CallKind.CHAT),
        ("/v1/responses", CallKind.RESPONSES),
        ("/v1/responses/resp_1", None),
        ("/v1/models", None),
    ],
)
def test_the_kind_of_a_call(path: str, kind: CallKind | None) -> None:
    assert call_kind(path) is kind


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://127.0.0.1:9/v1", True),
        ("http://127.8.0.1/v1", True),
        ("http://[::1]:8080/v1", True),
        ("http://localhost:1/v1", True),
        ("http://emulator.localhost/v1", True),
        ("https://chatgpt.com/backend-api/codex", False),
        ("http://10.0.0.5/v1", False),
        ("http://[2001:db8::1]/v1", False),
        ("http://localhost.example.com/v1", False),
    ],
)
def test_an_upstream_on_this_host_is_known_as_such(url: str, local: bool) -> None:
    assert is_loopback(url) is local
    assert upstream_for(url, "", "/chat/completions").local is local


HOSTS = frozenset({"api.openai.com", "chatgpt.com"})


@pytest.mark.parametrize(
    ("host", "reverse", "expected"),
    [
        ("api.openai.com", False, True),
        ("API.OpenAI.com", False, True),
        ("api.openai.com.", False, True),
        ("chatgpt.com", False, True),
        ("openrouter.ai", False, False),
        ("api.anthropic.com", False, False),
        ("evil-api.openai.com", False, False),  # no suffix matching: exact names only
        ("openai.com", False, False),
        ("127.0.0.1", False, False),
        ("127.0.0.1", True, True),  # in reverse mode every request is addressed to the target
        ("openrouter.ai", True, True),
    ],
)
def test_only_the_hosts_of_responses_hosts_are_ours(
    host: str, reverse: bool, expected: bool
) -> None:
    assert routing.host_is_ours(host, HOSTS, reverse=reverse) is expected


@pytest.mark.parametrize(
    ("path", "native"),
    [
        ("/backend-api/codex/responses", True),
        ("/backend-api/codex/models?client_version=1", True),
        ("/backend-api/codex", True),
        ("/backend-api/codexes/responses", False),
        ("/v1/responses", False),
        ("/v1/chat/completions", False),
        ("/backend-api/other/responses", False),
    ],
)
def test_the_codex_backends_own_paths_are_native(path: str, native: bool) -> None:
    assert routing.is_native_codex_path(path) is native


def test_the_loop_message_names_the_loop_and_the_fixes() -> None:
    message = routing.loop_error_message("api.openai.com")
    assert "loop" in message and "api.openai.com" in message
    assert "HTTPS_PROXY" in message and "NO_PROXY" in message and "exclude" in message
