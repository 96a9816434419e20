"""Where a rewritten request goes: the upstream URL and the transport, with what was learned.

The route is decided from the settings, the catalog entry, and what earlier upstream answers
taught (a model refused over HTTP because it needs WebSocket, or a WebSocket handshake refused
with 426). What was learned lasts for the life of the process. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from .catalog import ModelMatch
from .errors import ProxyError
from .settings import TransportMode


class Route(StrEnum):
    HTTP = "http"
    WEBSOCKET = "websocket"


class Reason(StrEnum):
    FORCED = "forced"
    CATALOG = "catalog"
    DEFAULT = "default"
    LEARNED = "learned"


@dataclass(frozen=True, slots=True)
class RouteDecision:
    route: Route
    reason: Reason
    # The upstream has already served this model over this route (or the route is forced):
    # no fallback can be needed, so the flow may skip the bridge.
    confirmed: bool = False


MAX_LEARNED = 1024


@dataclass(slots=True)
class Router:
    """Chooses HTTP or WebSocket per model, and remembers what upstreams refused."""

    learned: dict[str, Route] = field(default_factory=dict)

    def decide(self, transport: TransportMode, match: ModelMatch) -> RouteDecision:
        if transport is TransportMode.HTTP:
            return RouteDecision(Route.HTTP, Reason.FORCED, confirmed=True)
        if transport is TransportMode.WEBSOCKET:
            return RouteDecision(Route.WEBSOCKET, Reason.FORCED, confirmed=True)
        if match.info is not None and match.info.prefer_websockets:
            base = RouteDecision(Route.WEBSOCKET, Reason.CATALOG)
        else:
            base = RouteDecision(Route.HTTP, Reason.DEFAULT)
        learned = self.learned.get(self.key(match))
        if learned is None:
            return base
        if learned is base.route:
            return RouteDecision(base.route, base.reason, confirmed=True)
        return RouteDecision(learned, Reason.LEARNED, confirmed=True)

    def learn(self, match: ModelMatch, route: Route) -> None:
        key = self.key(match)
        self.learned.pop(key, None)
        self.learned[key] = route
        while len(self.learned) > MAX_LEARNED:  # a client inventing names must not grow it
            del self.learned[next(iter(self.learned))]

    @staticmethod
    def key(match: ModelMatch) -> str:
        """One entry per catalog family, or per name for models the catalog does not know."""
        return match.info.slug if match.info is not None else match.upstream_name.lower()


# A 4xx that says the model is served only over the WebSocket transport. The Codex backend
# answers `routing_unsupported: GPT-5.5 routing only supports Responses-compatible requests`.
_NEEDS_WEBSOCKET = re.compile(r"routing_unsupported|websocket", re.IGNORECASE)


def refused_for_websocket(err: ProxyError) -> bool:
    """Does this upstream HTTP error mean "use the WebSocket transport for this model"?"""
    if not 400 <= err.status < 500:
        return False
    return bool(_NEEDS_WEBSOCKET.search(f"{err.code or ''} {err.message}"))


def responses_url_for(responses_url: str, origin: str, path: str) -> str:
    """The HTTP URL of the Responses endpoint for one intercepted chat request.

    `responses_url` set: `{responses_url}/responses`. Empty: the request's own origin and path,
    with its trailing `/chat/completions` replaced by `/responses` (the query is kept).
    """
    if responses_url:
        return responses_url.rstrip("/") + "/responses"
    base, sep, query = path.partition("?")
    base = base.rstrip("/")
    base = base.removesuffix("/chat/completions") + "/responses"
    return origin + base + (sep + query if sep else "")


def websocket_url(http_url: str) -> str:
    """`https://…/responses` → `wss://…/responses` (and http → ws)."""
    if http_url.startswith("https://"):
        return "wss://" + http_url.removeprefix("https://")
    if http_url.startswith("http://"):
        return "ws://" + http_url.removeprefix("http://")
    return http_url


def is_chat_completions_path(path: str) -> bool:
    return path.partition("?")[0].rstrip("/").endswith("/chat/completions")
