"""One retry budget for the whole chain, through a real mitmdump with the openai SDK at its
defaults (two retries of its own): an outage costs the upstream the addon's three attempts and
the client one; a usage limit hours away is a 429 it does not wait out."""

from __future__ import annotations

import time

import openai
import pytest

from tests.proxy_helpers import Mitmdump


def logged_since(proxy: Mitmdump, since: int, needle: str, count: int) -> list[str]:
    """The log lines after line `since` holding `needle`, once there are `count` of them (the
    summary follows the answer, when the flow ends)."""
    deadline = time.monotonic() + 5
    while True:
        found = [line for line in proxy.lines[since:] if needle in line]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def test_an_outage_costs_three_upstream_attempts_and_one_client_attempt(proxy: Mitmdump) -> None:
    api = openai.OpenAI(base_url=proxy.base_url, api_key="sk-test")  # max_retries: 2
    since = len(proxy.lines)
    tag = f"[scenario:http_error:503] {time.monotonic_ns()}"
    with pytest.raises(openai.InternalServerError) as caught:
        api.chat.completions.create(
            model="gpt-5-codex", messages=[{"role": "user", "content": tag}]
        )
    assert caught.value.status_code == 503
    assert caught.value.response.headers["x-should-retry"] == "false"
    summaries = logged_since(proxy, since, "gpt-5-codex → gpt-5-codex", 1)
    time.sleep(0.3)  # a client retry, if there were one, would come now
    summaries = logged_since(proxy, since, "gpt-5-codex → gpt-5-codex", 1)
    assert len(summaries) == 1 and " · 503 · " in summaries[0]  # one client attempt
    retried = [line for line in proxy.lines[since:] if "; retrying in " in line]
    assert len(retried) == 2  # the addon's two retries: three upstream attempts

    # The client sends the same request again anyway: one upstream attempt, no more.
    since = len(proxy.lines)
    with pytest.raises(openai.InternalServerError):
        api.chat.completions.create(
            model="gpt-5-codex", messages=[{"role": "user", "content": tag}]
        )
    assert len(logged_since(proxy, since, "gpt-5-codex → gpt-5-codex", 1)) == 1
    assert not [line for line in proxy.lines[since:] if "; retrying " in line]


def test_a_far_usage_limit_is_a_429_without_retry_after(proxy: Mitmdump) -> None:
    api = openai.OpenAI(base_url=proxy.base_url, api_key="sk-test")
    since = len(proxy.lines)
    tag = f"[scenario:usage_limit] {time.monotonic_ns()}"
    with pytest.raises(openai.RateLimitError) as caught:
        api.chat.completions.create(model="gpt-5.5", messages=[{"role": "user", "content": tag}])
    headers = caught.value.response.headers
    assert "retry-after" not in headers and headers["x-should-retry"] == "false"
    error = caught.value.response.json()["error"]
    assert error["code"] == "usage_limit_reached" and "resets" in error["message"]
    assert error["resets_at"] > time.time() + 60
    assert len(logged_since(proxy, since, "gpt-5.5 → gpt-5.5", 1)) == 1
