"""The conversation store's clock, run: its kept sockets closed when they idle out, even when no
call comes to touch the store again.

The store (call/conversation.py) is pure: it says when its first record expires
(`expires_in`) and hands back what it stopped holding (`evicted`). This module keeps one timer
per store on the event loop, re-armed after every call that used it; when it fires, the sockets
the store let go are closed (they idled for the documented 5 minutes, or reached their age) and
the timer is armed for the next expiry.
"""

from __future__ import annotations

import asyncio
import contextlib
from weakref import WeakKeyDictionary

from chat2responses.call.conversation import ConversationStore
from chat2responses.transports.websocket import WebSocketPool

_TIMERS: WeakKeyDictionary[ConversationStore, asyncio.TimerHandle] = WeakKeyDictionary()


def watch(store: ConversationStore, pool: WebSocketPool) -> None:
    """(Re)arm `store`'s timer for its next expiry; none when it holds nothing."""
    old = _TIMERS.pop(store, None)
    if old is not None:
        old.cancel()
    delay = store.expires_in()
    if delay is None:
        return
    with contextlib.suppress(RuntimeError):  # no loop: nothing to close on time
        loop = asyncio.get_running_loop()
        _TIMERS[store] = loop.call_later(delay + 0.01, _expired, store, pool)


def _expired(store: ConversationStore, pool: WebSocketPool) -> None:
    _TIMERS.pop(store, None)
    for socket in store.evicted():
        pool.retire(socket)
    watch(store, pool)
