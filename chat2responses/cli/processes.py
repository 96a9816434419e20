"""Ports and child processes for `chat2responses run`.

Owns: refusing a busy port before anything starts, starting the emulator and reading the URL it
prints, telling when the proxy is ready, and stopping children. Readiness is "our child listens on
a port that was free before it started, its addon says it runs (ready.py's handshake), and it is
still up a moment later": someone else's server cannot pass for it, and a mitmproxy that exits on
a startup error is not called ready.
"""

from __future__ import annotations

import ctypes
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from chat2responses.cli.commands import CliError

READY_TIMEOUT = 60.0
SETTLE = 0.5  # seconds a listening mitmproxy must stay up to count as started (`settle`)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether mitmproxy could bind `host:port` now (it binds with SO_REUSEADDR, so do we)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def claim_port(port: int, what: str, flag: str, variable: str, taken: int | None = None) -> int:
    """`port` if it is free (a free one for 0); a `CliError` naming it and the way out if not,
    with a port that is free now as the example. `taken`: a port this run claimed already."""
    if port == 0:
        return free_port()
    if port == taken:
        raise CliError(f"{flag} {port} is the port of the proxy itself; pick another one.")
    if not port_is_free(port):
        near = free_port_near(port, avoid=taken)
        example = f"e.g. {flag} {near}; " if near is not None else ""
        raise CliError(
            f"port {port} on 127.0.0.1 is already in use, so {what} cannot listen there.\n"
            f"Pick another port with {flag} N (or {variable}=N), {example}"
            f"{flag} 0 picks a free one."
        )
    return port


def free_port_near(port: int, avoid: int | None = None, tries: int = 100) -> int | None:
    """The first port from `port` + 10 on that is free now (an example the user can type), or
    None when none of `tries` is."""
    for candidate in range(port + 10, min(port + 10 + tries, 65536)):
        if candidate != avoid and port_is_free(candidate):
            return candidate
    return None


# Looked up here, not in the child: between fork and exec the child only calls it.
_PRCTL = ctypes.CDLL(None).prctl if sys.platform.startswith("linux") else None


def die_with_parent() -> None:
    """In a child, before it runs its program: on Linux, be sent SIGTERM when the command that
    started it dies, however it dies (a SIGKILL too), so that no proxy outlives it unwatched.
    (A preexec_fn: it calls one libc function and allocates nothing a thread could hold.)"""
    if _PRCTL is not None:
        _PRCTL(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG


def _forward_lines(stream: IO[str], lines: queue.Queue[str], out: IO[str]) -> None:
    """Hands each line to `lines` (for whoever waits for one) and echoes it to `out`."""
    for line in stream:
        lines.put(line)
        out.write(line)
        out.flush()


def start_emulator(command: list[str]) -> tuple[subprocess.Popen[str], str]:
    """Starts the emulator; returns it and the base URL it printed once listening."""
    child = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
        preexec_fn=die_with_parent,  # noqa: PLW1509 (see die_with_parent)
    )
    assert child.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    forward = threading.Thread(
        target=_forward_lines, args=(child.stdout, lines, sys.stdout), daemon=True
    )
    forward.start()
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.1)
        except queue.Empty:
            if child.poll() is not None:
                raise CliError(
                    "the emulator exited before it listened; see its output above"
                ) from None
            continue
        for word in line.split():
            if word.startswith("http://") and word.endswith("/backend-api/codex"):
                return child, word
    stop(child)
    raise CliError("the emulator did not say where it listens")


def wait_until_listening(child: subprocess.Popen[str], port: int, tool: str) -> None:
    """Returns once `child` listens on `port`, which was free before it started. Told by the
    port no longer being free, not by connecting: a probe connection that mitmproxy is handling
    when it exits on a startup error makes it print asyncio's traceback."""
    listening = f"did not listen on 127.0.0.1:{port}"
    wait_for(child, tool, lambda: not port_is_free(port), listening)


def wait_until_ready(child: subprocess.Popen[str], ready: Path, tool: str) -> None:
    """Returns once the addon in `child` wrote `ready` (the start handshake of ready.py): it
    runs with the options it started with. Raises if `child` exits first (mitmproxy exits on an
    error logged while it started)."""
    wait_for(child, tool, ready.exists, "did not load the chat2responses addon")


def wait_for(
    child: subprocess.Popen[str], tool: str, condition: Callable[[], bool], failing: str
) -> None:
    """Returns once `condition()` holds while `child` runs; a CliError when `child` exits first,
    or after READY_TIMEOUT seconds (`failing` says what did not happen)."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise CliError(f"{tool} exited (status {child.returncode}); see its output above")
        if condition() and child.poll() is None:
            return
        time.sleep(0.05)
    raise CliError(f"{tool} {failing} within {READY_TIMEOUT:.0f} s")


def settle(child: subprocess.Popen[str], port: int, tool: str) -> None:
    """Returns once `child` has kept `port` open for SETTLE seconds: mitmproxy opens its ports
    first, then exits if an error was logged while it started (a catalog file it cannot read).
    Closing the port is the first sign of that exit; the process may take a while longer."""
    deadline = time.monotonic() + SETTLE
    while time.monotonic() < deadline and child.poll() is None and not port_is_free(port):
        time.sleep(0.05)
    if child.poll() is None and not port_is_free(port):
        return
    try:
        child.wait(timeout=READY_TIMEOUT)
    except subprocess.TimeoutExpired:
        stop(child)
    raise CliError(f"{tool} exited (status {child.returncode}); see its output above")


def stop(child: subprocess.Popen[str]) -> None:
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
