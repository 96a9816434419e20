"""glue/collector.py: the collector's settings once mitmproxy runs (put back after the test)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from chat2responses.glue.collector import YOUNG, set_up_collector


@pytest.fixture
def collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("collector")
def test_what_exists_is_frozen_and_young_collections_wait_for_more_allocations() -> None:
    set_up_collector()
    assert gc.get_freeze_count() > 0  # rule 1
    assert gc.get_threshold() == (YOUNG, 10, 10)  # rule 2
    gc.collect()  # every generation's count starts at 0
    collected: list[int] = []

    def note(phase: str, info: dict[str, int]) -> None:
        if phase == "stop":
            collected.append(info["generation"])

    gc.callbacks.append(note)
    try:
        kept = [[i] for i in range(5000)]  # 5000 tracked allocations: Python's 700 collects 7 times
    finally:
        gc.callbacks.remove(note)
    assert len(kept) == 5000 and collected == []
