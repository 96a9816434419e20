"""The garbage collector of the proxy's process, set once mitmproxy runs (`running`).

Rule 1: what exists by then (mitmproxy, the addon, the catalog) lives as long as the process:
        frozen, out of the collector's reach.
Rule 2: a young collection every YOUNG allocations instead of Python's 700: each call in flight
        holds thousands of young objects, which the default had the collector walk again and
        again (some 15 % of the process's CPU under load, scripts/bench). The older generations
        keep Python's ratios, so mitmproxy's own cyclic garbage (exception tracebacks holding
        frames) is still reclaimed as often relative to the young collections.
"""

from __future__ import annotations

import gc

YOUNG = 20000


def set_up_collector() -> None:
    gc.freeze()  # rule 1
    gc.set_threshold(YOUNG, 10, 10)  # rule 2
