"""chunk_frames: chat chunks → SSE `data:` events, byte for byte what encoding each whole gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chat2responses.protocol.wire import ReasoningMode, dumps
from chat2responses.response.chunk_frames import ChunkFrames
from chat2responses.response.chunks import ChunkContext
from chat2responses.response.translate import StreamTranslator
from tests.events_helpers import ADDED, RESPONSE, delta

SUMMARY = "response.reasoning_summary_text.delta"
USAGE = {"input_tokens": 5, "output_tokens": 7, "total_tokens": 12}
REASONING = {
    "type": "response.output_item.added",
    "output_index": 0,
    "item": {"type": "reasoning", "id": "rs_1", "summary": []},
}


@settings(max_examples=60, deadline=None)
@given(
    texts=st.lists(st.text(st.characters(blacklist_categories=["Cs"])), min_size=1, max_size=6),
    thoughts=st.lists(st.text(st.characters(blacklist_categories=["Cs"])), max_size=3),
    mode=st.sampled_from(list(ReasoningMode)),
    include_usage=st.booleans(),
    stop=st.sampled_from([(), ("o w",), ("\n",)]),
)
def test_text_chunks_are_framed_as_dumps_frames_the_whole_chunk(
    texts: list[str],
    thoughts: list[str],
    mode: ReasoningMode,
    include_usage: bool,
    stop: tuple[str, ...],
) -> None:
    """Text-only chunks framed from the cached head and tail give the bytes of encoding each
    chunk whole; so does every other chunk of the stream."""
    ctx = ChunkContext("chatcmpl-x", 1_700_000_001, "gpt-5.5", mode, stop)
    message = {**ADDED, "output_index": 1}
    stream: list[dict[str, object]] = [{"type": "response.created", "response": RESPONSE}]
    thinking = (delta(t, kind=SUMMARY, item_id="rs_1", part="summary_index") for t in thoughts)
    stream += [REASONING, *thinking, message]
    stream += [{**delta(t), "output_index": 1} for t in texts]
    stream.append({"type": "response.completed", "response": {**RESPONSE, "usage": USAGE}})
    translator, frames = StreamTranslator(ctx, include_usage=include_usage), ChunkFrames()
    batches = [translator.feed(e) for e in stream] + [translator.finish()]
    got = b"".join(frames(batch) for batch in batches if batch)
    assert got == b"".join(b"data: " + dumps(c).encode() + b"\n\n" for b in batches for c in b)


def test_a_chunk_with_more_than_text_is_encoded_whole() -> None:
    frames = ChunkFrames()
    text = {
        "id": "c",
        "choices": [
            {"index": 0, "delta": {"content": "a"}, "logprobs": None, "finish_reason": None}
        ],
    }
    assert frames([text]) == b"data: " + dumps(text).encode() + b"\n\n"
    extra = {**text, "system_fingerprint": "fp"}  # a field the probed chunk did not have
    finish = {**text, "choices": [{**text["choices"][0], "finish_reason": "stop"}]}
    both = {**text, "choices": [{**text["choices"][0], "delta": {"content": "b", "role": "x"}}]}
    for chunk in (extra, finish, both):
        assert frames([chunk]) == b"data: " + dumps(chunk).encode() + b"\n\n"


def test_a_model_name_holding_the_marker_does_not_confuse_the_cut() -> None:
    frames = ChunkFrames()
    marker = ChunkFrames._PROBE
    template = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": marker}
    for text in ("one", marker, "two"):
        chunk = {
            **template,
            "choices": [
                {"index": 0, "delta": {"content": text}, "logprobs": None, "finish_reason": None}
            ],
        }
        assert frames([chunk]) == b"data: " + dumps(chunk).encode() + b"\n\n"
