"""Start the emulator for a test: in-process on 127.0.0.1:0, or as a `python -m` subprocess.

    async with emulator_in_process() as base_url: ...           # http://127.0.0.1:PORT/backend-api/codex
    async with emulator_in_process(ws_only=frozenset({"gpt-5.5"})) as base_url: ...
    with emulator_subprocess("--http-models", "gpt-5.5") as base_url: ...

Both yield the base URL; POST `{base_url}/responses`, GET `{base_url}/models`. Both stop the
server when the block ends. `token_url(base_url)` is the login's refresh endpoint on the same
port; `write_auth_json(path, expires_at=…)` writes a Codex `auth.json` whose tokens an emulator
with the same seed accepts (under `--require-login` too, until `expires_at`).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import selectors
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from chat2responses.emulator import Emulator, EmulatorConfig, serving
from chat2responses.emulator.login import DEFAULT_ACCOUNT, seeded_auth
from chat2responses.emulator.signing import secret_for

ROOT = Path(__file__).resolve().parent.parent
_BASE_URL = re.compile(r"http://\S+/backend-api/codex")


@asynccontextmanager
async def emulator_in_process(
    config: EmulatorConfig | None = None, *, clock: Any = None, **overrides: Any
) -> AsyncIterator[str]:
    """Serve an emulator in this event loop. `overrides` are `EmulatorConfig` fields applied to
    the default configuration (embedded catalog); `clock` replaces `time.time`."""
    config = config or EmulatorConfig.default(**overrides)
    emulator = Emulator(config, clock=clock) if clock else Emulator(config)
    async with serving(emulator, "127.0.0.1", 0) as base_url:
        yield base_url


def token_url(base_url: str) -> str:
    """`http://HOST:PORT/oauth/token` for the emulator serving `base_url`."""
    return base_url.removesuffix("/backend-api/codex") + "/oauth/token"


def write_auth_json(
    path: Path,
    *,
    expires_at: int,
    seed: str = "emulator",
    account_id: str = DEFAULT_ACCOUNT,
    nonce: str | None = None,
) -> dict[str, Any]:
    """Write (mode 0600) and return a Codex `auth.json`: an access token that expires at
    `expires_at` (may be past) and a fresh refresh token, both valid for an emulator whose
    `seed` is `seed`."""
    document = seeded_auth(
        secret_for(seed),
        expires_at=expires_at,
        account_id=account_id,
        nonce=nonce or secrets.token_hex(8),
    )
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    os.chmod(path, 0o600)
    return document


@contextmanager
def emulator_subprocess(*args: str, startup_timeout: float = 15.0) -> Iterator[str]:
    """Run `python -m chat2responses.emulator --port 0 ARGS…` and yield the base URL it prints."""
    command = [sys.executable, "-m", "chat2responses.emulator", "--port", "0", *args]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        yield _read_base_url(process, startup_timeout)
    finally:
        stop_process(process)


def _read_base_url(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise TimeoutError(f"the emulator printed nothing within {timeout} s")
    line = process.stdout.readline()
    match = _BASE_URL.search(line)
    if match is None:
        raise RuntimeError(f"no base URL in the emulator's first line: {line!r}")
    return match.group(0)


def stop_process(
    process: subprocess.Popen[Any], how: int = signal.SIGTERM, timeout: float = 5.0
) -> None:
    """Stop a child we started: `how` first, then a kill after `timeout` seconds."""
    if process.poll() is None:
        process.send_signal(how)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout is not None:
        process.stdout.close()
