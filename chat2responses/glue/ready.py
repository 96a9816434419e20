"""The start handshake between `chat2responses run` and the addon in its mitmproxy child.

mitmproxy opens its port before it has loaded its scripts, and exits afterwards if a script
logged an error while it started (a bad option value). So a listening port does not mean the
proxy is up: `run` names a file in the C2R_READY_FILE environment variable of the child, and the
addon writes it once it runs with the options it started with, never after an error at start.
Outside `run` the variable is unset and nothing is written.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

READY_VARIABLE = "C2R_READY_FILE"


def announce_ready() -> None:
    """Write the file `run` waits for, if it named one."""
    path = os.environ.get(READY_VARIABLE)
    if not path:
        return
    try:
        Path(path).write_text("ready\n")
    except OSError as exc:
        logger.warning("chat2responses: cannot tell chat2responses run it is up: %s", exc)
