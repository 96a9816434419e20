"""Upstream events in, the compact endpoint's answer out: `{"object": "response.compaction", …}`.

A compact request goes upstream as a streamed `/responses` call ending in a `compaction_trigger`
item (request/compaction.py); its answer is one `compaction` item (`cmp_…`, `encrypted_content`)
in `response.output_item.done`, with an empty `response.completed.output`
(reference/codex-backend-2026.md §8). `CompactionSink` answers the client as the public
`POST /v1/responses/compact` does: `id`, `object: "response.compaction"`, `created_at`, `output`
(the request's user messages, then the one `compaction` item), `usage` and the served
`service_tier` when the upstream says it.

Pure: no I/O. Same verbs as the other sinks (response/chat_sinks.py `Sink`).

Rule 1: an upstream error raises (before the answer, so it keeps its status); nothing is written
        until the terminal event, since the answer is one JSON body.
Rule 2: an answer without a `compaction` item (the item events, else the terminal `output`) is
        the upstream's protocol error, never an empty success.
"""

from __future__ import annotations

from typing import Any

from chat2responses.protocol.errors import ProxyError, UpstreamProtocolError, error_body
from chat2responses.protocol.events import RESPONSE_END, Event, EventType, error_of_event
from chat2responses.protocol.params import Item
from chat2responses.protocol.wire import dumps, utf8
from chat2responses.request.compaction import COMPACTION
from chat2responses.response.chat_sinks import (
    JSON_CONTENT_TYPE,
    MAX_AGGREGATED_BYTES,
    check_buffered,
)

COMPACTION_OBJECT = "response.compaction"


class CompactionSink:
    streaming = False
    always_in_band = False
    content_type = JSON_CONTENT_TYPE

    def __init__(self, kept: list[Item], *, limit: int = MAX_AGGREGATED_BYTES) -> None:
        self.started = False
        self.done = False
        self.stopped = False
        self.error: ProxyError | None = None
        self.usage: dict[str, Any] | None = None
        self._kept = kept
        self._limit = limit
        self._item: dict[str, Any] | None = None
        self._final: dict[str, Any] | None = None

    def feed(self, event: Event) -> bytes:
        err = error_of_event(event)
        if err is not None:
            raise err  # rule 1
        kind = event["type"]
        if kind == EventType.OUTPUT_ITEM_DONE:
            item = event.get("item")
            if isinstance(item, dict) and item.get("type") == COMPACTION:
                self._item = item
        elif kind in RESPONSE_END:  # a failed one raised above
            response = event.get("response")
            if not isinstance(response, dict):
                raise UpstreamProtocolError(f"upstream sent {kind} without a response object")
            self._final, self.done = response, True
        return b""

    def finish(self) -> bytes:
        response = self._final
        if response is None:
            raise UpstreamProtocolError("upstream closed the stream before response.completed")
        item = self._item or _compaction_in(response.get("output"))
        if item is None:  # rule 2
            raise UpstreamProtocolError(
                "the upstream answered the compaction without a compaction item"
            )
        usage = response.get("usage")
        self.usage = usage if isinstance(usage, dict) else None
        answer = {
            "id": response.get("id"),
            "object": COMPACTION_OBJECT,
            "created_at": response.get("created_at"),
            "output": [*self._kept, item],
            "usage": self.usage,
        }
        if isinstance(tier := response.get("service_tier"), str):
            answer["service_tier"] = tier
        return utf8(dumps(answer))

    def fail(self, err: ProxyError) -> bytes:
        self.error = err
        return error_body(err)

    def check_size(self, received: int) -> None:
        check_buffered(received, self._limit)


def _compaction_in(output: object) -> dict[str, Any] | None:
    for item in output if isinstance(output, list) else ():
        if isinstance(item, dict) and item.get("type") == COMPACTION:
            return item
    return None
