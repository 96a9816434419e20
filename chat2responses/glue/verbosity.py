"""The addon's debug lines exist only when mitmproxy's log shows debug.

mitmproxy sets the root logger to DEBUG and filters in its handlers, so every `logger.debug` call
builds a record, formats it for the terminal's filter and queues an `add_log` event through every
addon — about a tenth of the proxy's CPU under load, for lines nobody sees. The `chat2responses`
logger follows the verbosity the user chose instead: `termlog_verbosity` (mitmdump, mitmweb) or
`console_eventlog_verbosity` (the console UI) at `debug` lets them through, anything else stops
them at INFO (the summary line per call, warnings and errors are never held back).

Owns: the level of the `chat2responses` logger while loaded. Must not: touch any other logger.
"""

from __future__ import annotations

import logging

from mitmproxy import ctx

LOGGER = "chat2responses"
VERBOSITY_OPTIONS = ("termlog_verbosity", "console_eventlog_verbosity")


def level_for(verbosities: list[str]) -> int:
    """The package logger's level for the verbosities the running tool has: DEBUG if any shows
    debug (or the tool has none to ask), INFO otherwise."""
    if not verbosities or "debug" in verbosities:
        return logging.DEBUG
    return logging.INFO


class Verbosity:
    """Keeps the `chat2responses` logger at `level_for` the current options; puts the old level
    back when unloaded."""

    def __init__(self) -> None:
        self._saved: int | None = None

    def configure(self, updated: set[str]) -> None:
        if not updated & set(VERBOSITY_OPTIONS) and self._saved is not None:
            return
        logger = logging.getLogger(LOGGER)
        if self._saved is None:
            self._saved = logger.level
        options = ctx.options
        verbosities = [str(getattr(options, n)) for n in VERBOSITY_OPTIONS if n in options]
        logger.setLevel(level_for(verbosities))

    def done(self) -> None:
        if self._saved is not None:
            logging.getLogger(LOGGER).setLevel(self._saved)
            self._saved = None
