"""Whether this instance can serve calls: the answer to `GET /_chat2responses/health`.

The glue gathers the facts (transports/loop_watch.py's lag, the driver, the login, the shared
state) and this module gives the verdict: 200 when every part that a call needs is fine, else 503
naming what is not; the body is a small JSON object a load balancer and a person can read.

Rule 1: a call needs a running event loop (its worst lag over the last seconds under
        LOOP_LAG_LIMIT), the loopback driver serving and not stopping, and, with the Codex
        login, a login it can use (readable, and not expired past what a refresh could mend).
Rule 2: the shared state (responses_state_url) is never a reason to refuse: without Redis an
        instance serves from memory (a warm cache lost, never a failed call); it is reported.
Rule 3: the body names no account, key, token or path: only parts and their states.
Pure: no I/O, no clock; the facts are given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LOOP_LAG_LIMIT = 1.0  # seconds: a loop this late cannot stream anyone's answer in time


@dataclass(frozen=True, slots=True)
class HealthFacts:
    loop_lag: float  # seconds, the worst recently seen
    driver_serving: bool
    stopping: bool
    login: str | None  # None: no login needed, or it is fine; else what is wrong with it
    shared_state: str  # "off", "redis", or "memory (…)" when Redis is away


def verdict(facts: HealthFacts) -> tuple[int, dict[str, Any]]:
    """The status code and JSON body of the health answer (rules 1-3)."""
    problems: list[str] = []
    if facts.loop_lag >= LOOP_LAG_LIMIT:
        problems.append(f"the event loop was blocked for {facts.loop_lag:.1f} s")
    if facts.stopping:
        problems.append("the proxy is stopping")
    elif not facts.driver_serving:
        problems.append("the loopback driver is not serving")
    if facts.login is not None:
        problems.append(f"the Codex login cannot be used: {facts.login}")
    body: dict[str, Any] = {
        "status": "unavailable" if problems else "ok",
        "loop_lag_ms": round(facts.loop_lag * 1000),
        "driver": "stopping" if facts.stopping else "ok" if facts.driver_serving else "down",
        "login": "ok" if facts.login is None else "unusable",
        "shared_state": facts.shared_state,
    }
    if problems:
        body["problems"] = problems
    return (503 if problems else 200), body
