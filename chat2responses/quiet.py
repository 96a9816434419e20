"""Entry script for a quiet console, loaded before the addon's: `-s chat2responses/quiet.py`.

`chat2responses run` loads it unless `--verbose`: mitmproxy's own log records (client and server
connect/disconnect, "Streaming response from …", start-up notices) are raised to WARNING, so the
console shows the addon's one summary line per call plus mitmproxy's warnings and errors. The
flow lines are not log records (the dumper addon writes them), so `run` also sets `flow_detail=0`.

Owns: the levels of mitmproxy's loggers while loaded (mitmweb's line with its URL and token is
kept). Must not: touch any other logger (the addon's own, `chat2responses.*`, stays at whatever
mitmproxy's termlog shows) or load mitmproxy itself.
"""

from __future__ import annotations

import logging

# logger → the level it gets while loaded; a child's own level overrides its parent's
LEVELS = {
    "mitmproxy": logging.WARNING,
    # mitmweb's "Web server listening at http://…/?token=…": the UI is useless without it.
    "mitmproxy.tools.web.master": logging.INFO,
}


class QuietMitmproxy:
    """Sets `LEVELS` while loaded; puts the old levels back when unloaded."""

    def __init__(self) -> None:
        self._saved: dict[str, int] = {}

    def load(self, loader: object) -> None:
        for name, level in LEVELS.items():
            logger = logging.getLogger(name)
            self._saved[name] = logger.level
            logger.setLevel(level)

    def done(self) -> None:
        for name, level in self._saved.items():
            logging.getLogger(name).setLevel(level)
        self._saved.clear()


addons = [QuietMitmproxy()]
