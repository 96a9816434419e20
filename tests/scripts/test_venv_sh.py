"""scripts/_venv.sh, which scripts/run and scripts/test share: the first run's install says what
it does in a few lines and keeps the installer's log in a file; with no Python 3.12 to be found
it says what to install on this kind of system."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.run_helpers import ROOT, RUN

VENV_SH = ROOT / "scripts" / "_venv.sh"


def test_a_first_run_installs_in_a_few_lines_and_keeps_the_log(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    uv = Path(sys.executable).parent / "uv"  # scripts/test put it there; it installs from its cache
    path = f"{uv.parent}:{os.environ['PATH']}" if uv.is_file() else os.environ["PATH"]
    env = {**os.environ, "C2R_VENV": str(venv), "PATH": path}
    first = subprocess.run(
        [str(RUN), "--help"], capture_output=True, text=True, timeout=600, check=True, env=env
    )
    lines = first.stderr.splitlines()
    assert lines[0].startswith(f"First run: creating {venv} with Python 3.1")
    assert lines[1] == f"Installing chat2responses[client] and its dependencies into {venv} ..."
    assert f"(its full log: {venv}/install.log)" in first.stderr
    assert any(line.startswith("    Installed ") and "packages" in line for line in lines), lines
    assert lines[-1].startswith("  installed in ")
    assert len(lines) <= 8, first.stderr
    assert " + " not in first.stderr  # one line per package: in the log, not on the terminal
    log = (venv / "install.log").read_text()
    assert "mitmproxy==" in log and "chat2responses" in log
    assert first.stdout.startswith("usage: chat2responses run")
    again = subprocess.run(
        [str(RUN), "--help"], capture_output=True, text=True, timeout=120, check=True, env=env
    )
    assert again.stderr == ""


def _hint(tmp_path: Path, release: str) -> str:
    os_release = tmp_path / "os-release"
    os_release.write_text(release)
    done = subprocess.run(
        ["bash", "-c", f'source "{VENV_SH}" && python_hint "{os_release}"'],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


DEBIAN_12 = 'ID=debian\nVERSION_ID="12"\n'
UBUNTU = 'ID=ubuntu\nVERSION_ID="{}"\nID_LIKE=debian\n'
NEWER = "'s python3 is 3.12 or newer"


@pytest.mark.parametrize(
    ("release", "says", "never"),
    [
        (DEBIAN_12, ["Debian 12 has an older python3", "uv python install 3.12"], ["deadsnakes"]),
        (DEBIAN_12, ["pyenv install 3.12"], ["apt-get install python3.12"]),
        (UBUNTU.format("22.04"), ["Ubuntu 22.04 has an older python3", "ppa:deadsnakes/ppa"], []),
        (UBUNTU.format("22.04"), ["apt-get install python3.12 python3.12-venv"], []),
        (UBUNTU.format("24.04"), ["Ubuntu 24.04" + NEWER, "install python3 python3-venv"], []),
        ('ID=debian\nVERSION_ID="13"\n', ["Debian 13" + NEWER], ["deadsnakes"]),
        ('ID=mint\nID_LIKE="ubuntu debian"\n', ["from your distribution if it has them"], []),
        ('ID=fedora\nVERSION_ID="40"\n', ["uv python install 3.12", "pyenv install"], ["apt"]),
    ],
)
def test_the_hint_fits_the_system(
    tmp_path: Path, release: str, says: list[str], never: list[str]
) -> None:
    hint = _hint(tmp_path, release)
    assert all(words in hint for words in says), hint
    assert not any(words in hint for words in never), hint
    assert "C2R_PYTHON=/path/to/python3.12" in hint


def test_with_no_python_3_12_it_says_what_to_install_here(tmp_path: Path) -> None:
    """The system's own programs only (no pyenv, no uv): on this machine's Debian 12 that is
    Python 3.11."""
    system_python = shutil.which("python3", path="/usr/bin:/bin")
    assert system_python is not None
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "C2R_VENV": str(tmp_path / "venv")}
    done = subprocess.run(
        ["bash", str(RUN), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith(
        "chat2responses needs Python 3.12 or newer (mitmproxy 12 requires it), and none was found."
    )
    release = Path("/etc/os-release").read_text()
    if 'VERSION_ID="12"' in release and "ID=debian" in release:
        assert "Debian 12 has an older python3 and no python3.12 package" in done.stderr
    assert done.stderr.rstrip().endswith("Then run this again.")
    assert not (tmp_path / "venv").exists()
