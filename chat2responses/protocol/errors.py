"""The project's error tree, and the one place errors become OpenAI error bodies.

Two branches, as h11 splits them: `ClientError` is "the client did it" (a 4xx the client can fix),
`UpstreamError` is "the upstream did it" (its own status when it gave one, else 502). Every error
that reaches a client goes through `error_body` (before the first byte) or `error_chunk` (after it),
so the wire shape `{"error": {"message", "type", "param", "code"}}` is spelled once. Upstream
errors are built in one place too: from a non-2xx HTTP answer (`upstream_error_from_body`) or from
a Responses error event (`upstream_error_from_event`, which reads a status off the error's code).
Every upstream error's message is redacted as it is built (protocol/redact.py).

Pure: no I/O, no mitmproxy.
"""

from __future__ import annotations

import json
from typing import Any

from chat2responses.protocol.redact import redact
from chat2responses.protocol.wire import printable, utf8


class ProxyError(Exception):
    """Base of every error this project turns into an OpenAI error body."""

    status: int = 500
    type: str = "server_error"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        message = printable(message)  # it is logged, and may quote an upstream's text
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if type is not None:
            self.type = type
        self.code = code
        self.param = param
        # Upstream headers worth keeping for the client (retry-after, x-ratelimit-*).
        self.headers: dict[str, str] = headers or {}
        # More fields of the error object a client reads (a usage limit's `resets_at`).
        self.extra: dict[str, Any] = {}

    def to_dict(self) -> dict[str, Any]:
        error = {
            "message": self.message,
            "type": self.type,
            "param": self.param,
            "code": self.code,
        }
        return {"error": {**self.extra, **error}}


class ClientError(ProxyError):
    """The client's request cannot be served as sent (4xx)."""

    status = 400
    type = "invalid_request_error"


class UnsupportedParameter(ClientError):
    """A chat parameter that has no Responses counterpart and cannot be dropped harmlessly."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message, param=param, code="unsupported_parameter")


class UpstreamError(ProxyError):
    """The upstream refused, failed or broke the protocol (its status, else 502).

    `payload` keeps what the upstream said (its error body, or its error event) for the few
    readers that need more than the message (a usage limit's reset time).
    """

    status = 502
    type = "upstream_error"
    payload: bytes | dict[str, Any] = b""

    def __init__(self, message: str, **fields: Any) -> None:
        # The upstream's words may echo what it was sent: redacted where every upstream error
        # is built, so neither the client, the log nor a saved flow gets a credential.
        super().__init__(redact(message), **fields)


class UpstreamProtocolError(UpstreamError):
    """The upstream's bytes are not a valid Responses stream (bad SSE, bad JSON, no terminal)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="upstream_protocol_error")


class ConnectionBroken(UpstreamProtocolError):
    """The upstream's HTTP connection ended (reset, cut) before the answer's terminal event: the
    HTTP route's dropped WebSocket, retried like it before any byte reached the client."""


class WebSocketClosed(UpstreamProtocolError):
    """The upstream's WebSocket closed before the response's terminal event.

    `close_code` is the upstream's close code (1006 when the connection dropped without one);
    1009 means a message of ours was too big for it (reference/codex-backend-2026.md §4).
    """

    def __init__(self, message: str, close_code: int) -> None:
        super().__init__(message)
        self.close_code = close_code


class HandshakeRefused(UpstreamError):
    """The upstream answered a WebSocket upgrade with an HTTP status instead of 101.

    The status is kept; 426 means: use HTTP (reference/openai-protocols.md §4.1).
    """

    @classmethod
    def from_response(cls, status: int, body: bytes, headers: dict[str, str]) -> HandshakeRefused:
        refused = upstream_error_from_body(status, body, headers, kind=cls)
        assert isinstance(refused, cls)
        return refused


# Status → OpenAI error type, for upstream errors that carry only a status.
_TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    409: "conflict_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def tls_error(doing: str, detail: str) -> UpstreamError:
    """An upstream whose TLS failed (most often a certificate not trusted): a 502 that names the
    problem and the host (`doing` says which, e.g. "talking to upstream https://h/…")."""
    return UpstreamError(
        f"TLS failure {doing}: {detail} (if the certificate is one you trust, give its CA file "
        "with --set ssl_verify_upstream_trusted_ca=PATH)",
        status=502,
        code="upstream_tls_error",
    )


def type_for_status(status: int) -> str:
    if status in _TYPE_BY_STATUS:
        return _TYPE_BY_STATUS[status]
    return "server_error" if status >= 500 else "invalid_request_error"


def error_body(err: ProxyError) -> bytes:
    """The JSON body of an error response sent before any byte of a stream."""
    return utf8(json.dumps(err.to_dict(), ensure_ascii=False))


def error_chunk(err: ProxyError) -> bytes:
    """The one SSE event that ends a chat stream that fails after it began."""
    return b"data: " + error_body(err) + b"\n\n"


def upstream_error(
    status: int,
    message: str,
    *,
    err_type: str | None = None,
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
    kind: type[UpstreamError] = UpstreamError,
) -> UpstreamError:
    """The one constructor of upstream errors: the type from the status when the upstream gave
    none, and only the headers worth passing on (retry-after, …). A status that is no error
    (a 204, a 999, a 200 to a WebSocket upgrade) is a 502: the client is owed an error."""
    if not 400 <= status <= 599:
        if not message.startswith(f"upstream answered HTTP {status}"):
            message = f"upstream answered HTTP {status}: {message}"
        status, code = 502, code or "upstream_protocol_error"
    kept = {k: v for k, v in (headers or {}).items() if k.lower() in _KEPT_HEADERS}
    return kind(
        message,
        status=status,
        type=err_type or type_for_status(status),
        code=code,
        param=param,
        headers=kept,
    )


def upstream_error_from_body(
    status: int, body: bytes, headers: dict[str, str], *, kind: type[UpstreamError] = UpstreamError
) -> UpstreamError:
    """Turn an upstream non-2xx HTTP answer into an UpstreamError keeping its status.

    Understands the OpenAI shape `{"error": {...}}`, the Codex backend's `{"detail": "..."}`, and
    anything else as plain text (truncated).
    """
    message = ""
    err_type: str | None = None
    code: str | None = None
    param: str | None = None
    try:
        data = json.loads(body) if body else None
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict):
        inner = data.get("error")
        if isinstance(inner, dict):
            message = _str_or_empty(inner.get("message"))
            err_type = _str_or_none(inner.get("type"))
            code = _str_or_none(inner.get("code"))
            param = _str_or_none(inner.get("param"))
        elif isinstance(inner, str):
            message = inner
        detail = data.get("detail")
        if not message and detail is not None:
            message = detail if isinstance(detail, str) else json.dumps(detail)
        if not message and isinstance(data.get("message"), str):
            message = data["message"]
    if not message:
        text = body[:2000].decode("utf-8", "replace").strip()
        message = text or f"upstream answered HTTP {status}"
    err = upstream_error(
        status, message, err_type=err_type, code=code, param=param, headers=headers, kind=kind
    )
    err.payload = body[:65536]
    return err


# An overloaded upstream's error code; the one transient failure the Codex CLI does not retry.
OVERLOADED = "server_is_overloaded"

# HTTP status for an upstream error that names only a code (response.failed, status-less `error`).
_STATUS_BY_CODE = {
    "server_error": 500,
    "vector_store_timeout": 504,
    OVERLOADED: 503,
    "slow_down": 503,
    "rate_limit_exceeded": 429,
    "insufficient_quota": 429,
    "quota_exceeded": 429,
    "usage_limit_reached": 429,
    "billing_hard_limit_reached": 429,
    "usage_not_included": 403,
    "context_length_exceeded": 400,
    "invalid_prompt": 400,
    "invalid_request_error": 400,
    "content_policy_violation": 400,
    "cyber_policy": 400,
    "bio_policy": 400,
    "misalignment_policy_violation": 400,
    "data_residency_mismatch": 400,
}
# The image codes of ResponseError are all about the client's input.
_IMAGE_CODE_MARK = "image"


def is_known_code(code: object) -> bool:
    """Whether an upstream error code is one this project knows the meaning (and status) of."""
    return isinstance(code, str) and code in _STATUS_BY_CODE


def status_for_code(code: str | None) -> int:
    """The HTTP status for an upstream error known only by its code."""
    if code is None:
        return 500
    if code in _STATUS_BY_CODE:
        return _STATUS_BY_CODE[code]
    return 400 if _IMAGE_CODE_MARK in code else 500


def upstream_error_from_event(
    fields: dict[str, Any],
    status: int | None,
    fallback: str,
    headers: dict[str, Any] | None = None,
) -> UpstreamError:
    """Turn the error fields of a Responses event (`error`, `response.failed`) into an
    UpstreamError: `status` when the event gave one, else the status its code implies."""
    code = _nonempty_str(fields.get("code"))
    err_type = _nonempty_str(fields.get("type"))
    if err_type == "error":  # the HTTP SSE event's own `type`, not an error type
        err_type = None
    message = _nonempty_str(fields.get("message")) or (f"{fallback}: {code}" if code else fallback)
    return upstream_error(
        status or status_for_code(code or err_type),
        message,
        err_type=err_type,
        code=code,
        param=_str_or_none(fields.get("param")),
        headers={str(k): str(v) for k, v in (headers or {}).items()},
    )


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _str_or_empty(value: object) -> str:
    return value if isinstance(value, str) else ""


def _nonempty_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


_KEPT_HEADERS = frozenset({"retry-after", "retry-after-ms", "x-request-id", "x-should-retry"})
