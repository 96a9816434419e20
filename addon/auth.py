"""Credentials for the upstream: the client's own, or the Codex CLI's ChatGPT login.

`CodexLogin` reads the file the Codex CLI writes on `codex login` (`~/.codex/auth.json`:
`{"tokens": {"access_token", "account_id", …}, …}`) and re-reads it when its modification time
changes, so a `codex login` in another terminal takes effect on the next request. Nothing here
logs or formats a token; errors name the file, never its content.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from .errors import ClientError

WEBSOCKET_BETA = "responses_websockets=2026-02-06"
ORIGINATOR = "codex_cli_rs"


@dataclass(frozen=True, slots=True)
class CodexCredentials:
    access_token: str
    account_id: str | None


class CodexLogin:
    """The Codex CLI's login file, cached by modification time."""

    def __init__(self, path: str) -> None:
        self.path = Path(os.path.expanduser(path))
        self._stamp: tuple[int, int] | None = None
        self._credentials: CodexCredentials | None = None
        self.session_id = str(uuid.uuid4())

    def credentials(self) -> CodexCredentials:
        try:
            stat = self.path.stat()
        except OSError:
            raise _login_error(f"no Codex login at {self.path}") from None
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp or self._credentials is None:
            self._credentials = _read(self.path)
            self._stamp = stamp
        return self._credentials

    def headers(self) -> dict[str, str]:
        """The headers the Codex backend expects on both transports (the WebSocket handshake
        adds `OpenAI-Beta: responses_websockets=…`, see WEBSOCKET_BETA)."""
        creds = self.credentials()
        headers = {
            "authorization": f"Bearer {creds.access_token}",
            "originator": ORIGINATOR,
            "session_id": self.session_id,
        }
        if creds.account_id:
            headers["chatgpt-account-id"] = creds.account_id
        return headers


def _read(path: Path) -> CodexCredentials:
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise _login_error(f"cannot read the Codex login at {path}: {exc.strerror}") from None
    except ValueError:
        raise _login_error(f"the Codex login at {path} is not valid JSON") from None
    tokens = data.get("tokens") if isinstance(data, dict) else None
    access = tokens.get("access_token") if isinstance(tokens, dict) else None
    if not isinstance(access, str) or not access:
        raise _login_error(f"the Codex login at {path} holds no ChatGPT access token")
    account = tokens.get("account_id") if isinstance(tokens, dict) else None
    return CodexCredentials(access, account if isinstance(account, str) and account else None)


def _login_error(message: str) -> ClientError:
    return ClientError(
        f"{message}; run `codex login` to sign in with ChatGPT",
        status=401,
        type="authentication_error",
        code="codex_login_missing",
    )
