"""The mitmproxy script of an installed chat2responses: `mitmdump -s $(chat2responses script)`.

mitmproxy runs this file by path (as `__mitmproxy_script__.addon`) and reads its `addons`; a
checkout's `addon/chat2responses.py` imports `make_addons` from here. Importing this module as
`chat2responses.addon` makes nothing.
"""

from __future__ import annotations

from typing import Any

from chat2responses.glue.commands import Commands
from chat2responses.glue.eager import EagerConnections
from chat2responses.glue.hooks import Chat2Responses
from chat2responses.glue.verbosity import Verbosity


def make_addons() -> list[Any]:
    """The addons, in the order their hooks must run (the log level set before anything logs,
    EagerConnections' `request` before the rewrite)."""
    main = Chat2Responses()
    return [Verbosity(), EagerConnections(main.driver), main, Commands(main)]


if __name__.startswith("__mitmproxy_script__"):
    addons = make_addons()
