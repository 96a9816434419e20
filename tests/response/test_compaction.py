"""The compaction sink: a `compaction_trigger` call's events answered in the compact endpoint's
shape (OpenAI's `response.compaction` object)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chat2responses.protocol.errors import UpstreamError, UpstreamProtocolError
from chat2responses.response.compaction import COMPACTION_OBJECT, CompactionSink

KEPT = [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}]
ITEM = {"id": "cmp_1", "type": "compaction", "encrypted_content": "sealed"}
USAGE = {"input_tokens": 900, "output_tokens": 40, "total_tokens": 940}
RESPONSE = {"id": "resp_9", "object": "response", "created_at": 1700000000, "status": "completed"}
CREATED = {"type": "response.created", "response": {**RESPONSE, "status": "in_progress"}}
ADDED = {"type": "response.output_item.added", "output_index": 0, "item": {"id": "cmp_1"}}
DONE = {"type": "response.output_item.done", "output_index": 0, "item": ITEM}


def completed(output: list[Any] | None = None) -> dict[str, Any]:
    return {
        "type": "response.completed",
        "response": {**RESPONSE, "output": output or [], "usage": USAGE},
    }


def answer(events: list[dict[str, Any]]) -> dict[str, Any]:
    sink = CompactionSink(KEPT)
    for event in events:
        assert sink.feed(event) == b""
    assert sink.done
    body: dict[str, Any] = json.loads(sink.finish())
    assert sink.usage == USAGE
    return body


def test_the_item_from_output_item_done_with_the_completed_output_empty() -> None:
    assert answer([CREATED, ADDED, DONE, completed()]) == {
        "id": "resp_9",
        "object": COMPACTION_OBJECT,
        "created_at": 1700000000,
        "output": [*KEPT, ITEM],
        "usage": USAGE,
    }


def test_the_item_from_the_completed_output_when_no_item_event_came() -> None:
    assert answer([CREATED, completed([ITEM])])["output"] == [*KEPT, ITEM]


def test_no_compaction_item_is_the_upstream_s_protocol_error() -> None:
    sink = CompactionSink(KEPT)
    sink.feed(CREATED)
    sink.feed({"type": "response.output_item.done", "output_index": 0, "item": {"type": "message"}})
    sink.feed(completed())
    with pytest.raises(UpstreamProtocolError, match="without a compaction item"):
        sink.finish()


def test_a_stream_cut_short_is_an_error_and_an_error_event_raises() -> None:
    sink = CompactionSink(KEPT)
    sink.feed(DONE)
    with pytest.raises(UpstreamProtocolError, match=r"before response\.completed"):
        sink.finish()
    with pytest.raises(UpstreamError):
        CompactionSink(KEPT).feed({"type": "error", "code": "server_is_overloaded", "message": "x"})
    assert not sink.streaming and not sink.started
