"""The processes a stopped child leaves behind, ended with it.

mitmproxy's local mode runs its redirector (an eBPF program on the root of the cgroup hierarchy,
which every network namespace shares) as a child of mitmdump, through sudo. When mitmdump stops,
the redirector lives on for about five seconds, and until it goes every connection of the
intercepted program is sent to a proxy that is no longer there. `intercept` records the proxy's
descendants while it runs and ends those still there once it has stopped.

Rule 1: a descendant is a process that /proc shows below the child (by parent pid) when recorded;
        later it is the same process only while its start time is the same (pids are reused).
Rule 2: ended with SIGTERM, then SIGKILL after `grace` seconds; a zombie counts as gone (its
        files, the eBPF links among them, are closed).
Rule 3: where there is no /proc (not Linux), nothing is recorded and nothing ended.
Rule 4: only the processes named are recorded: the redirector and what runs it (sudo, the
        stand-in of local_mode.py) hold its path in their command lines; anything else the proxy
        started (a browser mitmweb opened) is left alone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import NamedTuple

PROC = Path("/proc")


class Stat(NamedTuple):
    parent: int
    start: int  # clock ticks after boot
    state: str


class Process(NamedTuple):
    pid: int
    start: int


def parse_stat(text: str) -> Stat | None:
    """/proc/PID/stat's parent, start time and state; None for text that is not one. The name
    (field 2) is in parentheses and may hold spaces and parentheses: fields are read after the
    last ')'."""
    _, paren, rest = text.rpartition(")")
    fields = rest.split()
    if not paren or len(fields) < 20:
        return None
    try:
        return Stat(parent=int(fields[1]), start=int(fields[19]), state=fields[0])
    except ValueError:
        return None


def below(table: Mapping[int, Stat], root: int) -> list[Process]:
    """The processes of `table` (pid to stat) below `root`, children first."""
    children: dict[int, list[int]] = {}
    for pid, stat in table.items():
        children.setdefault(stat.parent, []).append(pid)
    found: list[Process] = []
    frontier = [root]
    while frontier:
        for pid in sorted(children.get(frontier.pop(0), [])):
            if pid != root and all(pid != seen.pid for seen in found):
                found.append(Process(pid, table[pid].start))
                frontier.append(pid)
    return found


def _stat(pid: int, proc: Path) -> Stat | None:
    try:
        return parse_stat((proc / str(pid) / "stat").read_text(errors="replace"))
    except OSError:
        return None


def descendants(root: int, running: bytes = b"", proc: Path = PROC) -> list[Process]:
    """The processes below `root` now (rule 1) whose command line holds `running` (rule 4);
    [] without /proc (rule 3)."""
    try:
        pids = [int(entry.name) for entry in proc.iterdir() if entry.name.isdigit()]
    except OSError:
        return []
    table = {pid: stat for pid in pids if (stat := _stat(pid, proc)) is not None}
    return [p for p in below(table, root) if running in _command_line(p.pid, proc)]


def _command_line(pid: int, proc: Path) -> bytes:
    try:
        return (proc / str(pid) / "cmdline").read_bytes()
    except OSError:
        return b""


def alive(process: Process, proc: Path = PROC) -> bool:
    stat = _stat(process.pid, proc)
    return stat is not None and stat.start == process.start and stat.state not in ("Z", "X")


def end(processes: Iterable[Process], grace: float = 3.0, proc: Path = PROC) -> None:
    """Ends each of `processes` that is still the same process (rules 1 and 2)."""
    left = [process for process in dict.fromkeys(processes) if alive(process, proc)]
    for signum in (signal.SIGTERM, signal.SIGKILL):
        for process in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(process.pid, signum)
        deadline = time.monotonic() + grace
        while left and time.monotonic() < deadline:
            time.sleep(0.02)
            left = [process for process in left if alive(process, proc)]
        if not left:
            return
