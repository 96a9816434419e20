"""A Redis for a test: Debian's redis-server on a free 127.0.0.1 port, in memory only.

    with redis_server() as server:      # server.url: redis://127.0.0.1:PORT/0
        server.stop(); server.start()   # the same port again

redis-server is installed with apt-get (--no-install-recommends) when it is missing, as
scripts/gateway --shared-state does.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager


def ensure_redis_server() -> str:
    found = shutil.which("redis-server")
    if found is None:
        install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "redis-server"]
        if subprocess.run(install, capture_output=True, check=False).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, check=True)
            subprocess.run(install, capture_output=True, check=True)
        found = shutil.which("redis-server")
    assert found is not None, "redis-server could not be installed"
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", ""]
        command += ["--appendonly", "no", "--loglevel", "warning"]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not listen")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer(ensure_redis_server())
    server.start()
    try:
        yield server
    finally:
        server.stop()
