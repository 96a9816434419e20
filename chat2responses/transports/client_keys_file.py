"""The keys file on disk (`responses_client_keys`): read at start, re-read when it changes.

`chat2responses keys add` appends to the file while the proxy runs; the next request sees the new
key, as the Codex login file is re-read (transports/login_file.py). The rules of its content are
request/client_keys.py's.

Rule 1: a file that cannot be read or parsed when the option is set is a ValueError (the option
        is refused; at start, mitmproxy exits with that one line).
Rule 2: a file that breaks or disappears later keeps the last good keys in force, with one
        warning per change: a broken keys file must never open the gateway to everyone.
Rule 3: a file larger than MAX_FILE_BYTES is refused.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from chat2responses.request.client_keys import ClientKeys, parse_keys

logger = logging.getLogger(__name__)

MAX_FILE_BYTES = 4 << 20


class KeysFile:
    """One keys file, cached by its identity on disk (inode, mtime, size)."""

    def __init__(self, path: str) -> None:
        self.path = self.expand(path)
        self._stamp = self._current_stamp()
        self._keys = self._read()  # rule 1

    @staticmethod
    def expand(path: str) -> Path:
        return Path(path).expanduser()

    def current(self) -> ClientKeys:
        """The keys in force: re-read when the file changed (rule 2)."""
        try:
            stamp = self._current_stamp()
        except ValueError as exc:
            stamp = None
            problem = str(exc)
        else:
            if stamp == self._stamp:
                return self._keys
            try:
                self._keys = self._read()
                problem = ""
            except ValueError as exc:
                problem = str(exc)
        if problem and stamp != self._stamp:
            logger.warning("%s; the keys read before stay in force", problem)
        self._stamp = stamp
        return self._keys

    def _read(self) -> ClientKeys:
        try:
            with self.path.open("rb") as file:
                data = file.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise ValueError(
                f"responses_client_keys: cannot read {self.path}: {exc.strerror}"
            ) from None
        if len(data) > MAX_FILE_BYTES:
            raise ValueError(f"responses_client_keys: {self.path} is larger than 4 MiB")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"responses_client_keys: {self.path} is not UTF-8 text") from None
        return parse_keys(text, f"responses_client_keys: {self.path}")

    def _current_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError as exc:
            raise ValueError(
                f"responses_client_keys: cannot read {self.path}: {exc.strerror}"
            ) from None
        return (st.st_ino, st.st_mtime_ns, st.st_size)
