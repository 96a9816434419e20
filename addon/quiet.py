"""Entry script for a quiet console: `mitmdump -s addon/quiet.py -s addon/chat2responses.py`.

`chat2responses run` loads it unless `--verbose`: mitmproxy's own log records (client and server
connect/disconnect, "Streaming response from …", start-up notices) are raised to WARNING, so the
console shows the addon's one summary line per call plus mitmproxy's warnings and errors. The
flow lines are not log records (the dumper addon writes them), so `run` also sets `flow_detail=0`.

Owns: the level of the `mitmproxy` logger while loaded. Must not: touch any other logger (the
addon's own, `addon.*`, stays at whatever mitmproxy's termlog shows) or import mitmproxy.
"""

from __future__ import annotations

import logging

QUIET_LOGGERS = ("mitmproxy",)


class QuietMitmproxy:
    """Raises mitmproxy's loggers to WARNING while loaded; puts them back when unloaded."""

    def __init__(self) -> None:
        self._saved: dict[str, int] = {}

    def load(self, loader: object) -> None:
        for name in QUIET_LOGGERS:
            logger = logging.getLogger(name)
            self._saved[name] = logger.level
            logger.setLevel(logging.WARNING)

    def done(self) -> None:
        for name, level in self._saved.items():
            logging.getLogger(name).setLevel(level)
        self._saved.clear()


addons = [QuietMitmproxy()]
