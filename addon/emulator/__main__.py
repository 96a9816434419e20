"""`python -m addon.emulator` from a checkout, as DESIGN.md names it: the emulator, whose code is
`chat2responses.emulator` (`python -m chat2responses.emulator`, or `chat2responses emulator`)."""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from chat2responses.emulator.__main__ import main
except ImportError:  # pragma: no cover - an uninstalled checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from chat2responses.emulator.__main__ import main

main()
