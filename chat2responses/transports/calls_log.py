"""The per-call log (option `responses_calls_log`): one JSON line per rewritten call, appended.

Owns the file: opened once when the option is set (a path that cannot be opened is the option's
error), each call's line written whole, flushed within FLUSH_AFTER seconds (one write for a burst
of calls; at once when no event loop runs), closed when the option changes or the proxy stops.
The line is `CallRecord.log_fields()` (call/record.py): the summary's fields, never a
credential, a prompt or an answer. Must not stop the proxy: a write that fails (a full disk) is
said once in the log and the calls go on.

Rule 1: one line per call, keys in the record's order, times in milliseconds, `at` both as
        epoch seconds and as an ISO 8601 UTC time (for `jq` and spreadsheets).
Rule 2: a new file is made readable by its owner only (it names accounts by digest).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from chat2responses.call.record import CallRecord

logger = logging.getLogger(__name__)

FLUSH_AFTER = 0.5  # seconds


def log_line(record: CallRecord) -> str:
    """Rule 1."""
    fields = record.log_fields()
    fields["time"] = datetime.fromtimestamp(record.at, UTC).isoformat(timespec="milliseconds")
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")) + "\n"


class CallsLog:
    def __init__(self, path: str) -> None:
        """Open `path` for appending (ValueError when it cannot be opened)."""
        self.path = Path(path).expanduser()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)  # rule 2
        except OSError as err:
            raise ValueError(
                f"responses_calls_log: cannot open {str(self.path)!r} for appending: "
                f"{err.strerror or err}"
            ) from err
        self._file: TextIO | None = os.fdopen(fd, "a", encoding="utf-8")
        self._failed = False
        self._flushing: asyncio.TimerHandle | None = None

    def write(self, record: CallRecord) -> None:
        file = self._file
        if file is None:
            return
        try:
            file.write(log_line(record))
        except (OSError, ValueError) as err:
            self._failure(err)
            return
        if self._flushing is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
            else:
                self._flushing = loop.call_later(FLUSH_AFTER, self.flush)

    def flush(self) -> None:
        self._flushing = None
        if self._file is not None:
            try:
                self._file.flush()
            except (OSError, ValueError) as err:
                self._failure(err)

    def _failure(self, err: Exception) -> None:
        if not self._failed:
            logger.warning("responses_calls_log: writing %s failed: %s", self.path, err)
        self._failed = True

    def close(self) -> None:
        if self._flushing is not None:
            self._flushing.cancel()
            self._flushing = None
        file, self._file = self._file, None
        if file is not None:
            try:
                file.close()
            except OSError as err:
                logger.warning("responses_calls_log: closing %s failed: %s", self.path, err)
