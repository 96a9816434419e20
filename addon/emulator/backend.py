"""The emulated Codex backend, transport-free: request in, steps out.

`Emulator.respond(body, transport)` applies the backend's rules (rules.py), numbers the response,
and plays the scripted scenario (scenarios.py). Both front ends call it: the HTTP handler frames
each emitted event as SSE, a WebSocket handler sends it as one text frame; a `Reject` step becomes
an HTTP error response or a WebSocket `error` frame.

The model catalog is the package's embedded `models.json` (the Codex backend's `/models` shape);
its slugs with `prefer_websockets` are the families refused over HTTP, plus the test prefix
`ws-only-` (a model unknown to every catalog that still needs WebSocket).

No I/O beyond reading the embedded catalog once; the clock is injected.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import itertools
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .builder import Reject, Step
from .rules import NOT_AN_OBJECT, Transport, check_request
from .scenarios import play

# Models whose name starts with this are refused over HTTP whatever the catalog says.
WS_ONLY_TEST_PREFIX = "ws-only-"


def embedded_catalog() -> dict[str, Any]:
    """The package's `models.json`, or an empty catalog when the package has none."""
    resource = importlib.resources.files("addon").joinpath("models.json")
    try:
        catalog = json.loads(resource.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"models": []}
    if not isinstance(catalog, dict) or not isinstance(catalog.get("models"), list):
        raise ValueError("addon/models.json must be an object with a 'models' list")
    return catalog


def websocket_slugs(catalog: Mapping[str, Any]) -> frozenset[str]:
    """The catalog's slugs whose entry sets `prefer_websockets`."""
    return frozenset(
        model["slug"]
        for model in catalog.get("models", ())
        if isinstance(model, dict)
        and model.get("prefer_websockets") is True
        and isinstance(model.get("slug"), str)
    )


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    """What a run of the emulator is configured with.

    `ws_only`: model families refused over HTTP (see `rules.model_family`); `http_ok`: families
    served over HTTP even if `ws_only` names them; `refuse_websocket`: answer every WebSocket
    handshake with 426 Upgrade Required, like an upstream without the WebSocket transport (the
    handshake names no model, so this is per server; per handshake, see session.py); `seed`:
    makes response ids differ between runs that want them to, and repeat between runs that do not.
    """

    catalog: Mapping[str, Any] = field(default_factory=lambda: {"models": []})
    ws_only: frozenset[str] = frozenset({WS_ONLY_TEST_PREFIX})
    http_ok: frozenset[str] = frozenset()
    refuse_websocket: bool = False
    seed: str = "emulator"

    @classmethod
    def default(cls, **overrides: Any) -> EmulatorConfig:
        """The embedded catalog, and its WebSocket-preferring slugs as `ws_only`."""
        catalog = embedded_catalog()
        ws_only = websocket_slugs(catalog) | {WS_ONLY_TEST_PREFIX}
        return cls(**({"catalog": catalog, "ws_only": ws_only} | overrides))


class Emulator:
    """Answers Responses requests with steps. One instance serves every connection."""

    def __init__(self, config: EmulatorConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self._clock = clock
        self._counter = itertools.count()

    def next_response_id(self) -> str:
        digest = hashlib.sha256(f"{self.config.seed}:{next(self._counter)}".encode()).hexdigest()
        return f"resp_{digest[:32]}"

    def respond(self, body: object, transport: Transport) -> list[Step]:
        """The steps answering `body` over `transport`: one `Reject`, or a scripted stream."""
        if not isinstance(body, dict):
            return [Reject(NOT_AN_OBJECT)]
        rejection = check_request(
            body, transport, ws_only=self.config.ws_only, http_ok=self.config.http_ok
        )
        if rejection is not None:
            return [Reject(rejection)]
        return play(body, response_id=self.next_response_id(), created_at=int(self._clock()))
