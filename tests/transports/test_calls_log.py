"""The per-call log: one JSON line per call, appended, owner-only, and no error message."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path

import pytest

from chat2responses.transports.calls_log import FLUSH_AFTER, CallsLog, log_line
from tests.records_helpers import record


def test_lines_are_appended_one_per_call(tmp_path: Path) -> None:
    path = tmp_path / "calls.jsonl"
    path.write_text('{"earlier": true}\n')
    log = CallsLog(str(path))
    log.write(record(id="a", at=0.0, input_tokens=10, cached_tokens=5, error="quoted prompt",
                     error_code="bad_request"))  # fmt: skip
    log.write(record(id="b"))
    log.close()
    log.write(record(id="c"))  # after close: nothing
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line.get("id") for line in lines] == [None, "a", "b"]
    first = lines[1]
    assert first["time"] == "1970-01-01T00:00:00.000+00:00"
    assert first["cached_share"] == 0.5 and first["error_code"] == "bad_request"
    assert "quoted prompt" not in path.read_text()


def test_a_new_file_is_the_owners_only(tmp_path: Path) -> None:
    path = tmp_path / "new.jsonl"
    CallsLog(str(path)).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_path_that_cannot_be_opened_is_the_options_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="responses_calls_log: cannot open"):
        CallsLog(str(tmp_path / "no" / "such" / "dir" / "calls.jsonl"))


def test_the_line_is_one_line_in_the_records_order() -> None:
    line = log_line(record(requested="a\nb"))
    assert line.endswith("\n") and line.count("\n") == 1
    keys = list(json.loads(line))
    assert keys[:3] == ["id", "at", "kind"] and keys[-1] == "time"


async def test_a_burst_is_flushed_once_soon_after(tmp_path: Path) -> None:
    """With an event loop running (the proxy's), lines are flushed within FLUSH_AFTER seconds
    of the first unflushed one; close flushes the rest."""
    path = tmp_path / "calls.jsonl"
    log = CallsLog(str(path))
    log.write(record(id="a"))
    log.write(record(id="b"))
    assert path.read_text() == ""  # not yet: one flush for the burst
    await asyncio.sleep(FLUSH_AFTER + 0.2)
    assert len(path.read_text().splitlines()) == 2
    log.write(record(id="c"))
    log.close()
    assert len(path.read_text().splitlines()) == 3
