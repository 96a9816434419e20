"""Reading a small file the addon depends on (the Codex login, a catalog) in bounded time.

Rule 1: only a regular file is read: opened non-blocking and checked with `fstat` first, so a
        FIFO, a device or a socket at that path is an error at once, never a read that waits
        for a writer (which would hang the proxy's event loop for good).
Rule 2: at most `limit` bytes: a larger file is an error naming the limit, read no further.
Rule 3: callers on the event loop use `read_small_file_async`, which reads in a thread.
Errors are `OSError` with a `strerror` that says what is wrong, never the file's content.
"""

from __future__ import annotations

import asyncio
import errno
import os
import stat
from pathlib import Path


def read_small_file(path: Path, limit: int) -> bytes:
    """The whole of `path`, a regular file of at most `limit` bytes (rules 1 and 2)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        if info.st_size > limit:
            raise OSError(errno.EFBIG, f"larger than {limit} bytes", str(path))
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:  # it grew while being read
                raise OSError(errno.EFBIG, f"larger than {limit} bytes", str(path))
    finally:
        os.close(fd)


async def read_small_file_async(path: Path, limit: int) -> bytes:
    """`read_small_file` off the event loop (rule 3)."""
    return await asyncio.to_thread(read_small_file, path, limit)
