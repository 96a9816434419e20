"""The steps a transport performs for one response: emit an event, sleep, drop the connection,
close a WebSocket, send HTTP headers, or reject the request before any byte.

Owns the step values only: the writer (builder.py) records them, the HTTP (server.py) and
WebSocket (websocket.py, session.py) front ends carry them out. Must not decide anything.
Pure: frozen values, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from chat2responses.emulator.rules import Rejection
from chat2responses.protocol.events import Event


@dataclass(frozen=True, slots=True)
class Emit:
    event: Event


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


@dataclass(frozen=True, slots=True)
class Drop:
    """Close the connection abruptly, with no terminal event (HTTP: an unfinished chunked body)."""


@dataclass(frozen=True, slots=True)
class Close:
    """Close a WebSocket with this close code (HTTP: cut the connection, like `Drop`)."""

    code: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Headers:
    """Response headers for an HTTP answer (before its status is sent); a WebSocket, whose
    handshake is long over, has no place for them and skips the step."""

    headers: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Reject:
    """Refuse the request before any byte: an HTTP status, or a WebSocket `error` frame."""

    rejection: Rejection


Step = Emit | Sleep | Drop | Close | Reject | Headers
