"""A local Responses upstream that behaves like the ChatGPT Codex backend, for tests and demos.

`python -m addon.emulator` serves `http://127.0.0.1:8787/backend-api/codex` (`POST /responses`
as SSE, the WebSocket transport on `GET /responses`, `GET /models`). Replies are scripted and
deterministic; a `[scenario:NAME]` token in the last user message picks one (scenarios.py lists
them), including injected faults.

Layers, each usable alone: rules.py (what the backend refuses), builder.py (one response's
events), scenarios.py (the scripts), backend.py (`Emulator.respond(body, transport)` → steps,
shared by every transport), session.py (one WebSocket connection's state: sequential frames,
connection-local `previous_response_id`), server.py and websocket.py (the aiohttp HTTP and
WebSocket front ends). Only server.py, websocket.py and __main__.py do I/O.
"""

from __future__ import annotations

from .backend import Emulator, EmulatorConfig
from .builder import Drop, Emit, Reject, Sleep, Step
from .rules import Rejection, Transport
from .scenarios import Scenario, play
from .server import BASE_PATH, build_app, serving
from .session import REFUSE_HEADER, WebSocketSession

__all__ = [
    "BASE_PATH",
    "REFUSE_HEADER",
    "Drop",
    "Emit",
    "Emulator",
    "EmulatorConfig",
    "Reject",
    "Rejection",
    "Scenario",
    "Sleep",
    "Step",
    "Transport",
    "WebSocketSession",
    "build_app",
    "play",
    "serving",
]
