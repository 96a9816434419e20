"""Responses events the pipeline tests feed: one response, one message item, text deltas."""

from __future__ import annotations

RESPONSE = {"id": "resp_1", "object": "response", "created_at": 1.5, "model": "gpt-5.5"}
ADDED = {
    "type": "response.output_item.added",
    "output_index": 0,
    "item": {"type": "message", "id": "msg_1", "role": "assistant", "content": []},
}


def delta(
    text: str,
    *,
    kind: str = "response.output_text.delta",
    item_id: str = "msg_1",
    part: str = "content_index",
) -> dict[str, object]:
    """A text delta of output item 0: answer text by default; a reasoning summary's with
    `kind="response.reasoning_summary_text.delta", part="summary_index"`."""
    return {"type": kind, "item_id": item_id, "output_index": 0, part: 0, "delta": text}
