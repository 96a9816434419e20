"""cli/orphans.py: its rules as tables over /proc's text, then on real processes."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from chat2responses.cli.orphans import Process, Stat, alive, below, descendants, end, parse_stat

# /proc/PID/stat of a process named "a) b (c" (parentheses and spaces in the name).
STAT = "4242 (a) b (c) S 17 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 98765 1 2 3\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (STAT, Stat(parent=17, start=98765, state="S")),
        (STAT.replace(" S ", " Z "), Stat(parent=17, start=98765, state="Z")),
        ("", None),
        ("4242 (name S 17", None),  # no closing parenthesis
        ("4242 (x) S 17 1 2 3", None),  # too few fields
        (STAT.replace(" 98765 ", " soon "), None),
        (STAT.replace(" 17 ", " x "), None),
    ],
)
def test_parse_stat(text: str, expected: Stat | None) -> None:
    assert parse_stat(text) == expected


def _table(*rows: tuple[int, int]) -> dict[int, Stat]:
    return {pid: Stat(parent=parent, start=pid * 10, state="S") for pid, parent in rows}


@pytest.mark.parametrize(
    ("rows", "root", "expected"),
    [
        ([], 1, []),
        ([(2, 1), (3, 1)], 1, [2, 3]),
        ([(5, 1), (2, 5), (9, 2), (3, 1)], 1, [3, 5, 2, 9]),  # children first, then theirs
        ([(2, 1), (3, 4)], 1, [2]),  # another tree
        ([(2, 1)], 2, []),
        ([(2, 2)], 2, []),  # a process is not below itself
        ([(2, 3), (3, 2)], 2, [3]),  # a cycle (a table read while pids were reused) ends
    ],
)
def test_below(rows: list[tuple[int, int]], root: int, expected: list[int]) -> None:
    assert below(_table(*rows), root) == [Process(pid, pid * 10) for pid in expected]


TAIL = "10 10 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 {} 1 2 3"  # /proc/PID/stat from field 5 on


def _write(proc: Path, pid: int, stat: str, command: bytes = b"") -> None:
    (proc / str(pid)).mkdir(parents=True, exist_ok=True)
    (proc / str(pid) / "stat").write_text(stat)
    (proc / str(pid) / "cmdline").write_bytes(command)


def test_descendants_and_alive_read_a_proc_tree(tmp_path: Path) -> None:
    _write(tmp_path, 10, "10 (proxy) S 1 10 10 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 500 1 2 3")
    sudo = b"sudo\0--non-interactive\0/venv/bin/mitmproxy-linux-redirector\0/tmp/pipe\0"
    _write(tmp_path, 11, "11 (sudo) S 10 10 10 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 510 1 2 3", sudo)
    redirector = b"/venv/bin/mitmproxy-linux-redirector\0/tmp/pipe\0"
    _write(tmp_path, 12, "12 (mitmproxy-linu) S 11 " + TAIL.format(520), redirector)
    _write(tmp_path, 15, "15 (firefox) S 10 " + TAIL.format(540), b"firefox\0")
    _write(tmp_path, 13, "13 (other) S 1 13 13 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 530 1 2 3")
    _write(tmp_path, 14, "garbage")
    (tmp_path / "self").mkdir()
    everything = [Process(11, 510), Process(15, 540), Process(12, 520)]
    assert descendants(10, proc=tmp_path) == everything
    named = descendants(10, b"mitmproxy-linux-redirector", tmp_path)
    assert named == [Process(11, 510), Process(12, 520)]  # rule 4: not the browser
    assert alive(Process(12, 520), tmp_path)
    assert not alive(Process(12, 999), tmp_path)  # the pid is another process's now
    assert not alive(Process(77, 520), tmp_path)
    _write(tmp_path, 12, "12 (redirector) Z 11 10 10 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 520 1 2 3")
    assert not alive(Process(12, 520), tmp_path)  # a zombie has closed its files
    assert descendants(10, proc=tmp_path / "missing") == []


def test_end_stops_what_a_killed_parent_left_even_a_process_that_ignores_sigterm() -> None:
    script = (
        "import signal, subprocess, sys, time\n"
        "stubborn = 'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print(1, flush=True); time.sleep(60)'\n"
        "a = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "b = subprocess.Popen([sys.executable, '-c', stubborn], stdout=subprocess.PIPE)\n"
        "b.stdout.readline()\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None and parent.stdout.readline().strip() == "ready"
    left = descendants(parent.pid)
    assert len(left) == 2 and all(alive(process) for process in left)
    parent.send_signal(signal.SIGKILL)  # its children live on, as the redirector does
    parent.wait()
    parent.stdout.close()
    assert all(alive(process) for process in left)
    end(left, grace=0.5)  # the stubborn one needs the SIGKILL
    assert [process for process in left if alive(process)] == []
    end(left, grace=0.5)  # ending what is gone does nothing
