"""The Codex login that refreshes itself: headers for each upstream call, a new access token
when the old one is about to expire or the upstream answered 401.

Owns the refresh's I/O: the in-process single flight, the cross-process file lock, the POST to
the token endpoint (aiohttp) and the write-back. The login's rules (when to refresh, the request,
the new file content, the error texts) live in `upstream/login.py`; this module carries them out.

Rules (as the Codex CLI, codex-rs/login/src/auth/manager.rs):
1. One refresh at a time: in this process, every caller waits on the same task; across
   processes, an `fcntl.flock` on the sibling file `auth.json.lock` (the Codex CLI itself takes
   no lock, hence rule 2).
2. The file is re-read under the lock just before refreshing: when another process (the Codex
   CLI) has already refreshed, its tokens are used and nothing is sent.
3. Refresh tokens are single-use: a token once sent is never sent again. Its outcome is
   remembered: the tokens it gave (served even if the write-back failed), or the error, which
   every later request gets until the file changes (a new `codex login`).
4. Bounded: the POST and the wait for the file lock each take at most `timeout` seconds; a
   refresh already sent finishes even when the request that started it is cancelled.
5. No token, refresh token or token-endpoint body is ever logged or put in an error.
6. A redirect is followed only within the token endpoint's origin (upstream/redirects.py): the
   refresh token never goes anywhere else.
7. The refresh names its client as the Codex CLI's login client does: `originator` and
   `User-Agent` of the version the addon speaks as (upstream/identity.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import ssl as ssl_module
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import ClientConnectorError, ClientError, ClientSession

from chat2responses.protocol.errors import ClientError as LoginError
from chat2responses.protocol.errors import UpstreamError
from chat2responses.transports.http import following_redirects
from chat2responses.transports.login_file import LoginFile, write_login
from chat2responses.transports.sessions import close_session_now, upstream_session
from chat2responses.upstream.identity import CODEX_CLI_VERSION, refresh_headers
from chat2responses.upstream.login import (
    REFRESH_URL,
    CodexCredentials,
    account_digest,
    codex_headers,
    is_expired,
    login_error,
    needs_refresh,
    parse_login,
    refresh_failed,
    refresh_refused,
    refresh_request_body,
    refresh_unreachable,
    refresh_write_failed,
    refreshed_login,
)
from chat2responses.upstream.proxies import DIRECT, Egress

logger = logging.getLogger(__name__)

REFRESH_MARGIN = 300.0  # seconds before `exp` at which a token counts as due
REFRESH_TIMEOUT = 20.0
MAX_ANSWER = 1 << 20  # bytes of a token-endpoint answer read at most
_REMEMBERED = 64  # refresh tokens whose outcome is kept (a handful are spent per week)
_LOCK_POLL = 0.05

Outcome = CodexCredentials | LoginError
Due = Callable[[CodexCredentials], bool]


class CodexLogin:
    """The Codex CLI's login for the upstream calls of one process (see the module rules)."""

    def __init__(
        self,
        path: str,
        refresh_url: str = REFRESH_URL,
        *,
        timeout: float = REFRESH_TIMEOUT,
        margin: float = REFRESH_MARGIN,
        clock: Callable[[], float] = time.time,
        client_version: str = CODEX_CLI_VERSION,
        egress: Egress = DIRECT,
    ) -> None:
        self.file = LoginFile(path)
        self.egress = egress  # the proxy for the token endpoint, and the hop mark
        # TLS as for the calls (mitmproxy's ssl_insecure, ssl_verify_upstream_trusted_ca)
        self.ssl: ssl_module.SSLContext | None = None
        self.refresh_url = refresh_url
        self.client_version = client_version
        self._timeout = timeout
        self._margin = margin
        self._clock = clock
        self._session: ClientSession | None = None
        self._inflight: asyncio.Task[CodexCredentials] | None = None
        self._outcomes: dict[str, Outcome] = {}  # refresh token sent → what it gave

    @property
    def path(self) -> Path:
        return self.file.path

    @property
    def session_id(self) -> str:
        return self.file.session_id

    def account_digest(self) -> str:
        """A short digest naming the login's account, for per-account state (no secret in it)."""
        return account_digest(self.file.cached())

    async def headers(self) -> dict[str, str]:
        """The headers for the next upstream call, refreshing first when the access token
        expires within the margin. A refresh that fails while the old token is still valid
        leaves the old token in use; once it has expired, the failure is a 401 ClientError."""
        creds = await self.file.credentials_async()
        if needs_refresh(creds, self._clock(), self._margin):
            creds = await self._fresh(creds)
        return codex_headers(creds, self.session_id)

    async def refresh_after_401(self, rejected_access_token: str) -> dict[str, str]:
        """The headers to retry with after the upstream answered 401 to `rejected_access_token`
        (see `auth.bearer_of`): refreshed when the file still holds that token, else what the
        file holds now. Raises a 401 ClientError when the refresh fails."""
        if (await self.file.credentials_async()).access_token == rejected_access_token:
            await self._single_flight(lambda c: c.access_token == rejected_access_token)
        return await self.headers()

    async def aclose(self) -> None:
        """Let a refresh already sent finish (its tokens must be written), then close the
        HTTP client."""
        if self._inflight is not None and not self._inflight.done():
            with contextlib.suppress(LoginError):
                await asyncio.shield(self._inflight)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _fresh(self, creds: CodexCredentials) -> CodexCredentials:
        try:
            return await self._single_flight(
                lambda c: needs_refresh(c, self._clock(), self._margin)
            )
        except LoginError as exc:
            if is_expired(creds, self._clock()):
                raise
            logger.debug("%s; the current access token is used until it expires", exc.message)
            return creds

    async def _single_flight(self, due: Due) -> CodexCredentials:
        """Join the refresh in flight or start one; repeat once when the one joined was started
        for another reason and left this caller's token due."""
        for _ in range(2):
            task, mine = self._inflight, False
            if task is None or task.done():
                task, mine = asyncio.create_task(self._refresh_once(due)), True
                task.add_done_callback(_retrieve)
                self._inflight = task
            creds = await asyncio.shield(task)
            if mine or not due(creds):
                return creds
        return creds

    async def _refresh_once(self, due: Due) -> CodexCredentials:
        async with self._file_lock():
            data, creds = await self.file.reread_async()
            if not due(creds):
                logger.info("the Codex login was already refreshed elsewhere; using it")
                return creds
            outcome = await self._exchange(data, creds)
        if isinstance(outcome, LoginError):
            raise outcome
        return outcome

    async def _exchange(self, data: dict[str, Any], creds: CodexCredentials) -> Outcome:
        """Trade the file's refresh token for new tokens, once per refresh token ever."""
        refresh = creds.refresh_token
        if refresh is None:
            return login_error(f"the Codex login at {self.file.path} holds no refresh token")
        if refresh in self._outcomes:
            outcome = self._outcomes[refresh]
            if isinstance(outcome, CodexCredentials):
                self.file.prime(outcome)  # the write-back of that refresh failed
            return outcome
        self._remember(refresh, refresh_unreachable("the refresh was interrupted"))
        try:
            outcome = await self._post(data, refresh)
        except ClientConnectorError as exc:
            del self._outcomes[refresh]  # never reached the endpoint: the token is unspent
            return refresh_unreachable(_reason(exc))
        self._remember(refresh, outcome)
        if isinstance(outcome, CodexCredentials):
            logger.info("refreshed the Codex login (account %s)", account_digest(outcome))
        else:
            logger.warning("%s", outcome.message)
        return outcome

    async def _post(self, data: dict[str, Any], refresh: str) -> Outcome:
        try:
            status, body = await self._exchange_answer(refresh)
        except ClientConnectorError:
            raise
        except UpstreamError as exc:  # a redirect not followed (rule 6)
            return refresh_unreachable(exc.message)
        except (ClientError, TimeoutError, ValueError) as exc:
            return refresh_unreachable(_reason(exc))
        if status != 200:
            return refresh_refused(status, body)
        try:
            parsed = _json_object(body)
            new_data = refreshed_login(data, parsed, datetime.fromtimestamp(self._clock(), UTC))
        except LoginError as exc:
            return exc
        new_creds = parse_login(new_data, self.file.path)
        try:
            write_login(self.file.path, new_data)
        except OSError as exc:
            logger.error(
                "%s", refresh_write_failed(self.file.path, exc.strerror or type(exc).__name__)
            )
        self.file.prime(new_creds)
        return new_creds

    async def _exchange_answer(self, refresh: str) -> tuple[int, bytes]:
        """The token endpoint's status and body, a same-origin redirect followed (rule 6)."""
        headers = {
            "accept": "application/json",
            **refresh_headers(self.client_version),
            **self.egress.headers(),
        }
        async with (
            asyncio.timeout(self._timeout),
            following_redirects(
                self._client(),
                "POST",
                self.refresh_url,
                egress=self.egress,
                json=refresh_request_body(refresh),
                headers=headers,
                ssl=self.ssl or True,
            ) as answer,
        ):
            return answer.status, await _read_capped(answer.content.iter_chunked(1 << 16))

    def _remember(self, refresh: str, outcome: Outcome) -> None:
        self._outcomes.pop(refresh, None)
        self._outcomes[refresh] = outcome
        while len(self._outcomes) > _REMEMBERED:
            del self._outcomes[next(iter(self._outcomes))]

    def _client(self) -> ClientSession:
        if self._session is None or self._session.closed:
            # The proxy is egress's choice (sessions.py rule 2); a proxy that is this very
            # mitmproxy is caught by the hop mark, and the token never enters a flow.
            self._session = upstream_session()
        return self._session

    @contextlib.asynccontextmanager
    async def _file_lock(self) -> AsyncIterator[None]:
        lock_path = self.file.path.with_name(self.file.path.name + ".lock")
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise login_error(
                f"cannot lock the Codex login at {self.file.path}: {exc.strerror}",
                "codex_refresh_failed",
            ) from None
        try:
            deadline = time.monotonic() + self._timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise login_error(
                            f"another process held the lock on {lock_path} for {self._timeout:g} s",
                            "codex_refresh_busy",
                        ) from None
                    await asyncio.sleep(_LOCK_POLL)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock


async def _read_capped(chunks: AsyncIterator[bytes]) -> bytes:
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > MAX_ANSWER:
            raise ValueError("the answer is too large")
    return bytes(body)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        parsed = None
    if not isinstance(parsed, dict):
        raise refresh_failed(
            "the token endpoint's answer is not a JSON object", "codex_refresh_failed"
        )
    return parsed


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__


def _retrieve(task: asyncio.Task[CodexCredentials]) -> None:
    # Every waiter may have left (cancelled); the outcome is remembered, not lost.
    if not task.cancelled():
        task.exception()


def close_soon(login: CodexLogin) -> None:
    """Close `login`'s HTTP client, for synchronous callers (mitmproxy's lifecycle hooks): its
    connections at once, a refresh already sent when the loop lets it finish."""
    session, login._session = login._session, None
    if session is not None:
        close_session_now(session)
    with contextlib.suppress(RuntimeError):
        task = asyncio.get_running_loop().create_task(login.aclose())
        _CLOSING.add(task)
        task.add_done_callback(_CLOSING.discard)


_CLOSING: set[asyncio.Task[None]] = set()
