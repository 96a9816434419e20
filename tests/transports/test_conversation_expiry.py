"""The conversation store's timer: kept sockets are let go when they idle out, with no call to
touch the store again (transports/conversation_expiry.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from chat2responses.call.conversation import ConversationStore
from chat2responses.transports.conversation_expiry import watch
from tests.call.test_conversation import keep


class Pool:
    def __init__(self) -> None:
        self.retired: list[object] = []
        self.done = asyncio.Event()

    def retire(self, socket: object) -> None:
        self.retired.append(socket)
        if len(self.retired) == 2:
            self.done.set()


async def test_idle_sockets_are_retired_when_their_records_idle_out() -> None:
    store = ConversationStore(idle_ttl=0.05)
    first, second = object(), object()
    keep(store, "a", first, 0.0)
    keep(store, "b", second, 0.0)
    pool: Any = Pool()
    watch(store, pool)
    await asyncio.wait_for(pool.done.wait(), 5)
    assert pool.retired == [first, second] and len(store) == 0


async def test_a_store_holding_nothing_has_no_timer() -> None:
    pool: Any = Pool()
    watch(ConversationStore(idle_ttl=0.01), pool)
    await asyncio.sleep(0.05)
    assert pool.retired == []
