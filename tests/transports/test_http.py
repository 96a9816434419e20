"""The Responses HTTP client (transports/http.py): one POST, its SSE answer as events, errors
mapped, bounded in time. One scripted upstream serves the whole module (in a thread of its own);
each test names what it should do with the `x-behaviour` header."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import ClientSession, web

from chat2responses.protocol.errors import UpstreamError, UpstreamProtocolError
from chat2responses.protocol.transcript import Transcript
from chat2responses.transports.http import HttpEvents, open_http_events
from tests.events_helpers import ADDED, RESPONSE, delta

COMPLETED = {"type": "response.completed", "response": RESPONSE}


def sse(*events: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)


async def _behave(request: web.Request) -> web.StreamResponse:
    behaviour = request.headers["x-behaviour"]
    if behaviour == "json":
        item = {"type": "message", "id": "m1", "role": "assistant", "content": []}
        return web.json_response({**RESPONSE, "object": "response", "output": [item]})
    if behaviour == "refused":
        error = {"message": "slow down", "type": "rate_limit_error", "code": "rate_limited"}
        return web.json_response({"error": error}, status=429, headers={"retry-after": "7"})
    if behaviour == "text":
        return web.Response(text="<html>hello</html>", content_type="text/html")
    if behaviour == "no-head":
        await asyncio.sleep(30)
    if behaviour.startswith("redirect "):  # "redirect STATUS LOCATION"
        _, status, location = behaviour.split(" ", 2)
        hops = int(request.query.get("hops", "0"))
        location = location.replace("{hops}", str(hops + 1))
        return web.Response(status=int(status), headers={"location": location})
    response = web.StreamResponse(headers={"content-type": "text/event-stream", "x-quota": "9"})
    await response.prepare(request)
    if behaviour == "sse":
        await response.write(sse(ADDED, delta("Hi"), COMPLETED))
    elif behaviour == "broken":  # good events and a broken one, in one write
        await response.write(sse(ADDED, delta("ok")) + b"data: {not json\n\n")
    elif behaviour == "stall":
        await response.write(sse(ADDED))
        await asyncio.sleep(30)
    elif behaviour == "drip":  # bytes, never a whole event after the first
        await response.write(sse(ADDED) + b"data: ")
        for _ in range(600):
            await response.write(b" ")
            await asyncio.sleep(0.05)
    await response.write_eof()
    return response


async def _moved(request: web.Request) -> web.StreamResponse:
    """Where a same-origin redirect points: the same POST must arrive, with its credentials."""
    assert request.headers["authorization"] == "Bearer sk-secret"
    assert await request.read() == b"{}"
    return web.Response(body=sse(ADDED, COMPLETED), content_type="text/event-stream")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_post("/v1/responses", _behave)
    app.router.add_post("/v1/moved", _moved)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}/v1/responses"
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


async def events_of(url: str, behaviour: str, **kwargs: Any) -> tuple[Any, Transcript]:
    transcript, seen = Transcript(), {}
    async with (
        ClientSession() as session,
        open_http_events(
            session,
            url,
            headers={"x-behaviour": behaviour, "authorization": "Bearer sk-secret"},
            body=b"{}",
            ssl=None,
            connect_timeout=2,
            idle_timeout=kwargs.get("idle", 5.0),
            transcript=transcript,
            on_headers=seen.update,
        ) as events,
    ):
        if isinstance(events, HttpEvents):
            got: list[Any] = []
            try:
                async for event in events:
                    got.append(event)
            except UpstreamError as err:
                got.append(err)
            return (got, seen), transcript
        return (events, seen), transcript


async def test_an_sse_answer_is_its_events_and_its_bytes_are_kept(server: str) -> None:
    (events, headers), transcript = await events_of(server, "sse")
    assert [e["type"] for e in events] == [
        "response.output_item.added",
        "response.output_text.delta",
        "response.completed",
    ]
    assert headers["x-quota"] == "9"  # the quota tap reads them
    assert transcript.value() == sse(ADDED, delta("Hi"), COMPLETED)


async def test_a_json_response_becomes_the_events_a_stream_ends_with(server: str) -> None:
    (events, _), _ = await events_of(server, "json")
    assert [e["type"] for e in events] == [
        "response.created",
        "response.output_item.done",
        "response.completed",
    ]


async def test_a_refusal_keeps_its_status_and_retry_after(server: str) -> None:
    with pytest.raises(UpstreamError) as refused:
        await events_of(server, "refused")
    assert refused.value.status == 429 and refused.value.message == "slow down"
    assert refused.value.headers.get("Retry-After") == "7"


async def test_a_200_that_is_no_responses_answer_is_a_protocol_error(server: str) -> None:
    with pytest.raises(UpstreamProtocolError, match="neither an event stream nor a Response"):
        await events_of(server, "text")


async def test_events_are_parsed_one_at_a_time_so_a_broken_one_ends_only_there(
    server: str,
) -> None:
    (events, _), _ = await events_of(server, "broken")
    assert [e["type"] for e in events[:2]] == [
        "response.output_item.added",
        "response.output_text.delta",
    ]
    assert isinstance(events[2], UpstreamProtocolError) and "not JSON" in events[2].message


async def test_silence_after_the_head_is_a_504_that_says_it_stalled(server: str) -> None:
    (events, _), _ = await events_of(server, "stall", idle=0.2)
    assert events[0]["type"] == "response.output_item.added"
    err = events[1]
    assert isinstance(err, UpstreamError) and (err.status, err.code) == (504, "upstream_stalled")


async def test_a_refused_connection_is_a_502_that_holds_no_credential() -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    with pytest.raises(UpstreamError) as unreachable:
        await events_of(f"http://127.0.0.1:{port}/v1/responses?key=sk-1", "sse")
    err = unreachable.value
    assert (err.status, err.code) == (502, "upstream_unreachable")
    assert "sk-1" not in err.message
    # worded as the WebSocket route's (test_websocket_stream.py): one story for both routes
    assert err.message.startswith(f"cannot reach upstream http://127.0.0.1:{port}/v1/responses: ")


async def test_a_stream_that_drips_bytes_without_an_event_ends_like_a_silent_one(
    server: str,
) -> None:
    (events, _), _ = await events_of(server, "drip", idle=0.3)
    assert events[0]["type"] == "response.output_item.added"
    err = events[1]
    assert isinstance(err, UpstreamError) and (err.status, err.code) == (504, "upstream_stalled")


async def test_no_response_headers_within_the_idle_timeout_is_a_504_stall(server: str) -> None:
    with pytest.raises(UpstreamError) as stalled:
        await events_of(server, "no-head", idle=0.2)
    err = stalled.value
    assert (err.status, err.code) == (504, "upstream_stalled") and "no response headers" in str(
        err.message
    )


async def test_a_same_origin_redirect_is_followed_with_the_same_request(server: str) -> None:
    (events, _), _ = await events_of(server, "redirect 307 /v1/moved")
    assert [e["type"] for e in events] == ["response.output_item.added", "response.completed"]


@pytest.mark.parametrize(
    ("status", "location", "says"),
    [
        (307, "http://127.0.0.2:{port}/collect", "another origin"),
        (308, "http://localhost:{port}/v1/moved", "another origin"),
        (302, "/v1/moved", "would drop the request"),
        (307, "/v1/responses?hops={hops}", "redirected more than"),
    ],
)
async def test_any_other_redirect_is_a_502_and_nothing_goes_there(
    server: str, status: int, location: str, says: str
) -> None:
    with socket.socket() as elsewhere:  # where a cross-origin redirect points: never reached
        elsewhere.bind(("127.0.0.1", 0))
        elsewhere.listen()
        elsewhere.setblocking(False)
        port = elsewhere.getsockname()[1]
        with pytest.raises(UpstreamError) as refused:
            await events_of(server, f"redirect {status} {location.replace('{port}', str(port))}")
        with pytest.raises(BlockingIOError):
            elsewhere.accept()
    err = refused.value
    assert (err.status, err.code) == (502, "upstream_redirect") and says in err.message
    assert "collect" not in err.message
