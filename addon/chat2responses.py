"""Entry script: `mitmdump -s addon/chat2responses.py` (also mitmweb, mitmproxy).

mitmproxy runs this file by path and puts its folder first on `sys.path`; that folder holds this
very file, whose name would shadow the `chat2responses` package, so it is taken off again. The
package is importable once the project is installed (the README's set-up does so); a checkout
that was not installed still works: the repository root is put on `sys.path` instead. A
mitmproxy installed apart from the project finds the checkout's `.venv` for the rest
(`find_environment` in chat2responses/addon.py).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
if importlib.util.find_spec("chat2responses") is None:  # pragma: no cover - uninstalled checkout
    sys.path.insert(0, str(_HERE.parent))

from chat2responses.addon import find_environment, make_addons  # noqa: E402

find_environment(_HERE.parent / "chat2responses")
addons = make_addons()
