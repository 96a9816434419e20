"""Shared state on a real Redis (transports/shared_state.py): what one instance keeps, another
pulls before its call; what one learns, another absorbs; a Redis that goes away means memory,
with one warning, and a call that never waits or fails for it."""

from __future__ import annotations

import asyncio
import logging
import time
from types import SimpleNamespace
from typing import Any

import pytest

from chat2responses.call.memory import Lesson, Memory
from chat2responses.call.policy import Route
from chat2responses.call.replay import ReasoningCache
from chat2responses.transports.shared_state import SharedState, state_label
from chat2responses.upstream.catalog import Catalog
from tests.redis_helpers import redis_server

CREDENTIAL = "a1b2c3d4e5f6"
OUTPUT = [
    {"type": "reasoning", "summary": [], "encrypted_content": "sealed-1", "id": "rs_1"},
    {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}", "id": "fc"},
]
HISTORY = [
    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
    {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"},
    {"type": "function_call_output", "call_id": "call_1", "output": "ok"},
]


class Instance:
    """What one process keeps, backed by `url`."""

    def __init__(self, url: str, pull_every: float = 0.1) -> None:
        self.cache = ReasoningCache()
        self.memory = Memory()
        self.shared = SharedState(url, memory=lambda: self.memory, pull_every=pull_every)
        self.cache.backing = self.memory.backing = self.shared

    def job(self) -> Any:
        turn = SimpleNamespace(cache=self.cache, credential=CREDENTIAL)
        return SimpleNamespace(turn=turn, body={"input": HISTORY})


async def settle(condition: Any) -> None:
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110 (a state another task changes)
            await asyncio.sleep(0.02)


async def test_what_one_instance_keeps_another_pulls_before_its_call() -> None:
    with redis_server() as server:
        here, there = Instance(server.url), Instance(server.url)
        here.shared.start()
        there.shared.start()
        try:
            assert here.cache.keep(CREDENTIAL, OUTPUT) == 1
            assert there.cache.wanted(CREDENTIAL, HISTORY) == ["call:call_1"]
            await asyncio.sleep(0.2)  # the writer's push
            await there.shared.prepare(there.job())
            assert there.cache.wanted(CREDENTIAL, HISTORY) == []
            assert there.cache.replay(CREDENTIAL, HISTORY) == here.cache.replay(CREDENTIAL, HISTORY)
            # What one learns, the other absorbs on its next pull.
            match = Catalog.default().match("mystery")
            here.memory.learn("http://up", match, Lesson(Route.WEBSOCKET), now=time.time())
            await settle(lambda: there.memory.routes == here.memory.routes)
            assert here.shared.status == there.shared.status == "redis"
        finally:
            await here.shared.aclose()
            await there.shared.aclose()


async def test_a_redis_that_goes_away_means_memory_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "chat2responses.transports.shared_state")
    with redis_server() as server:
        instance = Instance(server.url)
        instance.shared.start()
        try:
            await asyncio.sleep(0.2)
            server.stop()
            started = time.monotonic()
            for _ in range(3):  # a call's pull never fails, and never waits past its bound
                await instance.shared.prepare(instance.job())
            assert time.monotonic() - started < 1.5
            instance.cache.keep(CREDENTIAL, OUTPUT)  # a push while away: dropped, not queued
            await settle(lambda: instance.shared.away is not None)
            assert instance.shared.status.startswith("memory (Redis at 127.0.0.1:")
            await asyncio.sleep(0.4)  # the puller's probes fail too, silently
            away = [r for r in caplog.records if "is unreachable" in r.getMessage()]
            assert len(away) == 1, caplog.text
            assert "memory until it is back" in away[0].getMessage()
            server.start()  # the same port: the puller's probe finds it back
            await settle(lambda: instance.shared.away is None)
            assert "is back; sharing again" in caplog.text
        finally:
            await instance.shared.aclose()


def test_the_label_never_shows_the_password() -> None:
    assert state_label("redis://:s3cret@cache.internal:6380/2") == "cache.internal:6380/2"
    assert state_label("redis://user:s3cret@10.0.0.5") == "10.0.0.5:6379/0"
    assert state_label("unix:///run/redis.sock") == "unix:/run/redis.sock"
