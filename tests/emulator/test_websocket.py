"""The emulator's WebSocket side: the connection's rules without I/O (session.py), then the
aiohttp front end (websocket.py) driven by the websockets client and by the openai SDK's own
`responses.connect()` (openai-protocols.md §4)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import openai
import pydantic
import pytest
import websockets
from openai.types.responses.responses_server_event import ResponsesServerEvent, ResponseWsError
from websockets.asyncio.client import ClientConnection

from chat2responses.emulator import Emulator, EmulatorConfig, Scenario
from chat2responses.emulator.__main__ import config_from, parse_args
from chat2responses.emulator.quota import RATE_LIMITS_EVENT
from chat2responses.emulator.session import (
    REFUSE_HEADER,
    WEBSOCKET_REFUSED,
    Reply,
    WebSocketSession,
    _for_websocket,
    handshake_refusal,
    wrapped_error,
)
from chat2responses.emulator.steps import Drop, Emit, Reject, Sleep, Step
from tests.emulator.test_emulator import (
    REJECTING,
    SCENARIO_TEXTS,
    STREAM_EVENT,
    TERMINAL,
    post,
    request,
)
from tests.emulator_helpers import emulator_in_process, emulator_subprocess

WS_EVENT: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(ResponsesServerEvent)
CLOCK = 1_700_000_000.0
REFUSED_BODY = {
    "error": {
        "type": "invalid_request_error",
        "code": "websocket_not_supported",
        "message": WEBSOCKET_REFUSED.message,
        "param": None,
    }
}


def create(text: str = "hi", **fields: Any) -> dict[str, Any]:
    """A `response.create` frame: the HTTP test body plus `type` (its `stream` is ignored)."""
    return {"type": "response.create"} | request(text, **fields)


def not_found(previous: str) -> dict[str, Any]:
    return {
        "type": "error",
        "status": 400,
        "error": {
            "type": "invalid_request_error",
            "code": "previous_response_not_found",
            "message": f"Previous response with id '{previous}' not found.",
            "param": "previous_response_id",
        },
    }


# -- the connection's rules, without I/O --------------------------------------------------------


def session() -> WebSocketSession:
    return WebSocketSession(Emulator(EmulatorConfig.default(), clock=lambda: CLOCK))


def frames_of(reply: Any) -> list[dict[str, Any]]:
    """The reply's frames but the leading `codex.rate_limits` (tested on its own)."""
    frames = [step.event for step in reply.steps if isinstance(step, Emit)]
    return frames[1:] if frames and frames[0]["type"] == RATE_LIMITS_EVENT else frames


@pytest.mark.parametrize(
    ("refuse", "header", "refused"),
    [
        (False, None, False),
        (False, "0", False),
        (False, "1", True),
        (False, " TRUE ", True),
        (True, None, True),
    ],
)
def test_handshake_refusal(refuse: bool, header: str | None, refused: bool) -> None:
    config = EmulatorConfig(refuse_websocket=refuse)
    expected = WEBSOCKET_REFUSED if refused else None
    assert handshake_refusal(config, header) == expected
    assert WEBSOCKET_REFUSED.http_body() == REFUSED_BODY


@pytest.mark.parametrize(
    ("frame", "code", "param"),
    [
        ("{nope", None, None),
        ("[]", None, None),
        ('{"type": "response.append", "input": []}', "invalid_value", "type"),
        ('{"model": "gpt-5.5"}', "invalid_value", "type"),
        (json.dumps(create(background=True)), None, None),
        (json.dumps(create(store=True)), None, None),
        (json.dumps(create(previous_response_id="resp_x")), "previous_response_not_found", None),
        (json.dumps(create("[scenario:http_error:503]")), "emulated_503", None),
    ],
)
def test_a_refused_frame_gets_one_error_frame(frame: str, code: str | None, param: Any) -> None:
    (error,) = frames_of(session().receive_text(frame))
    ResponseWsError.model_validate(error)
    assert error["type"] == "error" and error["status"] in {400, 503}
    assert error["error"]["code"] == code
    if param is not None:
        assert error["error"]["param"] == param


def test_binary_frames_and_acknowledgements() -> None:
    state = session()
    (error,) = frames_of(state.receive_binary())
    assert (error["status"], error["error"]["param"]) == (400, "type")
    reply = state.receive_text('{"type": "response.processed", "response_id": "resp_x"}')
    assert reply.steps == []


def test_the_session_remembers_only_the_last_completed_response() -> None:
    state = session()
    first = frames_of(state.receive_text(json.dumps(create())))[-1]["response"]["id"]
    assert state.last_response_id == first
    failed = state.receive_text(json.dumps(create("[scenario:failed]")))
    assert frames_of(failed)[-1]["type"] == "response.failed"
    assert state.last_response_id == first  # a failed response is not one to continue
    second = state.receive_text(json.dumps(create(previous_response_id=first)))
    second_id = frames_of(second)[-1]["response"]["id"]
    assert frames_of(second)[-1]["response"]["previous_response_id"] == first
    assert frames_of(state.receive_text(json.dumps(create(previous_response_id=first)))) == [
        not_found(first)
    ]
    assert state.last_response_id == second_id


def test_a_dropped_response_ends_in_drop_and_the_error_event_is_wrapped() -> None:
    dropped = session().receive_text(json.dumps(create("[scenario:close_mid_stream]")))
    assert isinstance(dropped.steps[-1], Drop)
    assert (dropped.what, dropped.outcome) == ("response.create model=gpt-test", "dropped")
    event = {"type": "error", "code": "rate_limit_exceeded", "message": "m", "param": None}
    wrapped = wrapped_error(event | {"sequence_number": 2})
    assert wrapped == {
        "type": "error",
        "error": {"type": "rate_limit_error", "code": "rate_limit_exceeded", "message": "m"}
        | {"param": None},
        "sequence_number": 2,
    }
    ResponseWsError.model_validate(wrapped)


def test_each_reply_settles_the_last_response_only_after_its_own_steps() -> None:
    """The remembered response is worked out lazily (no pass over a long answer before its
    first frame), yet each frame still sees the one before it, and a failure keeps it."""
    state = session()
    first = state.receive_text(json.dumps(create()))
    first_id = frames_of(first)[-1]["response"]["id"]
    state.receive_text(json.dumps(create("[scenario:failed]")))
    chained = state.receive_text(json.dumps(create(previous_response_id=first_id)))
    assert frames_of(chained)[-1]["type"] == "response.completed"


STEPS: list[Step] = [
    Sleep(0.5),
    Emit({"type": "response.created", "sequence_number": 0}),
    Emit({"type": "error", "code": "server_error", "message": "m", "sequence_number": 1}),
    Reject(WEBSOCKET_REFUSED),
    Drop(),
]
EXTRA = Emit({"type": "codex.rate_limits"})


@pytest.mark.parametrize("at", [None, 0, 1, 3, len(STEPS)])
def test_a_replys_frames_read_as_the_eager_list_would(at: int | None) -> None:
    eager = [_for_websocket(step) for step in STEPS]
    if at is not None:
        eager.insert(at, EXTRA)
    reply = Reply(STEPS, "what", "outcome", None if at is None else (at, EXTRA))
    assert list(reply.frames()) == eager and reply.steps == eager
    assert Reply([], "w", "o").steps == [] and Reply([], "w", "o", (0, EXTRA)).steps == [EXTRA]


# -- the front end -------------------------------------------------------------------------------


def ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://", 1) + "/responses"


@asynccontextmanager
async def connected(base_url: str, **headers: str) -> AsyncIterator[ClientConnection]:
    async with websockets.connect(
        ws_url(base_url), additional_headers=headers, proxy=None, open_timeout=5
    ) as ws:
        yield ws


async def send(ws: ClientConnection, frame: Any) -> None:
    await ws.send(frame if isinstance(frame, str | bytes) else json.dumps(frame))


async def read_response(ws: ClientConnection) -> tuple[list[dict[str, Any]], bool]:
    """One response's frames, up to its terminal frame; and whether the socket closed first."""
    frames: list[dict[str, Any]] = []
    while True:
        try:
            raw = await asyncio.wait_for(ws.recv(), 5)
        except websockets.ConnectionClosed:
            return frames, True
        assert isinstance(raw, str), "the emulator sends text frames only"
        frame = json.loads(raw)
        if frame["type"] == RATE_LIMITS_EVENT:  # Codex-only (quota.py), not an SDK event
            assert frames == [], "codex.rate_limits comes first"
            continue
        if frame["type"] != "response.metadata":  # Codex-only too (safety buffering)
            WS_EVENT.validate_python(frame)
        frames.append(frame)
        if frame["type"] in TERMINAL:
            return frames, False


async def over_http(base_url: str, body: Any) -> tuple[int, Any, Any]:
    """POST `body`: the status, headers, and the error body or the events (up to a drop)."""
    async with (
        aiohttp.ClientSession() as client,
        client.post(f"{base_url}/responses", json=body) as response,
    ):
        if response.content_type != "text/event-stream":
            return response.status, response.headers, await response.json()
        received = b""
        with contextlib.suppress(aiohttp.ClientPayloadError):  # close_mid_stream
            async for chunk in response.content.iter_any():
                received += chunk
    blocks = received.decode().split("\n\n")[:-1]  # the last is empty or cut short
    events = [json.loads(block.split("\ndata: ", 1)[1]) for block in blocks]
    return response.status, response.headers, events


def as_websocket(event: dict[str, Any]) -> dict[str, Any]:
    return wrapped_error(event) if event["type"] == "error" else event


REJECTING_TEXTS = {
    "[scenario:http_error:503]": 503,
    "[scenario:rate_limit]": 429,
    "[scenario:usage_limit]": 429,
}


def test_the_rejecting_table_covers_the_rejecting_scenarios() -> None:
    from chat2responses.emulator.triggers import choose

    assert {choose(text)[0] for text in REJECTING_TEXTS} == REJECTING  # type: ignore[index]


@pytest.mark.parametrize("text", [*SCENARIO_TEXTS, *REJECTING_TEXTS])
async def test_every_scenario_sends_the_http_events_as_frames(text: str) -> None:
    async with emulator_in_process(clock=lambda: CLOCK) as base_url:
        status, headers, http_events = await over_http(base_url, request(text))
    async with (
        emulator_in_process(clock=lambda: CLOCK, rate_limits_event=True) as base_url,
        connected(base_url) as ws,
    ):
        await send(ws, create(text))
        frames, closed = await read_response(ws)  # after the codex.rate_limits frame
    if text in REJECTING_TEXTS:
        (error,) = frames
        ResponseWsError.model_validate(error)
        assert (error["status"], status) == (REJECTING_TEXTS[text], REJECTING_TEXTS[text])
        assert error["error"] == http_events["error"]
        assert error.get("headers", {}).get("retry-after") == headers.get("retry-after")
        return
    if SCENARIO_TEXTS[text] is Scenario.UNSTABLE_WEBSOCKET:
        # Cut after the preamble over WebSocket only: no output, no terminal event.
        assert http_events[-1]["type"] == "response.completed"
        assert (frames, closed) == ([as_websocket(event) for event in http_events[:2]], True)
        return
    assert frames == [as_websocket(event) for event in http_events]
    for frame in frames:
        if frame["type"] not in ("error", "response.metadata"):
            STREAM_EVENT.validate_python(frame)
    types = [frame["type"] for frame in frames]
    assert types[:2] == ["response.created", "response.in_progress"]
    assert [frame["sequence_number"] for frame in frames] == list(range(len(frames)))
    terminals = [i for i, kind in enumerate(types) if kind in TERMINAL]
    assert closed is (SCENARIO_TEXTS[text].value == "close_mid_stream")
    assert terminals == ([] if closed else [len(frames) - 1])


async def test_a_websocket_model_is_served_over_websocket_only() -> None:
    async with emulator_in_process() as base_url, connected(base_url) as ws:
        status, _, refused = await post(base_url, request(model="gpt-5.5"))
        await send(ws, create(model="gpt-5.5"))
        frames, _ = await read_response(ws)
    assert (status, refused["error"]["code"]) == (400, "routing_unsupported")
    assert frames[-1]["type"] == "response.completed"
    assert frames[-1]["response"]["model"] == "gpt-5.5"


async def test_close_mid_stream_closes_the_socket_without_a_close_frame() -> None:
    async with emulator_in_process() as base_url, connected(base_url) as ws:
        await send(ws, create("[scenario:close_mid_stream]"))
        frames, closed = await read_response(ws)
        with pytest.raises(websockets.ConnectionClosedError) as raised:
            await ws.recv()
    assert closed and frames[-1]["type"] == "response.output_text.delta"
    assert raised.value.rcvd is None  # no close frame: an abnormal closure (1006)


async def test_refused_frames_keep_the_connection_open() -> None:
    async with emulator_in_process() as base_url, connected(base_url) as ws:
        for bad in ("{nope", b"\x00binary", '{"type": "nope"}', create(background=True)):
            await send(ws, bad)
            (error,), _ = await read_response(ws)
            ResponseWsError.model_validate(error)
            assert error["status"] == 400
        await send(ws, {"type": "response.processed", "response_id": "resp_x"})  # no answer
        await send(ws, create(stream=False))  # `stream` is ignored over WebSocket
        frames, _ = await read_response(ws)
    assert frames[0]["type"] == "response.created"
    assert frames[-1]["type"] == "response.completed"


async def test_responses_on_one_connection_run_one_after_another() -> None:
    async with emulator_in_process() as base_url, connected(base_url) as ws:
        await send(ws, create("[scenario:slow:30]"))
        created = json.loads(await ws.recv())
        # Sent while the first streams: it waits, and may chain from the first.
        await send(ws, create("again", previous_response_id=created["response"]["id"]))
        first, _ = await read_response(ws)
        second, _ = await read_response(ws)
    assert first[-1]["type"] == second[-1]["type"] == "response.completed"
    assert {frame.get("response", {}).get("id") for frame in first} - {None} == {
        created["response"]["id"]
    }
    assert second[0]["type"] == "response.created"
    assert second[-1]["response"]["previous_response_id"] == created["response"]["id"]


async def test_previous_response_id_is_connection_local() -> None:
    async with emulator_in_process() as base_url:
        async with connected(base_url) as ws:
            await send(ws, create(generate=False))  # a warm-up: no output, but an id
            warm, _ = await read_response(ws)
            warm_id = warm[-1]["response"]["id"]
            assert [f["type"] for f in warm] == [
                "response.created",
                "response.in_progress",
                "response.completed",
            ]
            await send(ws, create(previous_response_id=warm_id))
            chained, _ = await read_response(ws)
            last_id = chained[-1]["response"]["id"]
            for stale in (warm_id, "resp_unknown"):
                await send(ws, create(previous_response_id=stale))
                assert await read_response(ws) == ([not_found(stale)], False)
            await send(ws, create(previous_response_id=last_id))
            again, _ = await read_response(ws)
            assert again[-1]["response"]["previous_response_id"] == last_id
            last_id = again[-1]["response"]["id"]
        async with connected(base_url) as ws:
            await send(ws, create(previous_response_id=last_id))
            assert await read_response(ws) == ([not_found(last_id)], False)


async def test_pings_are_answered_while_a_response_streams() -> None:
    async with emulator_in_process() as base_url, connected(base_url) as ws:
        await send(ws, create("[scenario:slow:200]"))
        await ws.recv()
        pong = await ws.ping()
        await asyncio.wait_for(pong, 1)  # long before the response's ~4 s are over


async def test_the_handshake_is_refused_with_426_when_asked() -> None:
    async with emulator_in_process(refuse_websocket=True) as base_url:
        with pytest.raises(websockets.InvalidStatus) as by_config:
            async with connected(base_url):
                pass
        status, _, events = await post(base_url, request())
    assert status == 200 and events[-1]["type"] == "response.completed"
    async with emulator_in_process() as base_url:
        with pytest.raises(websockets.InvalidStatus) as by_header:
            async with connected(base_url, **{REFUSE_HEADER: "1"}):
                pass
        async with connected(base_url, **{REFUSE_HEADER: "0"}) as ws:
            await send(ws, create())
            assert (await read_response(ws))[0][-1]["type"] == "response.completed"
    for raised in (by_config, by_header):
        assert raised.value.response.status_code == 426
        assert json.loads(raised.value.response.body) == REFUSED_BODY


async def test_a_plain_get_is_not_an_upgrade() -> None:
    async with (
        emulator_in_process() as base_url,
        aiohttp.ClientSession() as client,
        client.get(f"{base_url}/responses") as response,
    ):
        assert response.status == 400
        assert (await response.json())["error"]["code"] == "websocket_expected"


def test_the_command_line_refuses_websocket_when_asked() -> None:
    assert config_from(parse_args(["--refuse-websocket"])).refuse_websocket is True
    assert config_from(parse_args([])).refuse_websocket is False


async def test_the_subprocess_refuses_websocket_with_the_flag() -> None:
    with emulator_subprocess("--refuse-websocket") as base_url:
        with pytest.raises(websockets.InvalidStatus) as raised:
            async with connected(base_url):
                pass
        assert raised.value.response.status_code == 426


async def test_one_log_line_per_frame_without_headers(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="chat2responses.emulator")
    secret = "Bearer sk-very-secret"
    async with emulator_in_process() as base_url, connected(base_url, authorization=secret) as ws:
        await send(ws, create(model="gpt-5.5"))
        await read_response(ws)
        await send(ws, create(previous_response_id="resp_nope"))
        await read_response(ws)
    lines = [
        r.getMessage() for r in caplog.records if r.name == "chat2responses.emulator.websocket"
    ]
    assert lines == [
        "WebSocket response.create model=gpt-5.5 -> response.completed",
        "WebSocket response.create model=gpt-test -> error 400",
    ]
    assert "secret" not in caplog.text


async def test_the_openai_sdk_websocket_client_talks_to_it() -> None:
    async with (
        emulator_in_process() as base_url,
        openai.AsyncOpenAI(base_url=base_url, api_key="x", max_retries=0) as client,
        client.responses.connect() as connection,
    ):
        await connection.response.create(
            model="gpt-5.5",
            store=False,
            instructions="",
            input=[{"role": "user", "content": "hello socket"}],
        )
        deltas = []
        async for event in connection:
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
            if event.type == "response.completed":
                completed = event.response
                break
        await connection.response.create(
            model="gpt-5.5",
            store=False,
            instructions="",
            input=[],
            previous_response_id="resp_gone",
        )
        error = await connection.recv()
    assert "".join(deltas) == "Hello from the emulator. You said: hello socket"
    assert completed.output_text == "".join(deltas)
    assert error.type == "error"
    assert isinstance(error, ResponseWsError) and error.error.code == "previous_response_not_found"
