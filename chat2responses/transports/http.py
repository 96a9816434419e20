"""The Responses HTTP client: one POST, its SSE answer as events, bounded in time and size.

Owns the upstream side of the HTTP route: the request, the status check (a non-200 answer becomes
the project's `UpstreamError` keeping its status), the SSE body decoded into events as it arrives,
and aiohttp's and the socket layer's exceptions mapped into the error tree in one place
(`_upstream_errors`). A JSON `Response` answer (an upstream that ignores `stream: true`) becomes
the events a stream would have ended with.

Must not: translate events, retry (the call policy decides), or log a header value (they carry
credentials): only the URL without userinfo and query.

Rule 1: an upstream silent for `idle_timeout` seconds ends the attempt with a 504 that says it
        stalled; a connection that cannot be made in `connect_timeout` is a 504 too, a refused
        one a 502.
Rule 2: a body that ends before a terminal event is not decided here: the events just end, and
        the translator reports the missing terminal event.
Rule 3: the body is read at most READ_SIZE bytes at a time, the first read FIRST_READ_SIZE: an
        upstream that answers in a burst still has its first event through at once.
Rule 4: silence is measured in events, not bytes: a body that drips bytes without completing an
        event for `idle_timeout` seconds ends like a silent one; no response headers within
        `idle_timeout` is a 504 `upstream_stalled` too (the policy does not retry it).
Rule 5: a redirect is followed only within the same origin, the same POST again
        (upstream/redirects.py); any other is a 502 that names only the origin it pointed to.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl as ssl_module
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from aiohttp import (
    BasicAuth,
    ClientConnectorCertificateError,
    ClientError,
    ClientResponse,
    ClientSession,
    ConnectionTimeoutError,
)

from chat2responses.protocol.errors import (
    ConnectionBroken,
    UpstreamError,
    UpstreamProtocolError,
    tls_error,
    upstream_error_from_body,
)
from chat2responses.protocol.events import (
    MAX_EVENT_BYTES,
    Event,
    UpstreamSSE,
    events_of_response,
    parse_event,
)
from chat2responses.protocol.redact import redact
from chat2responses.protocol.transcript import Transcript
from chat2responses.upstream.proxies import DIRECT, Egress, Proxy
from chat2responses.upstream.redirects import MAX_REDIRECTS, is_redirect, redirect_target
from chat2responses.upstream.routing import redacted_url

logger = logging.getLogger(__name__)

MAX_ERROR_BODY = 1 << 20
FIRST_READ_SIZE = 4096
READ_SIZE = 1 << 16
DRAIN_TIMEOUT = 1.0


class HttpEvents:
    """The events of one HTTP upstream answer; iterate with `async for`."""

    def __init__(
        self, upstream: ClientResponse, where: str, idle_timeout: float, transcript: Transcript
    ) -> None:
        self._upstream = upstream
        self._where = where
        self._idle = idle_timeout
        self._transcript = transcript
        self._decoder = UpstreamSSE()
        # JSON texts, parsed one at a time as they are taken: the first event is translated and
        # written before the rest of its read is decoded (call.py rule 2).
        self._ready: deque[str] = deque()
        self._ended = False
        self.received = 0
        self.headers: dict[str, str] = dict(upstream.headers)

    def buffered(self) -> bool:
        """Whether the next event is already here (the caller may batch its writes)."""
        return bool(self._ready)

    def transport(self) -> asyncio.Transport | None:
        """The connection's transport (for upstream.reading_paused)."""
        connection = self._upstream.connection
        transport = connection.transport if connection is not None else None
        return transport if isinstance(transport, asyncio.Transport) else None

    async def drain(self) -> None:
        """Read what is left of the body (bounded), so the connection can serve another call."""
        try:
            async with asyncio.timeout(DRAIN_TIMEOUT):
                while not self._ended and self.received < MAX_EVENT_BYTES:
                    data = await self._upstream.content.readany()
                    self._ended = not data
                    self.received += len(data)
        except (TimeoutError, ClientError, OSError):
            pass  # the connection is closed instead

    def __aiter__(self) -> HttpEvents:
        return self

    async def __anext__(self) -> Event:
        if not self._ready and not self._ended:
            # Rule 4: one deadline for the whole next event, however many reads it takes.
            with _upstream_errors(self._where, self._idle):
                async with asyncio.timeout(self._idle):
                    while not self._ready and not self._ended:
                        await self._read()
        if not self._ready:
            raise StopAsyncIteration
        return parse_event(self._ready.popleft())

    async def _read(self) -> None:
        # Rule 3: a small first read, so the first event is not decoded after a whole burst.
        size = READ_SIZE if self.received else FIRST_READ_SIZE
        data = await self._upstream.content.read(size)
        if not data:
            self._ended = True
            self._ready.extend(self._decoder.finish_raw())
            return
        self.received += len(data)
        self._transcript.add(data)
        self._ready.extend(self._decoder.feed_raw(data))


@asynccontextmanager
async def open_http_events(
    session: ClientSession,
    url: str,
    *,
    headers: Mapping[str, str],
    body: bytes,
    ssl: ssl_module.SSLContext | None,
    connect_timeout: float,
    idle_timeout: float,
    transcript: Transcript,
    on_headers: Callable[[Mapping[str, str]], None] | None = None,
    egress: Egress = DIRECT,
) -> AsyncIterator[HttpEvents | list[Event]]:
    """POST `body` (the request's JSON bytes) to `url` and yield its events: an `HttpEvents`
    for an SSE answer, or the list of events of a JSON `Response`. Raises `UpstreamError` for a
    non-200 answer. `egress`: through which proxy, with the hop mark (upstream/proxies.py)."""
    where = redacted_url(url)
    sent = {**headers, "content-type": "application/json", "accept": "text/event-stream"}
    sent.update(egress.headers())
    upstream = await _post(
        session, url, body, headers=sent, ssl=ssl, idle_timeout=idle_timeout, egress=egress
    )
    try:
        if on_headers is not None:
            on_headers(upstream.headers)
        if upstream.status != 200:
            with _upstream_errors(where, idle_timeout):
                async with asyncio.timeout(idle_timeout):
                    error = await upstream.content.read(MAX_ERROR_BODY)
            transcript.add(redact(error.decode("utf-8", "replace")).encode())  # for display
            raise upstream_error_from_body(upstream.status, error, dict(upstream.headers))
        if upstream.content_type == "text/event-stream":
            yield HttpEvents(upstream, where, idle_timeout, transcript)
            return
        yield await _json_events(upstream, where, idle_timeout, transcript)
    finally:
        if upstream.content.is_eof():
            upstream.release()  # the connection goes back to the pool
        else:
            upstream.close()


async def _post(
    session: ClientSession,
    url: str,
    body: bytes,
    *,
    headers: Mapping[str, str],
    ssl: ssl_module.SSLContext | None,
    idle_timeout: float,
    egress: Egress = DIRECT,
) -> ClientResponse:
    """The answer's head, following same-origin redirects only (rule 5). The session bounds the
    TCP connect (connect_timeout); the head may take as long as any other silence (rule 4)."""
    for hops in range(MAX_REDIRECTS + 1):
        where = redacted_url(url)
        with _upstream_errors(where, idle_timeout, connecting=True):
            async with asyncio.timeout(idle_timeout):
                upstream = await session.post(
                    url,
                    data=body,
                    headers=headers,
                    ssl=ssl or True,
                    allow_redirects=False,
                    **proxy_arguments(egress.proxy_for(url)),
                )
        if not is_redirect(upstream.status):
            return upstream
        location = upstream.headers.get("location")
        upstream.close()
        url = redirect_target(url, upstream.status, location, "POST", hops)
    raise AssertionError("redirect_target ends the loop")  # pragma: no cover


async def _json_events(
    upstream: ClientResponse, where: str, idle_timeout: float, transcript: Transcript
) -> list[Event]:
    with _upstream_errors(where, idle_timeout):
        async with asyncio.timeout(idle_timeout):
            raw = await upstream.content.read(MAX_EVENT_BYTES + 1)
    transcript.add(raw)
    if len(raw) > MAX_EVENT_BYTES:
        raise UpstreamProtocolError(f"upstream answered more than {MAX_EVENT_BYTES} bytes of JSON")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict) or data.get("object") != "response":
        kind = upstream.content_type or "no content type"
        raise UpstreamProtocolError(
            f"upstream answered 200 with {kind}, neither an event stream nor a Response object"
        )
    return events_of_response(data)


@asynccontextmanager
async def following_redirects(
    session: ClientSession, method: str, url: str, *, egress: Egress = DIRECT, **kwargs: Any
) -> AsyncIterator[ClientResponse]:
    """The final answer of `session.request(method, url, **kwargs)`, same-origin redirects
    followed (upstream/redirects.py: another origin's is a 502 naming only that origin), each hop
    through the proxy `egress` picks for its URL; released when the block ends. (The call's own
    POST, `_post`, maps errors and bounds time per hop, so it follows them itself.)"""
    for hops in range(MAX_REDIRECTS + 1):
        async with session.request(
            method, url, allow_redirects=False, **proxy_arguments(egress.proxy_for(url)), **kwargs
        ) as answer:
            if not is_redirect(answer.status):
                yield answer
                return
            location = answer.headers.get("location")
        url = redirect_target(url, answer.status, location, method, hops)
    raise AssertionError("redirect_target ends the loop")  # pragma: no cover


def proxy_arguments(proxy: Proxy | None) -> dict[str, Any]:
    """aiohttp's keywords for a request through `proxy` (none for a direct one)."""
    if proxy is None:
        return {}
    auth = BasicAuth(proxy.username, proxy.password) if proxy.authorization else None
    return {"proxy": proxy.url, "proxy_auth": auth}


def tls_failure(where: str, exc: BaseException) -> UpstreamError:
    """A 502 naming the certificate problem and the host (aiohttp's certificate error carries
    it in `certificate_error`, an `ssl.SSLError` in `verify_message`/`reason`)."""
    if isinstance(exc, ClientConnectorCertificateError):
        exc = exc.certificate_error
    detail = getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or str(exc)
    return tls_error(f"talking to upstream {where}", str(detail))


@contextmanager
def _upstream_errors(where: str, timeout: float, *, connecting: bool = False) -> Iterator[None]:
    """Map aiohttp's and the socket layer's exceptions to the project's error tree (rule 1)."""
    try:
        yield
    except ConnectionTimeoutError:  # the session's connect_timeout: a failed connection
        raise UpstreamError(
            f"cannot reach upstream {where}: the connection timed out",
            status=504,
            code="upstream_timeout",
        ) from None
    except TimeoutError:
        if connecting:  # rule 4: connected, but no head within the idle timeout
            raise UpstreamError(
                f"upstream {where} sent no response headers within {timeout:g} s "
                "(responses_idle_timeout)",
                status=504,
                code="upstream_stalled",
            ) from None
        raise UpstreamError(
            f"upstream {where} stalled: no data for {timeout:g} s (responses_idle_timeout)",
            status=504,
            code="upstream_stalled",
        ) from None
    except (ssl_module.SSLError, ClientConnectorCertificateError) as exc:
        raise tls_failure(where, exc) from None
    except (ClientError, OSError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        if connecting:
            raise UpstreamError(
                f"cannot reach upstream {where}: {reason}", status=502, code="upstream_unreachable"
            ) from None
        raise ConnectionBroken(f"upstream {where} broke off the answer: {reason}") from None
