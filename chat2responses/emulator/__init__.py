"""A local Responses upstream that behaves like the ChatGPT Codex backend, for tests and demos.

`python -m chat2responses.emulator` serves `http://127.0.0.1:8787/backend-api/codex`
(`POST /responses` as SSE, the WebSocket transport on `GET /responses`, `GET /models` with an
ETag) and the login's
`POST /oauth/token` on the same port. Replies are scripted and deterministic; a
`[scenario:NAME]` token in the last user message picks one (triggers.py lists them), including
injected faults. `--help` lists the switches (latency, quota, login, age limit, catalog).

Layers, each usable alone: rules.py (what the backend refuses), lite.py (Responses-Lite's shape),
tokens.py (token counts and the prompt cache), signing.py (the secret; reasoning items'
`encrypted_content`), login.py (tokens, refresh, strict login), quota.py (quota headers,
`codex.rate_limits`, `usage_limit_reached`), latency.py (the latency model), tools.py (tool-call
arguments), steps.py (what a front end carries out), builder.py (one response's events),
response_object.py (the `Response` object and its usage), triggers.py (which scenario a request asks
for), replies.py and faults.py (the scripts), scenarios.py (`play`: a request's steps), backend.py
(`Emulator.respond(body, transport, caller)` → steps, shared by every transport), session.py (one
WebSocket connection's state: sequential frames, connection-local `previous_response_id`, the age
limit), server.py and websocket.py (the aiohttp HTTP and WebSocket front ends). Only server.py,
websocket.py and __main__.py do I/O (and backend.py reads the embedded catalog).
"""

from __future__ import annotations

from chat2responses.emulator.backend import Caller, Emulator, EmulatorConfig
from chat2responses.emulator.latency import Latency
from chat2responses.emulator.quota import Quota, Window
from chat2responses.emulator.replies import Turn
from chat2responses.emulator.rules import Rejection, Transport
from chat2responses.emulator.scenarios import play
from chat2responses.emulator.server import BASE_PATH, TOKEN_PATH, build_app, serving
from chat2responses.emulator.session import REFUSE_HEADER, WebSocketSession
from chat2responses.emulator.steps import Close, Drop, Emit, Reject, Sleep, Step
from chat2responses.emulator.triggers import Scenario

__all__ = [
    "BASE_PATH",
    "REFUSE_HEADER",
    "TOKEN_PATH",
    "Caller",
    "Close",
    "Drop",
    "Emit",
    "Emulator",
    "EmulatorConfig",
    "Latency",
    "Quota",
    "Reject",
    "Rejection",
    "Scenario",
    "Sleep",
    "Step",
    "Transport",
    "Turn",
    "WebSocketSession",
    "Window",
    "build_app",
    "play",
    "serving",
]
