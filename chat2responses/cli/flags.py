"""Flags the project's commands share (`chat2responses run`, `intercept`, the team gateway):
a port's value, and the upstream the proxy calls. Pure of effects: it reads the environment for
the defaults and nothing else.
"""

from __future__ import annotations

import argparse
import os


def port_number(value: str) -> int:
    """A port flag's or variable's value (0 to 65535), or argparse's error."""
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}")
    return port


def add_upstream(parser: argparse.ArgumentParser, help: str) -> None:
    """`--upstream`: a named upstream or a URL, defaulting to `C2R_UPSTREAM`, else the
    bundled emulator."""
    parser.add_argument(
        "--upstream",
        default=os.environ.get("C2R_UPSTREAM", "emulator"),
        metavar="codex|openai|emulator|URL",
        help=help,
    )
