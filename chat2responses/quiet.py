"""Entry script for a quiet console, loaded before the addon's: `-s chat2responses/quiet.py`.

`chat2responses run` loads it unless `--verbose`: mitmproxy's own log records (client and server
connect/disconnect, "Streaming response from …", start-up notices) are raised to WARNING, so the
console shows the addon's one summary line per call plus mitmproxy's warnings and errors. The
flow lines are not log records (the dumper addon writes them), so `run` also sets `flow_detail=0`.

`chat2responses run` does not load it: it starts mitmproxy through glue/launch.py, which sets
the same levels before mitmproxy's first line.

Owns: the levels of mitmproxy's loggers while loaded (mitmweb's line with its URL and token is
kept); they stay when mitmproxy exits (put back then, the shutdown's connection lines would
show), and go back when the script alone is unloaded. Must not: touch any other logger (the
addon's own, `chat2responses.*`, stays at whatever mitmproxy's termlog shows) or load mitmproxy
itself.
"""

from __future__ import annotations

import logging
from typing import Any

# logger → the level it gets while loaded; a child's own level overrides its parent's
LEVELS = {
    "mitmproxy": logging.WARNING,
    # mitmweb's "Web server listening at http://…/?token=…": the UI is useless without it.
    "mitmproxy.tools.web.master": logging.INFO,
}


def quiet_loggers() -> dict[str, int]:
    """Sets `LEVELS`; returns the levels they replaced."""
    saved = {}
    for name, level in LEVELS.items():
        logger = logging.getLogger(name)
        saved[name] = logger.level
        logger.setLevel(level)
    return saved


class QuietMitmproxy:
    """Sets `LEVELS` while loaded; puts the old levels back when unloaded while mitmproxy goes
    on running."""

    def __init__(self) -> None:
        self._saved: dict[str, int] = {}
        self._master: Any = None

    def load(self, loader: Any) -> None:
        self._master = getattr(loader, "master", None)
        self._saved = quiet_loggers()

    def done(self) -> None:
        should_exit = getattr(self._master, "should_exit", None)
        if should_exit is not None and should_exit.is_set():
            return  # mitmproxy is exiting: stay quiet to the end
        for name, level in self._saved.items():
            logging.getLogger(name).setLevel(level)
        self._saved.clear()


addons = [QuietMitmproxy()]
