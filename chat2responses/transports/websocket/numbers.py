"""Which upstream WebSocket a response went over: each socket's number in this process, and how
many responses it has carried.

mitmweb shows a kept socket as one upstream leg across its turns (glue/legs.py), and the
Conversation view says which socket each turn used; both need a name for a socket that outlives
one call and that a person can read ("socket 3, turn 2 on it"). Must not keep a socket alive:
sockets are held weakly, and a number is never reused within the process.
"""

from __future__ import annotations

import itertools
import weakref


class SocketNumbers:
    """Numbers sockets in the order they were first used (1, 2, …) and counts their responses."""

    def __init__(self) -> None:
        self._next = itertools.count(1)
        self._uses: weakref.WeakKeyDictionary[object, list[int]] = weakref.WeakKeyDictionary()

    def use(self, socket: object) -> tuple[int, int]:
        """A response starts on `socket`: its number, and this response's turn on it (1: the
        first response the socket carries)."""
        entry = self._uses.get(socket)
        if entry is None:
            entry = self._uses[socket] = [next(self._next), 0]
        entry[1] += 1
        return entry[0], entry[1]


SOCKET_NUMBERS = SocketNumbers()  # one numbering per process
