"""The byte pipeline: upstream Responses SSE in, chat SSE or JSON out; display transcripts."""

from __future__ import annotations

import json

import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from addon.errors import ProxyError, UpstreamError
from addon.pipeline import (
    ChatStreamPipeline,
    ChunkContext,
    Transcript,
    aggregate,
    events_of_body,
    stream_body,
)
from addon.wire import ReasoningMode

CTX = ChunkContext("chatcmpl-1", 1_700_000_000, "gpt-5.5", ReasoningMode.REASONING_CONTENT)
RESPONSE = {"id": "resp_1", "object": "response", "created_at": 1.5, "model": "gpt-5.5"}


def sse(*events: dict[str, object]) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


def delta(text: str) -> dict[str, object]:
    return {
        "type": "response.output_text.delta",
        "item_id": "msg_1",
        "output_index": 0,
        "content_index": 0,
        "delta": text,
    }


ADDED = {
    "type": "response.output_item.added",
    "output_index": 0,
    "item": {"type": "message", "id": "msg_1", "role": "assistant", "content": []},
}
COMPLETED = {"type": "response.completed", "response": {**RESPONSE, "status": "completed"}}
STREAM = sse({"type": "response.created", "response": RESPONSE}, ADDED, delta("Hel"), delta("lo"))


def payloads(out: list[bytes]) -> list[bytes]:
    return [e.removeprefix(b"data: ") for e in b"".join(out).split(b"\n\n") if e]


def run(body: bytes, step: int) -> list[bytes]:
    pipe = ChatStreamPipeline(CTX, include_usage=False)
    out: list[bytes] = []
    for i in range(0, len(body), step):
        out += pipe(body[i : i + step])
    return out + pipe(b"")


@pytest.mark.parametrize("step", [1, 7, 4096])
def test_a_stream_in_any_split_gives_the_same_chunks_and_done(step: int) -> None:
    out = payloads(run(STREAM + sse(COMPLETED), step))
    assert out[-1] == b"[DONE]"
    chunks = [ChatCompletionChunk.model_validate_json(p) for p in out[:-1]]
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Hello"
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_a_stream_without_a_terminal_event_ends_with_one_error_chunk() -> None:
    out = payloads(run(STREAM, 4096))
    assert json.loads(out[-1])["error"]["message"].startswith("upstream closed the stream")
    assert b"[DONE]" not in out


def test_nothing_follows_an_error_chunk() -> None:
    pipe = ChatStreamPipeline(CTX, include_usage=False)
    out = pipe(STREAM + b"data: {not json}\n\n")
    assert json.loads(payloads(out)[-1])["error"]["type"] == "upstream_error"
    assert pipe(sse(delta("more"), COMPLETED)) == []
    assert pipe(b"") == []
    assert pipe.fail(UpstreamError("late")) == []


def test_the_transcripts_keep_both_sides_for_display() -> None:
    pipe = ChatStreamPipeline(CTX, include_usage=False)
    sent = pipe(STREAM + sse(COMPLETED)) + pipe(b"")
    assert pipe.upstream.value() == STREAM + sse(COMPLETED)
    assert pipe.client.value() == b"".join(sent)


def test_a_transcript_is_bounded_and_says_so() -> None:
    transcript = Transcript(limit=10)
    transcript.add(b"0123456789abcdef")
    transcript.add(b"more")
    assert transcript.value().startswith(b"0123456789\n: chat2responses: truncated for display")
    assert transcript.size == 10


def test_a_json_response_object_is_read_as_events() -> None:
    response = {
        **RESPONSE,
        "status": "completed",
        "output": [
            {
                "type": "message",
                "id": "msg_1",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Hi!", "annotations": []}],
            }
        ],
    }
    body = json.dumps(response).encode()
    assert [e["type"] for e in events_of_body(body)] == [
        "response.created",
        "response.output_item.done",
        "response.completed",
    ]
    completion = ChatCompletion.model_validate_json(aggregate(body, CTX))
    assert completion.choices[0].message.content == "Hi!"
    streamed = payloads([stream_body(body, CTX, include_usage=False)])
    assert streamed[-1] == b"[DONE]"


@pytest.mark.parametrize("body", [b"", b"   ", STREAM])
def test_aggregating_an_empty_or_unfinished_body_is_an_upstream_error(body: bytes) -> None:
    with pytest.raises(ProxyError) as caught:
        aggregate(body, CTX)
    assert caught.value.status == 502
