"""The Codex login the options ask for (`responses_auth=codex`), kept while the file and the
token endpoint stay the same, and whose quota a call counts against."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from chat2responses.request.client_headers import account_of
from chat2responses.settings import AuthMode, Settings
from chat2responses.transports.login_refresh import CodexLogin, close_soon
from chat2responses.upstream.proxies import DIRECT, Egress


def current_login(
    settings: Settings, login: CodexLogin | None, egress: Egress = DIRECT
) -> CodexLogin | None:
    """The login `settings` ask for, reusing `login` when it is the same file, token endpoint
    and client version (the refresh names it), closing it when it is not; its refresh leaves
    through `egress`."""
    if settings.auth is not AuthMode.CODEX:
        return None
    wanted = Path(settings.codex_auth_file).expanduser()
    same = (wanted, settings.refresh_url, settings.client_version)
    if login is not None and (login.path, login.refresh_url, login.client_version) == same:
        login.egress = egress
        return login
    if login is not None:
        close_soon(login)
    return CodexLogin(
        settings.codex_auth_file,
        settings.refresh_url,
        client_version=settings.client_version,
        egress=egress,
    )


def account_for(login: CodexLogin | None) -> Callable[[dict[str, str]], str]:
    """Who a call's quota belongs to: the login's account, else a digest of the client's key."""

    def account(headers: dict[str, str]) -> str:
        return account_of(headers, login.account_digest() if login is not None else None)

    return account
