"""Route decisions, learning, and the upstream URLs: tables of literal cases."""

from __future__ import annotations

import pytest

from addon.catalog import Catalog
from addon.errors import UpstreamError
from addon.routing import (
    Reason,
    Route,
    RouteDecision,
    Router,
    is_chat_completions_path,
    refused_for_websocket,
    responses_url_for,
    websocket_url,
)
from addon.settings import TransportMode

CATALOG = Catalog.default()
AUTO, HTTP, WS = TransportMode.AUTO, TransportMode.HTTP, TransportMode.WEBSOCKET
W = Route.WEBSOCKET


@pytest.mark.parametrize(
    ("transport", "model", "learned", "expected"),
    [
        (AUTO, "gpt-5.5", None, RouteDecision(Route.WEBSOCKET, Reason.CATALOG)),
        (AUTO, "gpt-5-codex", None, RouteDecision(Route.HTTP, Reason.DEFAULT)),
        (HTTP, "gpt-5.5", None, RouteDecision(Route.HTTP, Reason.FORCED, True)),
        (WS, "gpt-5-codex", None, RouteDecision(Route.WEBSOCKET, Reason.FORCED, True)),
        (AUTO, "gpt-5.5", Route.WEBSOCKET, RouteDecision(Route.WEBSOCKET, Reason.CATALOG, True)),
        (AUTO, "gpt-5.5", Route.HTTP, RouteDecision(Route.HTTP, Reason.LEARNED, True)),
        (
            AUTO,
            "gpt-5-codex",
            Route.WEBSOCKET,
            RouteDecision(Route.WEBSOCKET, Reason.LEARNED, True),
        ),
        (AUTO, "gpt-5-codex", Route.HTTP, RouteDecision(Route.HTTP, Reason.DEFAULT, True)),
        (HTTP, "gpt-5-codex", Route.WEBSOCKET, RouteDecision(Route.HTTP, Reason.FORCED, True)),
    ],
)
def test_decisions(
    transport: TransportMode, model: str, learned: Route | None, expected: RouteDecision
) -> None:
    router = Router()
    match = CATALOG.match(model)
    if learned is not None:
        router.learn(match, learned)
    assert router.decide(transport, match) == expected


def test_learning_is_per_family_for_catalog_models_and_per_name_otherwise() -> None:
    router = Router()
    router.learn(CATALOG.match("gpt-5.5-2026-04-23"), Route.HTTP)
    assert router.decide(AUTO, CATALOG.match("GPT-5.5")).route is Route.HTTP
    router.learn(CATALOG.match("Mystery-1"), Route.WEBSOCKET)
    assert router.decide(AUTO, CATALOG.match("mystery-1")).route is Route.WEBSOCKET
    assert router.decide(AUTO, CATALOG.match("mystery-2")).route is Route.HTTP


@pytest.mark.parametrize(
    ("status", "code", "message", "expected"),
    [
        (
            400,
            "routing_unsupported",
            "GPT-5.5 routing only supports Responses-compatible requests",
            True,
        ),
        (400, None, "routing_unsupported: GPT-5.5 routing only supports …", True),
        (426, None, "use the WebSocket transport", True),
        (400, "unsupported_parameter", "Unsupported parameter: temperature", False),
        (500, "routing_unsupported", "server error", False),
        (429, "rate_limit_exceeded", "slow down", False),
    ],
)
def test_what_counts_as_needing_websocket(
    status: int, code: str | None, message: str, expected: bool
) -> None:
    assert refused_for_websocket(UpstreamError(message, status=status, code=code)) is expected


@pytest.mark.parametrize(
    ("configured", "origin", "path", "expected"),
    [
        ("", "https://api.openai.com", "/v1/chat/completions", "https://api.openai.com/v1/responses"),
        ("", "http://h:8080", "/v1/chat/completions/?x=1", "http://h:8080/v1/responses?x=1"),
        ("https://chatgpt.com/backend-api/codex", "http://x", "/v1/chat/completions",
         "https://chatgpt.com/backend-api/codex/responses"),
        ("http://127.0.0.1:9/up/", "http://x", "/chat/completions", "http://127.0.0.1:9/up/responses"),
    ],
)  # fmt: skip
def test_responses_urls(configured: str, origin: str, path: str, expected: str) -> None:
    assert responses_url_for(configured, origin, path) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://chatgpt.com/backend-api/codex/responses", "wss://chatgpt.com/backend-api/codex/responses"),
        ("http://127.0.0.1:8/v1/responses", "ws://127.0.0.1:8/v1/responses"),
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
