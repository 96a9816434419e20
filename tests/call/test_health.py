"""The health verdict (call/health.py): 200 when every part a call needs is fine, else 503
naming what is not; shared state never a reason to refuse."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chat2responses.call.health import HealthFacts, verdict

FINE = HealthFacts(
    loop_lag=0.01, driver_serving=True, stopping=False, login=None, shared_state="off"
)


@pytest.mark.parametrize(
    ("change", "status", "problem"),
    [
        ({}, 200, None),
        ({"loop_lag": 0.99}, 200, None),
        ({"shared_state": "memory (Redis at 127.0.0.1:6379/0 is away)"}, 200, None),
        ({"loop_lag": 1.0}, 503, "the event loop was blocked for 1.0 s"),
        ({"loop_lag": 7.26}, 503, "the event loop was blocked for 7.3 s"),
        ({"driver_serving": False}, 503, "the loopback driver is not serving"),
        ({"stopping": True}, 503, "the proxy is stopping"),
        ({"login": "the login file is missing or unreadable"}, 503, "the Codex login cannot"),
    ],
)
def test_the_verdict(change: dict[str, object], status: int, problem: str | None) -> None:
    facts = replace(FINE, **change)  # type: ignore[arg-type]
    code, body = verdict(facts)
    assert code == status
    assert body["status"] == ("ok" if status == 200 else "unavailable")
    if problem is None:
        assert "problems" not in body
    else:
        assert any(p.startswith(problem) for p in body["problems"]), body


def test_the_body_says_each_part_and_nothing_else() -> None:
    code, body = verdict(FINE)
    assert code == 200
    assert body == {
        "status": "ok",
        "loop_lag_ms": 10,
        "driver": "ok",
        "login": "ok",
        "shared_state": "off",
    }
    _, stopping = verdict(HealthFacts(0, False, True, "x", "redis"))
    assert (stopping["driver"], stopping["login"], stopping["shared_state"]) == (
        "stopping",
        "unusable",
        "redis",
    )
