"""One retry budget for the whole chain: a request whose retries the addon used up gets none
when its client sends it again.

A client retries an error on its own (the openai SDKs twice, opencode five times over a minute,
the Codex CLI up to 30 times), so if each of its attempts cost the addon's own retries too, one
outage would cost the upstream the addon's attempts times the client's. `RetryBudgets` remembers
the requests (`request_key`: the upstream, the credential's digest and the client's body) whose
transient failures used up their retries (call/machine.py says so); while that is recent, the
same request makes one attempt and no retries (call/plan.py asks `retries`). Other requests, the
same upstream's included, keep theirs: one request failing says little of the next.

Rule 1: a request's budget is spent when its transient failures used up its retries (or it had
        none left to use); each such call renews it.
Rule 2: it stays spent `window` seconds after the last such call, or until the request is
        answered (each attempt of the client's is then also a probe).
Rule 3: bounded: at most `cap` requests, the least recently spent forgotten first.

Pure: no I/O; the clock is injected (monotonic seconds).
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable

BUDGET_WINDOW = 90.0  # seconds: longer than the openai SDKs' and opencode's retry backoffs


def request_key(upstream: str, credential: str, body: bytes) -> str:
    """Which request this is, across a client's retries (they resend the same body)."""
    digest = hashlib.sha256()
    for part in (upstream.encode(), credential.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class RetryBudgets:
    def __init__(
        self,
        *,
        window: float = BUDGET_WINDOW,
        cap: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._window = window
        self._cap = cap
        self._clock = clock
        self._spent: OrderedDict[str, float] = OrderedDict()  # request → when it was spent

    def retries(self, request: str, configured: int) -> int:
        """The retries a call of `request` may make: `configured`, or none while it is spent."""
        return 0 if self.spent(request) else configured

    def spent(self, request: str) -> bool:
        at = self._spent.get(request)
        if at is None:
            return False
        if self._clock() - at >= self._window:
            del self._spent[request]
            return False
        return True

    def used_up(self, request: str) -> None:
        """A call of `request` ended on transient failures with no retry left (rule 1)."""
        self._spent.pop(request, None)
        self._spent[request] = self._clock()
        while len(self._spent) > self._cap:
            self._spent.popitem(last=False)

    def answered(self, request: str) -> None:
        """A call of `request` completed (rule 2)."""
        self._spent.pop(request, None)
