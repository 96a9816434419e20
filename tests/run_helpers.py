"""Run `scripts/run` (or another command of the project) for real, reading its console as it
goes; stopped with Ctrl-C's signal when the block ends. Everything listens on 127.0.0.1 only."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.emulator_helpers import stop_process

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "scripts" / "run"
READY = re.compile(
    r"chat2responses is ready: (?:mitmdump|mitmweb) on 127\.0\.0\.1:(\d+), upstream .*\((\S+)\)"
)


@dataclass
class Running:
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: re.Pattern[str], timeout: float = 60.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if found := pattern.search(line):
                    return found
            assert self.process.poll() is None, "the command exited:\n" + self.text
            time.sleep(0.05)
        raise AssertionError(f"{pattern.pattern!r} not printed:\n" + self.text)

    def ctrl_c(self) -> None:
        """What Ctrl-C in a terminal does: SIGINT to the whole process group (the command and
        every child it started)."""
        os.killpg(self.process.pid, signal.SIGINT)

    def after_banner(self) -> list[str]:
        return self.text.split("Press Ctrl-C to stop.", 1)[1].strip().splitlines()


@contextlib.contextmanager
def running(
    command: Sequence[str], env: dict[str, str] | None = None, cwd: Path = ROOT
) -> Iterator[Running]:
    """`command` started in a process group of its own, its output read line by line; SIGINT
    when done."""
    process = subprocess.Popen(
        list(command),
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    state = Running(process)
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: state.lines.extend(process.stdout or ()))
    reader.start()
    try:
        yield state
    finally:
        stop_process(process, signal.SIGINT, timeout=15)
        reader.join(timeout=5)
        process.stdout.close()


@contextlib.contextmanager
def scripts_run(*args: str, env: dict[str, str] | None = None) -> Iterator[Running]:
    with running([str(RUN), *args], env) as state:
        yield state


def listens(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
        return True
    return False


@contextlib.contextmanager
def busy_port() -> Iterator[int]:
    """A port some other program listens on, for as long as the block runs."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]
