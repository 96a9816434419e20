"""The Codex login file on disk: read when it changes, replaced atomically when refreshed.

`LoginFile` reads the file the Codex CLI writes on `codex login` and re-reads it when it changes on
disk (inode, mtime, size), so a `codex login` in another terminal takes effect on the next
request; `write_login` replaces it after a refresh. The token rules are `upstream/login.py`'s.

Rule 1: nothing here logs or formats a token; errors name the file, never its content.
Rule 2: the file is read in bounded time (transports/files.py: a regular file of at most
        MAX_LOGIN_BYTES), and off the event loop by the async readers (`credentials_async`,
        `reread_async`); the synchronous `cached` reads only when nothing was read yet.
Rule 3: a file that is not a JSON object (too deep, not UTF-8, not JSON) is a 401 naming it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import stat
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chat2responses.protocol.errors import ClientError
from chat2responses.transports.files import read_small_file
from chat2responses.upstream.login import CodexCredentials, codex_headers, login_error, parse_login

MAX_LOGIN_BYTES = 1 << 20  # a login file is a few KB


class LoginFile:
    """The Codex CLI's login file, cached by its identity on disk (inode, mtime, size)."""

    def __init__(self, path: str) -> None:
        self.path = Path(path).expanduser()
        self._stamp: tuple[int, int, int] | None = None
        self._credentials: CodexCredentials | None = None
        # One per process for now; per-conversation ids replace it later.
        self.session_id = str(uuid.uuid4())

    def credentials(self) -> CodexCredentials:
        stamp = self._current_stamp()
        if stamp != self._stamp or self._credentials is None:
            self._credentials = parse_login(self.read_json(), self.path)
            self._stamp = stamp
        return self._credentials

    def cached(self) -> CodexCredentials:
        """The credentials last read, without looking at the file again (read once if never)."""
        if self._credentials is not None:
            return self._credentials
        return self.credentials()

    async def credentials_async(self) -> CodexCredentials:
        """`credentials`, with the file's stat and read in a thread (rule 2)."""
        return await asyncio.to_thread(self.credentials)

    async def reread_async(self) -> tuple[dict[str, Any], CodexCredentials]:
        """`reread` in a thread (rule 2)."""
        return await asyncio.to_thread(self.reread)

    def reread(self) -> tuple[dict[str, Any], CodexCredentials]:
        """The file as it is now (raw and parsed), bypassing the cache and refilling it."""
        stamp = self._current_stamp()
        data = self.read_json()
        self._credentials = parse_login(data, self.path)
        self._stamp = stamp
        return data, self._credentials

    def prime(self, credentials: CodexCredentials) -> None:
        """Serve these credentials until the file changes again (after a write, or in place of
        one that failed: the refresh token it would have replaced is already spent)."""
        with contextlib.suppress(ClientError):
            self._stamp = self._current_stamp()
        self._credentials = credentials

    def headers(self) -> dict[str, str]:
        """The file's current headers, without refreshing (see login_refresh.CodexLogin)."""
        return codex_headers(self.credentials(), self.session_id)

    def read_json(self) -> dict[str, Any]:
        try:
            data = json.loads(read_small_file(self.path, MAX_LOGIN_BYTES))
        except FileNotFoundError:
            raise login_error(f"no Codex login at {self.path}") from None
        except OSError as exc:
            raise login_error(
                f"cannot read the Codex login at {self.path}: {exc.strerror}"
            ) from None
        except (ValueError, RecursionError):  # rule 3 (UnicodeDecodeError is a ValueError)
            raise login_error(f"the Codex login at {self.path} is not valid JSON") from None
        if not isinstance(data, dict):
            raise login_error(f"the Codex login at {self.path} holds no ChatGPT access token")
        return data

    def _current_stamp(self) -> tuple[int, int, int]:
        try:
            st = self.path.stat()
        except OSError:
            raise login_error(f"no Codex login at {self.path}") from None
        return (st.st_ino, st.st_mtime_ns, st.st_size)


def write_login(path: Path, data: Mapping[str, Any]) -> None:
    """Replace the login file atomically: a temporary file in the same directory, the old file's
    mode, then `os.replace`. A reader sees the old file or the new one, never half of either."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        mode = 0o600
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            os.fchmod(out.fileno(), mode)
            json.dump(data, out, indent=2)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
