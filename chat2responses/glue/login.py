"""The Codex login the options ask for (`responses_auth=codex`), kept while the file and the
token endpoint stay the same, whose quota a call counts against, and the context a call is
planned in (`call_context`: the login, its account, the clock, fresh ids)."""

from __future__ import annotations

import secrets
import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from chat2responses.call.plan import Context
from chat2responses.request.client_headers import account_of
from chat2responses.settings import AuthMode, Settings
from chat2responses.transports.login_refresh import CodexLogin, close_soon
from chat2responses.upstream.proxies import DIRECT, Egress


def current_login(
    settings: Settings,
    login: CodexLogin | None,
    egress: Egress = DIRECT,
    ssl_context: ssl.SSLContext | None = None,
) -> CodexLogin | None:
    """The login `settings` ask for, reusing `login` when it is the same file, token endpoint
    and client version (the refresh names it), closing it when it is not; its refresh leaves
    through `egress`, with the calls' TLS settings (`ssl_context`)."""
    if settings.auth is not AuthMode.CODEX:
        return None
    wanted = Path(settings.codex_auth_file).expanduser()
    same = (wanted, settings.refresh_url, settings.client_version)
    if login is None or (login.path, login.refresh_url, login.client_version) != same:
        if login is not None:
            close_soon(login)
        login = CodexLogin(
            settings.codex_auth_file, settings.refresh_url, client_version=settings.client_version
        )
    login.egress, login.ssl = egress, ssl_context
    return login


def account_for(login: CodexLogin | None) -> Callable[[dict[str, str]], str]:
    """Who a call's quota belongs to: the login's account, else a digest of the client's key."""

    def account(headers: dict[str, str]) -> str:
        return account_of(headers, login.account_digest() if login is not None else None)

    return account


def call_context(login: CodexLogin | None, ssl_context: ssl.SSLContext | None) -> Context:
    """What `plan_call` is given now: the login and its account, the clock, fresh ids."""
    return Context(
        login=login,
        account=account_for(login),
        now=lambda: datetime.now(UTC),
        chunk_id="chatcmpl-" + secrets.token_hex(12),
        created=int(time.time()),
        ssl=ssl_context,
    )
