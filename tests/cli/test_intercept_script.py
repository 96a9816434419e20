"""`scripts/intercept` is `chat2responses intercept` from the checkout's .venv: its help, and
what it refuses before anything starts (a busy port, a mode that needs root or a program)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.run_helpers import busy_port

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "intercept"


def intercept(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **env},
    )


def test_the_help_names_every_mode() -> None:
    done = intercept("--help")
    assert done.returncode == 0, done.stderr
    assert "{proxy,transparent,local,wireguard}" in done.stdout
    for flag in ("--interface", "--user", "--program", "--endpoint", "--listen-host", "--undo"):
        assert flag in done.stdout


def test_what_cannot_work_is_refused_before_anything_starts() -> None:
    with busy_port() as port:
        done = intercept("proxy", "--port", str(port))
        assert done.returncode == 2 and f"port {port} on 127.0.0.1 is already in use" in done.stderr
    done = intercept("local")
    assert done.returncode == 2 and "local mode needs --program NAME" in done.stderr
    done = intercept("proxy", "--", "--mode", "regular@9")
    assert done.returncode == 2 and "the mode is intercept's to set" in done.stderr
    assert "is ready" not in done.stdout
