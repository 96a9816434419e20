"""The sinks: upstream events in, chat SSE or JSON out; upstream SSE bytes in, events out."""

from __future__ import annotations

import json

import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from chat2responses.protocol.errors import ProxyError, UpstreamError
from chat2responses.protocol.events import UpstreamSSE, events_of_response
from chat2responses.protocol.wire import ReasoningMode
from chat2responses.response.chat_sinks import ChatJsonSink, ChatStreamSink
from chat2responses.response.chunks import ChunkContext
from tests.events_helpers import ADDED, RESPONSE, delta

CTX = ChunkContext("chatcmpl-1", 1_700_000_000, "gpt-5.5", ReasoningMode.REASONING_CONTENT)


def sse(*events: dict[str, object]) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


COMPLETED = {"type": "response.completed", "response": {**RESPONSE, "status": "completed"}}
STREAM = sse({"type": "response.created", "response": RESPONSE}, ADDED, delta("Hel"), delta("lo"))


def payloads(out: list[bytes]) -> list[bytes]:
    return [e.removeprefix(b"data: ") for e in b"".join(out).split(b"\n\n") if e]


def events(body: bytes, step: int) -> list[dict[str, object]]:
    reader = UpstreamSSE()
    out: list[dict[str, object]] = []
    for i in range(0, len(body), step):
        out += reader.feed(body[i : i + step])
    return out + reader.finish()


def run(body: bytes, step: int) -> list[bytes]:
    sink = ChatStreamSink(CTX, include_usage=False)
    out: list[bytes] = []
    try:
        for event in events(body, step):
            out.append(sink.feed(event))
        out.append(sink.finish())
    except ProxyError as err:
        out.append(sink.fail(err))
    return out


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


def test_an_event_that_is_not_json_is_a_protocol_error() -> None:
    with pytest.raises(UpstreamError) as caught:
        events(STREAM + b"data: {not json}\n\n", 4096)
    assert caught.value.code == "upstream_protocol_error"


def test_nothing_follows_an_error_chunk() -> None:
    sink = ChatStreamSink(CTX, include_usage=False)
    for event in events(STREAM, 4096):
        sink.feed(event)
    assert sink.started
    first = sink.fail(UpstreamError("late"))
    assert json.loads(payloads([first])[0])["error"]["message"] == "late"
    assert sink.done
    assert sink.feed(delta("more")) == b""
    assert sink.finish() == b""
    assert sink.fail(UpstreamError("again")) == b""


def test_the_client_transcript_keeps_what_was_sent() -> None:
    sink = ChatStreamSink(CTX, include_usage=False)
    sent = [sink.feed(e) for e in events(STREAM + sse(COMPLETED), 4096)] + [sink.finish()]
    assert sink.client.value() == b"".join(sent)


def test_a_json_sink_folds_the_events_into_one_completion() -> None:
    sink = ChatJsonSink(CTX)
    for event in events(STREAM + sse(COMPLETED), 3):
        assert sink.feed(event) == b""
    assert sink.done and sink.started
    completion = ChatCompletion.model_validate_json(sink.finish())
    assert completion.choices[0].message.content == "Hello"


def test_a_json_sink_raises_an_error_event() -> None:
    sink = ChatJsonSink(CTX)
    with pytest.raises(UpstreamError) as caught:
        sink.feed({"type": "error", "code": "server_is_overloaded", "message": "busy"})
    assert caught.value.status == 503


def test_a_json_sink_is_capped() -> None:
    sink = ChatJsonSink(CTX, limit=100)
    sink.check_size(100)
    with pytest.raises(UpstreamError) as caught:
        sink.check_size(101)
    assert caught.value.status == 502
    assert "exceeds 100 bytes" in caught.value.message


def test_an_unfinished_json_answer_is_an_upstream_error() -> None:
    sink = ChatJsonSink(CTX)
    for event in events(STREAM, 4096):
        sink.feed(event)
    with pytest.raises(ProxyError) as caught:
        sink.finish()
    assert caught.value.status == 502


def test_half_an_emoji_per_delta_goes_out_escaped_as_it_came() -> None:
    """An upstream that splits a surrogate pair across two deltas sends each half as a lone
    `\\uXXXX` escape: no UTF-8 form, so each chunk keeps the escape, and a client joining the
    contents gets the emoji back."""
    sink = ChatStreamSink(CTX, include_usage=False)
    raw = sse(ADDED, delta("\ud83d"), delta("\ude00!"), COMPLETED)
    out = [sink.feed(e) for e in events(raw, 7)] + [sink.finish()]
    body = b"".join(out)
    body.decode("utf-8")  # valid UTF-8 throughout
    text = "".join(
        json.loads(p)["choices"][0]["delta"].get("content") or ""
        for p in payloads([body])
        if p != b"[DONE]" and json.loads(p)["choices"]
    )
    assert text.encode("utf-16", "surrogatepass").decode("utf-16") == "😀!"
    assert sink.error is None


def test_a_non_streaming_answer_with_a_lone_surrogate_is_valid_utf8() -> None:
    sink = ChatJsonSink(CTX)
    for e in events(sse(ADDED, delta("a\udfffb"), COMPLETED), 64):
        sink.feed(e)
    body = sink.finish()
    assert json.loads(body.decode("utf-8"))["choices"][0]["message"]["content"] == "a\udfffb"


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
    got = events_of_response(response)
    assert [e["type"] for e in got] == [
        "response.created",
        "response.output_item.done",
        "response.completed",
    ]
    sink = ChatJsonSink(CTX)
    for event in got:
        sink.feed(event)
    completion = ChatCompletion.model_validate_json(sink.finish())
    assert completion.choices[0].message.content == "Hi!"
    incomplete = events_of_response({**response, "status": "incomplete"})
    assert incomplete[-1]["type"] == "response.incomplete"
