"""Whether an upstream's or the token endpoint's redirect is followed: the same origin only.

A redirect to another origin would carry what the addon sends (the conversation, the login's
token and account id, a refresh token) wherever the answering server points, so it is never
followed: the call ends with a 502 naming only the redirect's origin. A redirect within the same
origin (scheme, host and port) is followed with the same request and the same credentials: they
go nowhere they were not already going.

Rule 1: only 307 and 308 are followed for a POST (they keep the method and the body); a 301,
        302 or 303 would turn it into a GET without its body, so it is an error as well.
Rule 2: a GET follows 301, 302, 303, 307 and 308 (same origin).
Rule 3: at most MAX_REDIRECTS in a row.

Pure: no I/O.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

from chat2responses.protocol.errors import UpstreamError

MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})
_KEEP_METHOD = frozenset({307, 308})


def is_redirect(status: int) -> bool:
    return status in REDIRECTS


def redirect_target(url: str, status: int, location: str | None, method: str, hops: int) -> str:
    """The URL to send the same request to after `url` answered `status` with `location`, the
    `hops`-th redirect in a row; an UpstreamError (502) when it is not followed."""
    where = _origin(url)
    if not location:
        raise _refused(f"upstream {where} answered {status} without a Location", status)
    target = urljoin(url, location.strip())
    if _origin(target) != where:
        raise _refused(
            f"upstream {where} redirected ({status}) to another origin, {_origin(target)}; "
            "not followed, so nothing it was sent goes there",
            status,
        )
    if method.upper() != "GET" and status not in _KEEP_METHOD:
        raise _refused(f"upstream {where} answered {status}, which would drop the request", status)
    if hops >= MAX_REDIRECTS:
        raise _refused(f"upstream {where} redirected more than {MAX_REDIRECTS} times", status)
    return target


def _origin(url: str) -> str:
    """scheme://host:port, without userinfo (never shown), the default port spelled out."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    port = port or {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(scheme)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def _refused(message: str, status: int) -> UpstreamError:
    return UpstreamError(message, status=502, code="upstream_redirect")
