"""What the glue hands the driver for one call (`CallJob`), and what the call did (`CallOutcome`).

Plain data, shared by the glue (which builds the job and reads the outcome once, at the end) and
the driver (which carries the job out and fills the outcome as it goes).

Must not: hold a credential. The client's forwarded headers are the client's own; the addon's
login is an object asked for headers at send time; recorded headers are redacted as recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from chat2responses.call.memory import Memory
from chat2responses.call.policy import Plan, Route, Tried
from chat2responses.call.turn import Turn
from chat2responses.protocol.transcript import DISPLAY_LIMIT, Transcript
from chat2responses.response.chat_sinks import Sink
from chat2responses.upstream.catalog import ModelMatch
from chat2responses.upstream.profiles import UpstreamProfile
from chat2responses.upstream.quota_tap import QuotaTap

# Header values never recorded for display (DESIGN: credentials never enter a flow).
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "api-key",
        "x-api-key",
        "chatgpt-account-id",
        "openai-organization",
        "openai-project",
    }
)


@dataclass(slots=True)
class CallOutcome:
    """What one call did: filled by the driver as it goes, read once by the glue at the end."""

    tried: list[Tried] = field(default_factory=list)
    status: int | None = None  # what the client was answered
    first_byte_at: float | None = None  # monotonic: the first chunk (or JSON answer) written
    error: str | None = None
    usage: dict[str, Any] | None = None
    # The last attempt's upstream request, for the upstream leg in mitmweb (headers redacted).
    headers: dict[str, str] = field(default_factory=dict)
    sent: bytes = b""
    upstream_status: int | None = None
    upstream: Transcript = field(default_factory=Transcript)  # HTTP: the raw answer
    frames: list[str] = field(default_factory=list)  # WebSocket: the frames received
    frames_size: int = 0
    client: bytes = b""  # what a streaming client was sent (bounded), for display
    quota: str = ""  # the account's quota after the call, in words
    learned: bool = False  # the route it took is one Memory now remembers
    continued: bool = False  # sent as previous_response_id + the new items
    sent_items: int = 0  # input items sent, of `full_items`
    full_items: int = 0
    # The full request a continued call did not send (its size is shown at the end).
    full_body: dict[str, Any] | None = None
    replayed: int = 0  # kept reasoning items replayed into a full request

    @property
    def route(self) -> Route | None:
        return self.tried[-1].attempt.route if self.tried else None

    def keep_frame(self, frame: str) -> None:
        if self.frames_size + len(frame) <= DISPLAY_LIMIT:
            self.frames.append(frame)
            self.frames_size += len(frame)


class RelaySignal(Protocol):
    """Whether mitmproxy has relayed the answer's first bytes (transports/answer.py `Relayed`)."""

    def set(self) -> None: ...

    def is_set(self) -> bool: ...

    async def wait(self, seconds: float) -> None: ...


class Login(Protocol):
    """The addon's own upstream login (responses_auth=codex): see login_refresh.CodexLogin."""

    async def headers(self) -> dict[str, str]: ...

    async def refresh_after_401(self, rejected_access_token: str) -> dict[str, str]: ...


@dataclass(slots=True)
class CallJob:
    """Everything one call needs, handed from the glue to the driver. Holds no credential:
    the client's forwarded headers are the client's own, and `auth` fetches the login's."""

    http_url: str
    ws_url: str
    body: dict[str, Any]  # the translation's body: never mutated (attempts copy it)
    headers: dict[str, str]  # forwarded client headers
    profile: UpstreamProfile  # the backend's rules: handshake headers, what a frame drops
    plan: Plan
    memory: Memory
    upstream: str  # the key Memory learns under
    match: ModelMatch
    make_sink: Callable[[], Sink]
    idle_timeout: float
    keepalive: float = 0.0  # seconds of silence before a streaming client gets `: keepalive`
    ssl: Any = None
    login: Login | None = None
    http_headers: Mapping[str, str] = field(default_factory=dict)  # e.g. the Lite marker
    ws_extra: Mapping[str, Any] = field(default_factory=dict)  # merged into response.create
    quota: QuotaTap | None = None  # where this call's quota readings go
    turn: Turn | None = None  # the call's part in its conversation (continuation, replay)
    session_headers: Mapping[str, str] = field(default_factory=dict)  # the conversation's id
    relayed: RelaySignal | None = None  # the glue's word that mitmproxy relayed the first bytes
    outcome: CallOutcome = field(default_factory=CallOutcome)


def redacted(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: ("<redacted>" if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}
