"""How long a reused upstream WebSocket has to show it is alive.

A kept socket (the pool's, or a conversation's) may have died while it was idle without a word:
the upstream restarted and its old process stopped answering, a NAT forgot the connection, a
laptop slept. Its state still says open, and a frame sent on it goes nowhere; websockets' own
keep-alive notices only after its ping interval and timeout (about 40 s). So a reused socket is
sent a ping with the request (transports/websocket/stream.py) and must answer within
`liveness_wait`: with its pong or any frame. One that does not is dead and is not waited for.

Rule 1: the wait is LIVENESS_FACTOR times the socket's round trip (websockets' last measured
        ping latency, else the time its handshake took), never below LIVENESS_MIN (a loopback or
        unmeasured socket) nor above LIVENESS_MAX (a slow link still loses under two seconds).
Rule 2: a socket that did not answer in time costs one handshake: the request goes on a fresh
        socket (a continued one in full), and every idle socket to the same upstream is dropped
        too (what silenced one silenced those).

Pure: no I/O, no clock.
"""

from __future__ import annotations

LIVENESS_MIN = 0.5  # seconds
LIVENESS_MAX = 2.0
LIVENESS_FACTOR = 4.0


def liveness_wait(round_trip: float | None) -> float:
    """Seconds a reused socket has to answer (rule 1); `round_trip` in seconds, None or 0 when
    it was never measured."""
    if round_trip is None or round_trip <= 0:
        return LIVENESS_MIN
    return min(max(round_trip * LIVENESS_FACTOR, LIVENESS_MIN), LIVENESS_MAX)
