"""The start handshake between `chat2responses run` and the addon in its mitmproxy child.

mitmproxy opens its port before it has loaded its scripts, and exits afterwards if a script
logged an error while it started (a bad option value). So a listening port does not mean the
proxy is up: `run` names a file in the C2R_READY_FILE environment variable of the child, and the
addon writes it once it runs with the options it started with, never after an error at start.
Outside `run` the variable is unset and nothing is written.

The file holds one JSON object: `{"web_url": …}`, mitmweb's address with its access token
(`http://127.0.0.1:8081/?token=…`), or null in mitmdump; `run` prints it in its banner. It lies in
a directory only the user can read (`run` makes it with mkdtemp).

`run` imports this module for the variable's name and `read_web_url`: mitmproxy is imported only
when the addon writes the file, inside the proxy.
"""

from __future__ import annotations

import json
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
    from mitmproxy import ctx  # noqa: PLC0415  (see the module's last paragraph)

    web_url = getattr(getattr(ctx, "master", None), "web_url", None)  # mitmweb's, with its token
    try:
        Path(path).write_text(json.dumps({"web_url": web_url}) + "\n")
    except OSError as exc:
        logger.warning("chat2responses: cannot tell chat2responses run it is up: %s", exc)


def read_web_url(path: Path) -> str | None:
    """The mitmweb address (with its token) the addon wrote to `path`, if any."""
    try:
        web_url = json.loads(path.read_text()).get("web_url")
    except (OSError, ValueError, AttributeError):
        return None
    return web_url if isinstance(web_url, str) else None
