"""`python -m chat2responses.glue.launch mitmdump|mitmweb ARGS…`: mitmproxy, quiet from its
first line (how `chat2responses run` starts it unless `--verbose`).

The quiet console's script (`-s chat2responses/quiet.py`) can only quiet mitmproxy once it is
loaded, after mitmproxy has announced `Loading script …/quiet.py`; and it puts mitmproxy's levels
back when unloaded. Here the levels of quiet.py are set before mitmproxy starts and stay until the
process ends, so neither that line nor the connection lines of a Ctrl-C are shown.

Owns: the levels of mitmproxy's loggers in this process. Must not: change mitmproxy's arguments.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from chat2responses.quiet import quiet_loggers

TOOLS = ("mitmdump", "mitmweb")


def main(argv: Sequence[str]) -> int:
    if not argv or argv[0] not in TOOLS:
        print(
            f"usage: python -m {__spec__.name if __spec__ else __name__} {'|'.join(TOOLS)} [ARGS…]",
            file=sys.stderr,
        )
        return 2
    quiet_loggers()
    from mitmproxy.tools import main as tools  # noqa: PLC0415  (after the levels are set)

    try:
        getattr(tools, argv[0])(list(argv[1:]))
    except KeyboardInterrupt:
        # A Ctrl-C that lands while mitmproxy stops (its signal handlers already gone): the
        # user's stop all the same, not a traceback on their console.
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
