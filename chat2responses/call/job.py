"""What a planned call is (`CallJob`), what it did (`CallOutcome`), and when (`CallTimes`).

`call/plan.py` builds the job; the driver carries it out. Each record has one writer: the call
machine (call/machine.py) writes the outcome, the transport that runs it writes the times, and the
glue reads both once, when the flow ends.

Must not: hold a credential. The client's forwarded headers are the client's own; the addon's
login is an object asked for headers at send time; recorded headers are redacted as recorded.
Pure: no I/O; the login, the TLS context and the relay signal are carried for the transports,
opaque here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from chat2responses.call.budget import RetryBudgets
from chat2responses.call.giving_up import Client
from chat2responses.call.memory import Memory
from chat2responses.call.policy import Plan, Route, Tried
from chat2responses.call.turn import Turn
from chat2responses.protocol.errors import ProxyError
from chat2responses.protocol.transcript import DISPLAY_LIMIT, Transcript
from chat2responses.request.translate import Translation
from chat2responses.response.chat_sinks import Sink
from chat2responses.upstream.quota_tap import QuotaTap
from chat2responses.upstream.routing import CallKind, Upstream

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
    """What one call did: written by its machine only, read once by the glue at the end."""

    tried: list[Tried] = field(default_factory=list)
    status: int | None = None  # what the client was answered
    error: str | None = None
    error_code: str | None = None  # the error's code (the per-call log names only this)
    usage: dict[str, Any] | None = None
    # The last attempt's upstream request, for the upstream leg in mitmweb (headers redacted).
    headers: dict[str, str] = field(default_factory=dict)
    sent: str = ""
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
    # A continued call: the size of the client's request, which a full resend would have sent
    # (shown beside what was sent; measured on the client's bytes, never by encoding it again).
    full_size: int = 0
    replayed: int = 0  # kept reasoning items replayed into a full request
    socket: int | None = None  # the WebSocket the last attempt used: its number in this process
    socket_turn: int = 0  # and how many responses it has carried, this one included

    @property
    def route(self) -> Route | None:
        return self.tried[-1].attempt.route if self.tried else None

    def has_room(self, size: int) -> bool:
        return self.frames_size + size <= DISPLAY_LIMIT

    def keep_frame(self, frame: str) -> None:
        if self.has_room(len(frame)):
            self.frames.append(frame)
            self.frames_size += len(frame)


@dataclass(slots=True)
class CallTimes:
    """When things happened (the transport's monotonic clock; None: not yet, or never).
    call/timing.py turns them into durations."""

    received: float | None = None  # the request hook began: the client's request was whole
    registered: float | None = None  # the glue handed the job over
    first_sent: float | None = None  # the first attempt's request went upstream
    sent: float | None = None  # the last attempt's request went upstream
    first_event: float | None = None  # the last attempt's first upstream event (or its error)
    first_output: float | None = None  # the answer's first output (reasoning counts)
    first_byte: float | None = None  # the client's first data (not a `: keepalive`)


class Login(Protocol):
    """The addon's own upstream login (responses_auth=codex): transports/login_refresh.py."""

    async def headers(self) -> dict[str, str]: ...

    async def refresh_after_401(self, rejected_access_token: str) -> dict[str, str]: ...


class RelaySignal(Protocol):
    """Whether mitmproxy has relayed the answer's first bytes (transports/answer.py `Relayed`)."""

    def set(self) -> None: ...

    def is_set(self) -> bool: ...

    async def wait(self, seconds: float) -> None: ...


@dataclass(slots=True)
class CallJob:
    """Everything one call needs, planned by call/plan.py and carried out by the driver. Holds no
    credential: the client's forwarded headers are the client's own, `login` fetches the
    login's at send time."""

    kind: CallKind
    upstream: Upstream
    translation: Translation
    body: dict[str, Any]  # the request to send: never mutated (attempts copy it)
    headers: dict[str, str]  # forwarded client headers
    plan: Plan
    memory: Memory  # what the call teaches goes here
    make_sink: Callable[[], Sink]
    idle_timeout: float
    keepalive: float = 0.0  # seconds of silence before a streaming client gets `: keepalive`
    planned_at: float = 0.0  # epoch seconds: when what the call teaches was learned
    request_size: int = 0  # bytes of the client's request body
    quota: QuotaTap | None = None  # where this call's quota readings go
    turn: Turn | None = None  # the call's part in its conversation (continuation, replay)
    client: Client = Client.OTHER  # who calls: how its error is told not to retry
    budget: RetryBudgets | None = None  # the requests whose retries were just used up
    budget_key: str = ""  # this request's, across its client's retries (call/budget.py)
    session_headers: Mapping[str, str] = field(default_factory=dict)  # the conversation's id
    person: str = ""  # the caller's name from responses_client_keys (never a key)
    # Carried for the transports, opaque here.
    login: Login | None = None
    ssl: Any = None
    relayed: RelaySignal | None = None  # the glue's word that mitmproxy relayed the first bytes
    # An upstream error explained for the client (upstream/rejections.py): cause and fix.
    explain: Callable[[ProxyError], ProxyError] | None = None
    outcome: CallOutcome = field(default_factory=CallOutcome)
    times: CallTimes = field(default_factory=CallTimes)

    @property
    def model(self) -> str:
        """The model name the upstream is sent (for log lines)."""
        return self.translation.match.upstream_name


def redacted(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: ("<redacted>" if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}
