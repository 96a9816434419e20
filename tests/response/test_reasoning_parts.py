"""response/reasoning_parts.py: reasoning parts separated, summaries not said twice, a finished
item's reasoning sent only when none streamed, driven directly (test_translate.py drives them
through events). Tables."""

from __future__ import annotations

from typing import Any

import pytest

from chat2responses.protocol.wire import ReasoningMode
from chat2responses.response.chunks import ChunkContext, ChunkWriter
from chat2responses.response.items import Item
from chat2responses.response.reasoning_parts import ReasoningParts

SUMMARY = "response.reasoning_summary_text.delta"
RAW = "response.reasoning_text.delta"
ITEM = {"type": "reasoning", "summary": [{"type": "summary_text", "text": "whole"}]}


def parts(mode: ReasoningMode = ReasoningMode.REASONING_CONTENT) -> ReasoningParts:
    ctx = ChunkContext("chatcmpl-1", 7, "gpt-5.5", mode, (), False)
    return ReasoningParts(ChunkWriter(ctx, include_usage=False), mode)


def said(chunks: list[Any]) -> str:
    return "".join(c["choices"][0]["delta"].get("reasoning_content", "") for c in chunks)


def test_a_new_part_is_separated_by_a_blank_line() -> None:
    rp, item = parts(), Item()
    out = rp.delta("a", item, "one", SUMMARY, 0) + rp.delta("a", item, " more", SUMMARY, 0)
    out += rp.delta("a", item, "two", SUMMARY, 1) + rp.delta("b", Item(), "raw", RAW, 0)
    assert said(out) == "one more\n\ntwo\n\nraw"
    assert item.sent == len("one more") + len("two")


@pytest.mark.parametrize(("streamed", "expected"), [(True, "part"), (False, "part" + "whole")])
def test_a_summary_done_is_said_only_when_its_deltas_did_not_come(
    streamed: bool, expected: str
) -> None:
    rp, item = parts(), Item()
    out = rp.delta("a", item, "part", SUMMARY, 0)
    out += rp.summary_done("a", item, "whole", 0 if streamed else 1)
    assert said(out).replace("\n\n", "") == expected


@pytest.mark.parametrize(
    ("sent", "mode", "expected"),
    [
        (0, ReasoningMode.REASONING_CONTENT, "whole"),
        (3, ReasoningMode.REASONING_CONTENT, ""),  # partly streamed: left as it is
        (0, ReasoningMode.NONE, ""),
    ],
)
def test_a_finished_item_is_sent_whole_only_when_none_of_it_streamed(
    sent: int, mode: ReasoningMode, expected: str
) -> None:
    item = Item()
    item.sent = sent
    assert said(parts(mode).rest("a", item, ITEM)) == expected
