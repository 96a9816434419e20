"""The mitmproxy script of an installed chat2responses: `mitmdump -s "$(chat2responses script)"`.

mitmproxy runs this file by path (as `__mitmproxy_script__.addon`) and reads its `addons`; the
checkout's `addon/chat2responses.py` runs it the same way. Importing this module as
`chat2responses.addon` makes no addon.

It works in any mitmproxy 12, however that was installed: with the project's own (the tool's
environment), or with one the user installed apart (a distribution package, another venv, pipx).
A foreign mitmproxy cannot import the project or its dependencies (aiohttp, websockets), so this
file finds the environment it was installed into from its own path and appends that
environment's site directory to `sys.path` (appended: the running mitmproxy's own packages come
first; the pure-Python fallbacks of aiohttp and its helpers serve another Python version):

- an installed package: `…/site-packages/chat2responses/addon.py` → that `site-packages`;
- a checkout: `<checkout>/chat2responses/addon.py` → the checkout, and the site directory of its
  virtual environment (`$C2R_VENV`, else `<checkout>/.venv`), the running Python's version first.

mitmproxy also puts this file's folder first on `sys.path`, where the package's own subfolders
(`request`, `protocol`, …) would shadow top-level modules of those names: it is taken off again.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

# What the addon imports that a mitmproxy of its own may lack.
NEEDED = ("chat2responses", "aiohttp", "websockets")


def site_directories(package_dir: Path) -> list[Path]:
    """Where the environment holding `package_dir` (this package's folder) keeps its packages."""
    base = package_dir.parent
    found = [base] if (base / "chat2responses" / "__init__.py").is_file() else []
    if (base / "pyproject.toml").is_file():  # a checkout: its virtual environment
        venv = Path(os.environ.get("C2R_VENV") or base / ".venv")
        mine = f"python{sys.version_info.major}.{sys.version_info.minor}"
        sites = sorted(venv.glob("lib/python3*/site-packages"), key=lambda p: p.parent.name != mine)
        found += sites
    return found


def find_environment(package_dir: Path) -> None:
    """Make the package and its dependencies importable in whatever mitmproxy runs this file."""
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != package_dir]
    if all(importlib.util.find_spec(name) is not None for name in NEEDED):
        return
    for site in site_directories(package_dir):
        if str(site) not in sys.path:
            sys.path.append(str(site))


def make_addons() -> list[Any]:
    """The addons, in the order their hooks must run (the log level set before anything logs,
    EagerConnections' `request` before the rewrite)."""
    from chat2responses.glue.commands import Commands
    from chat2responses.glue.eager import EagerConnections
    from chat2responses.glue.hooks import Chat2Responses
    from chat2responses.glue.verbosity import Verbosity

    main = Chat2Responses()
    return [Verbosity(), EagerConnections(main.driver), main, Commands(main)]


if __name__.startswith("__mitmproxy_script__"):
    find_environment(Path(__file__).resolve().parent)
    addons = make_addons()
