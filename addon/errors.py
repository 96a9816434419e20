"""The project's error tree, and the one place errors become OpenAI error bodies.

Two branches, as h11 splits them: `ClientError` is "the client did it" (a 4xx the client can fix),
`UpstreamError` is "the upstream did it" (its own status when it gave one, else 502). Every error
that reaches a client goes through `error_body` (before the first byte) or `error_chunk` (after it),
so the wire shape `{"error": {"message", "type", "param", "code"}}` is spelled once.

Pure: no I/O, no mitmproxy.
"""

from __future__ import annotations

import json
from typing import Any


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


class ClientError(ProxyError):
    """The client's request cannot be served as sent (4xx)."""

    status = 400
    type = "invalid_request_error"


class UnsupportedParameter(ClientError):
    """A chat parameter that has no Responses counterpart and cannot be dropped harmlessly."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message, param=param, code="unsupported_parameter")


class UpstreamError(ProxyError):
    """The upstream refused, failed or broke the protocol (its status, else 502)."""

    status = 502
    type = "upstream_error"


class UpstreamProtocolError(UpstreamError):
    """The upstream's bytes are not a valid Responses stream (bad SSE, bad JSON, no terminal)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="upstream_protocol_error")


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


def type_for_status(status: int) -> str:
    if status in _TYPE_BY_STATUS:
        return _TYPE_BY_STATUS[status]
    return "server_error" if status >= 500 else "invalid_request_error"


def error_body(err: ProxyError) -> bytes:
    """The JSON body of an error response sent before any byte of a stream."""
    return json.dumps(err.to_dict(), ensure_ascii=False).encode()


def error_chunk(err: ProxyError) -> bytes:
    """The one SSE event that ends a chat stream that fails after it began."""
    return b"data: " + error_body(err) + b"\n\n"


def upstream_error_from_body(status: int, body: bytes, headers: dict[str, str]) -> UpstreamError:
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
    except ValueError:
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
    kept = {k: v for k, v in headers.items() if k.lower() in _KEPT_HEADERS}
    return UpstreamError(
        message,
        status=status,
        type=err_type or type_for_status(status),
        code=code,
        param=param,
        headers=kept,
    )


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _str_or_empty(value: object) -> str:
    return value if isinstance(value, str) else ""


_KEPT_HEADERS = frozenset({"retry-after", "retry-after-ms", "x-request-id", "x-should-retry"})
