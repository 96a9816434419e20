"""One call's part in its conversation: what each attempt sends, what a completed answer teaches.

The glue makes a `Turn` per rewritten call (the conversation key, the credential digest, the full
body); the driver asks it, per attempt, for the body to send (a continuation on the kept socket,
or the full request with kept reasoning replayed), shows it the output items as they complete,
and tells it how the call ended. The store (conversation.py) and the cache (replay.py) keep the
state; this module only decides when to use them.

Pure: no I/O; sockets are opaque handles.

Rule 1: a continuation is planned once, before the first attempt, and only for the WebSocket
        route with continuation on; the plan takes the conversation's socket.
Rule 2: only a completed answer is remembered (and its reasoning kept); a continued answer that
        comes back empty turns continuation off for that upstream, for the life of the process.
Rule 3: on a continuation miss the conversation is forgotten; on a refused replay the replayed
        items are forgotten.
Rule 4: a conversation that may continue carries its instructions as its first input item, so
        that a continued turn need not send them again.
Rule 5: a compaction (input ending in a `compaction_trigger`) may itself be continued (the Codex
        CLI sends it so: `previous_response_id` and the trigger), but it is never remembered:
        the turn after it starts from the compacted input, in full, never from a
        `previous_response_id` that would bring the old history back. Its answer (one
        `compaction` item) is not an empty answer.
Rule 6: a completed answer to a Responses client is kept for a later `previous_response_id`
        (call/chains.py), whichever attempt and route answered it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chat2responses.call.chains import ChainLink
from chat2responses.call.conversation import Continuation, ConversationStore
from chat2responses.call.policy import Attempt
from chat2responses.call.replay import ReasoningCache
from chat2responses.call.units import is_empty_answer
from chat2responses.protocol.events import Event, EventType
from chat2responses.request.compaction import ends_in_trigger

logger = logging.getLogger(__name__)


def instructions_as_input(body: dict[str, Any], *, role: str, keep_field: bool) -> dict[str, Any]:
    """`body` with its `instructions` moved to the first input item (rule 4): the upstream keeps
    input items with a response, but not its instructions (OpenAI: "instructions from a previous
    response will not be carried over"), so only this way does a continuation leave them out.
    `keep_field`: the backend wants the field present (the Codex backend), sent empty."""
    instructions = body.get("instructions")
    items = body.get("input")
    if not isinstance(instructions, str) or not instructions or not isinstance(items, list):
        return body
    first = {
        "type": "message",
        "role": role,
        "content": [{"type": "input_text", "text": instructions}],
    }
    out = {k: v for k, v in body.items() if k != "instructions"}
    if keep_field:
        out["instructions"] = ""
    out["input"] = [first, *items]
    return out


@dataclass(slots=True)
class Turn:
    key: str
    upstream: str
    credential: str  # a digest, never a secret
    store: ConversationStore | None  # None: responses_continuation=off
    cache: ReasoningCache
    chain: ChainLink | None = None  # a Responses call's place in its chain (call/chains.py)
    continuation: Continuation | None = None
    replayed: int = 0  # reasoning items replayed into the last full request
    sent_items: int = 0  # input items of the last request sent
    full_items: int = 0  # input items the full request has
    _sent: dict[str, Any] = field(default_factory=dict)  # the full body of the last attempt
    _output: dict[int, Any] = field(default_factory=dict)
    _response_id: str | None = None
    _final_output: list[Any] = field(default_factory=list)
    _replayed_input: list[Any] = field(default_factory=list)

    def plan(self, body: dict[str, Any], socket_usable: Callable[[object], bool]) -> bool:
        """Rule 1: take the conversation's socket when `body` continues it; True if so."""
        if self.store is None or not self.store.enabled(self.upstream):
            return False
        self.continuation = self.store.plan(
            self.key,
            body,
            upstream=self.upstream,
            credential=self.credential,
            socket_usable=socket_usable,
        )
        return self.continuation is not None

    def body(self, attempt: Attempt, full: dict[str, Any]) -> tuple[dict[str, Any], object | None]:
        """What `attempt` sends, and on which socket (None: any). `full` is never changed."""
        self._sent, self._output, self._response_id, self._final_output = full, {}, None, []
        items = full.get("input")
        self.full_items = len(items) if isinstance(items, list) else 1
        if attempt.continued and self.continuation is not None:
            self.replayed = 0
            self.sent_items = len(self.continuation.new_items)
            return self.continuation.body(full), self.continuation.socket
        self.sent_items = self.full_items
        if not attempt.replay or not isinstance(items, list):
            self.replayed = 0
            return full, None
        replayed, self.replayed = self.cache.replay(self.credential, items)
        if not self.replayed:
            return full, None
        self.sent_items, self._replayed_input = len(replayed), replayed
        return {**full, "input": replayed}, None

    def observe(self, event: Event) -> None:
        """Collect the answer's output items (cheap: two event types are looked at)."""
        kind = event["type"]
        if kind == EventType.OUTPUT_ITEM_DONE:
            index = event.get("output_index")
            self._output[index if isinstance(index, int) else len(self._output)] = event.get("item")
        elif kind == EventType.COMPLETED:
            response = event.get("response")
            if isinstance(response, dict):
                rid, output = response.get("id"), response.get("output")
                self._response_id = rid if isinstance(rid, str) else None
                self._final_output = output if isinstance(output, list) else []

    @property
    def completed(self) -> bool:
        return self._response_id is not None

    def output(self) -> list[Any]:
        return self._final_output or [self._output[i] for i in sorted(self._output)]

    def finished(self, attempt: Attempt) -> list[str]:
        """After a completed answer (rule 2): keep its reasoning; returns news for the log."""
        if not self.completed:
            return []
        output = self.output()
        self.cache.keep(self.credential, output)
        if self.chain is not None and self._response_id is not None:
            self.chain.keep(self._response_id, output)  # rule 6
        compaction = ends_in_trigger(self._sent)  # its one item is no text nor call (rule 5)
        warm_up = self._sent.get("generate") is False  # empty by design (a prewarm)
        if (
            attempt.continued
            and self.store is not None
            and not compaction
            and not warm_up
            and is_empty_answer(output)
        ):
            self.store.disable(self.upstream)
            return [
                f"a continued response from {self.upstream} came back empty: continuing "
                "conversations there is off until chat2responses restarts"
            ]
        return []

    def remember(self, socket: object, opened_at: float) -> bool:
        """Keep `socket` for this conversation's next turn; False when it is not to be kept."""
        if self.store is None or not self.completed or self._response_id is None:
            return False
        if not self.store.enabled(self.upstream) or ends_in_trigger(self._sent):  # rule 5
            return False
        self.store.remember(
            self.key,
            upstream=self.upstream,
            credential=self.credential,
            body=self._sent,
            response_id=self._response_id,
            output=self.output(),
            socket=socket,
            socket_opened_at=opened_at,
        )
        return True

    def missed(self) -> None:
        """Rule 3: the upstream no longer knows the previous response."""
        if self.store is not None:
            self.store.forget(self.key, upstream=self.upstream, credential=self.credential)
        self.continuation = None

    def replay_refused(self) -> None:
        """Rule 3: the upstream refused a replayed item: forget what was replayed."""
        self.cache.forget(self.credential, self._replayed_input)
