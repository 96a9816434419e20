"""The agents the suite runs through the proxy (tests/e2e/test_agents.py): the Codex CLI and
opencode, pinned in tests/agents and installed once per lock (as scripts/test does); each run in
a home of its own, with an emulator whose request log the test reads.

Every run is kept on this machine: the agents' homes are temporary directories, and their
proxy variables point at a closed local port for every host but 127.0.0.1, so anything an agent
would fetch from the internet (updates, model lists, telemetry) fails at once instead.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.emulator_helpers import ROOT, _read_base_url, stop_process

AGENTS_DIR = ROOT / "tests" / "agents"
BIN = AGENTS_DIR / "node_modules" / ".bin"
NOWHERE = "http://127.0.0.1:9"  # a closed port: what an agent fetches from elsewhere fails
KEY_VARIABLE = "C2R_TEST_KEY"


def ensure_agents() -> None:
    """Install tests/agents' pinned packages unless that lock is installed (scripts/test's
    stamp, so a targeted pytest run installs them too)."""
    npm = shutil.which("npm")
    assert npm, "the agents tests need Node.js 20+ and npm on PATH"
    pinned = (AGENTS_DIR / "package.json").read_bytes() + (
        AGENTS_DIR / "package-lock.json"
    ).read_bytes()
    digest = hashlib.sha256(pinned).hexdigest()
    stamp = AGENTS_DIR / "node_modules" / ".chat2responses-lock"
    if not stamp.is_file() or stamp.read_text().strip() != digest:
        subprocess.run(
            [npm, "install", "--no-save", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=AGENTS_DIR,
            check=True,
            timeout=600,
        )
        stamp.write_text(digest + "\n")


@dataclass
class LoggingEmulator:
    """An emulator subprocess whose log lines (one per request it answered) the test reads."""

    url: str
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    def requests_since(self, since: int, needle: str = "") -> list[str]:
        """Request lines logged after line `since` (`POST responses …`, `WebSocket …`)."""
        return [
            line
            for line in self.lines[since:]
            if ("POST responses" in line or "WebSocket response.create" in line) and needle in line
        ]


@contextmanager
def logging_emulator(*args: str) -> Iterator[LoggingEmulator]:
    command = [sys.executable, "-m", "chat2responses.emulator", "--port", "0", *args]
    command += ["--log-level", "info"]
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        emulator = LoggingEmulator(_read_base_url(process, 15.0), process)

        def pump() -> None:
            assert process.stderr is not None
            for line in process.stderr:
                emulator.lines.append(line.rstrip("\n"))

        threading.Thread(target=pump, daemon=True).start()
        yield emulator
    finally:
        stop_process(process)
        if process.stderr is not None:
            process.stderr.close()


@dataclass
class Ran:
    output: str  # stdout and stderr
    last: str  # the agent's last message
    seconds: float
    returncode: int


def _env(home: Path, **more: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "TERM": "dumb",
        "NO_COLOR": "1",
        KEY_VARIABLE: "sk-test",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env[name] = env[name.lower()] = NOWHERE
    return env | more


def _run(
    command: list[str], cwd: Path, env: dict[str, str], timeout: float
) -> tuple[str, float, int]:
    started = time.monotonic()
    done = subprocess.run(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return done.stdout + done.stderr, time.monotonic() - started, done.returncode


def codex(
    home: Path, base_url: str, prompt: str, *, websockets: bool = False, timeout: float = 120
) -> Ran:
    """`codex exec PROMPT` with a provider that is the proxy (`wire_api = "responses"`)."""
    codex_home, workdir = home / "codex", home / "work"
    codex_home.mkdir(parents=True, exist_ok=True)
    workdir.mkdir(exist_ok=True)
    (codex_home / "config.toml").write_text(
        'model = "gpt-5.5"\n'
        'model_provider = "c2r"\n'
        "check_for_update_on_startup = false\n"
        "[model_providers.c2r]\n"
        'name = "chat2responses"\n'
        f'base_url = "{base_url}"\n'
        'wire_api = "responses"\n'
        f'env_key = "{KEY_VARIABLE}"\n'
        f"supports_websockets = {'true' if websockets else 'false'}\n"
    )
    last = home / "last.txt"
    command = [str(BIN / "codex"), "exec", "--skip-git-repo-check", "--ephemeral"]
    command += ["-o", str(last), prompt]
    env = _env(home, CODEX_HOME=str(codex_home))
    output, seconds, code = _run(command, workdir, env, timeout)
    said = last.read_text() if last.is_file() else ""
    return Ran(output, said, seconds, code)


def opencode(home: Path, base_url: str, prompt: str, *, timeout: float = 180) -> Ran:
    """`opencode run PROMPT` with its built-in OpenAI provider pointed at the proxy (the AI
    SDK's Responses provider)."""
    workdir = home / "work"
    workdir.mkdir(parents=True, exist_ok=True)
    config = (
        '{"$schema": "https://opencode.ai/config.json", "model": "openai/gpt-5.5",\n'
        ' "provider": {"openai": {"options": {"baseURL": "' + base_url + '", "apiKey": '
        '"sk-test"}, "models": {"gpt-5.5": {"name": "gpt-5.5"}}}}}\n'
    )
    (workdir / "opencode.json").write_text(config)
    env = _env(
        home,
        OPENCODE_DISABLE_MODELS_FETCH="1",
        OPENCODE_DISABLE_AUTOUPDATE="1",
        OPENCODE_DISABLE_DEFAULT_PLUGINS="1",
        OPENCODE_DISABLE_LSP_DOWNLOAD="1",
        OPENCODE_DISABLE_SHARE="1",
    )
    output, seconds, code = _run([str(BIN / "opencode"), "run", prompt], workdir, env, timeout)
    return Ran(output, output, seconds, code)
