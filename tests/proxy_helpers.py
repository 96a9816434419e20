"""Start and stop a real mitmdump with the addon, for end-to-end tests (127.0.0.1 only)."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.emulator_helpers import stop_process

ROOT = Path(__file__).resolve().parent.parent
ENTRY = ROOT / "addon" / "chat2responses.py"
_LISTENING = re.compile(r"listening at (?:http://)?(?:\*|127\.0\.0\.1|\[::1?\]):(\d+)")


@dataclass
class Mitmdump:
    process: subprocess.Popen[str]
    port: int
    confdir: Path
    lines: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    def wait_for_log(self, needle: str, timeout: float = 5.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if needle in line:
                    return line
            time.sleep(0.02)
        raise AssertionError(f"{needle!r} not in the mitmdump log:\n{self.log[-4000:]}")


def mitmdump_binary() -> str:
    candidate = Path(sys.executable).parent / "mitmdump"
    return str(candidate) if candidate.exists() else "mitmdump"


@contextlib.contextmanager
def run_mitmdump(
    mode: str,
    confdir: Path,
    options: dict[str, str] | None = None,
    *extra: str,
    addon: bool = True,
) -> Iterator[Mitmdump]:
    """A mitmdump on 127.0.0.1 (a free port) with the addon loaded, or without (`addon=False`)."""
    args = [mitmdump_binary(), "--mode", mode, "--listen-host", "127.0.0.1", "--listen-port", "0"]
    args += ["-s", str(ENTRY)] if addon else []
    args += ["--set", f"confdir={confdir}"]
    # Tests read every level; a caller may choose otherwise (the benchmark does).
    options = {"termlog_verbosity": "debug", "flow_detail": "0", **(options or {})}
    for name, value in options.items():
        args += ["--set", f"{name}={value}"]
    args += list(extra)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=ROOT,
    )
    lines: list[str] = []
    found: list[int] = []

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            m = _LISTENING.search(line)
            if m and not found:
                found.append(int(m.group(1)))

    pumping = threading.Thread(target=pump, daemon=True)
    pumping.start()
    # Generous: on a loaded 2-core machine mitmdump's imports alone take seconds.
    deadline = time.monotonic() + 60
    while not found:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            pumping.join(5)  # it reads to the end of the output, then the pipe can close
            if process.stdout is not None:
                process.stdout.close()  # else an unclosed-file warning fails a later test
            raise RuntimeError("mitmdump did not start:\n" + "\n".join(lines))
        time.sleep(0.02)
    proxy = Mitmdump(process=process, port=found[0], confdir=confdir, lines=lines)
    try:
        yield proxy
    finally:
        stop_process(process, timeout=10)
        if process.stdout is not None:
            process.stdout.close()
