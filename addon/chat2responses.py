"""Entry script: `mitmdump -s addon/chat2responses.py` (also mitmweb, mitmproxy).

mitmproxy loads this file by path; the `addon` package is importable once the project is
installed (the README's set-up does so). A checkout that was not installed still works: the
repository root is put on `sys.path` when the package is not found.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("addon") is None:  # pragma: no cover - uninstalled checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from addon.glue.commands import Commands
from addon.glue.eager import EagerConnections
from addon.glue.hooks import Chat2Responses

_main = Chat2Responses()
addons = [EagerConnections(_main.driver), _main, Commands(_main)]
