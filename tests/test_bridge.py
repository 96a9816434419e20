"""The loopback bridge against small scripted upstreams on 127.0.0.1: fallbacks and re-framing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import ClientSession, web

from addon.routing import Route
from addon.sse import SSEDecoder
from addon.transports.bridge import Bridge, BridgeJob

COMPLETED = {
    "type": "response.completed",
    "sequence_number": 1,
    "response": {"id": "resp_1", "object": "response", "status": "completed", "output": []},
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def upstream(http: Handler, ws: Handler | None = None) -> AsyncIterator[str]:
    async def route(request: web.Request) -> web.StreamResponse:
        if request.headers.get("upgrade", "").lower() == "websocket":
            if ws is None:
                return web.json_response({"error": {"message": "no websocket here"}}, status=404)
            return await ws(request)
        return await http(request)

    app = web.Application()
    app.router.add_route("*", "/v1/responses", route)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/v1/responses"
    finally:
        await runner.cleanup()


async def sse_ok(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    if body.get("reasoning", {}).get("summary"):
        error = {"message": "Your organization must be verified", "param": "reasoning.summary"}
        return web.json_response({"error": {**error, "code": "unsupported_value"}}, status=400)
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    await response.write(b"data: " + json.dumps(COMPLETED).encode() + b"\n\n")
    await response.write_eof()
    return response


async def call(bridge: Bridge, job: BridgeJob) -> tuple[int, str, bytes]:
    path = bridge.register(job)
    async with (
        ClientSession() as session,
        session.post(f"http://127.0.0.1:{bridge.port}{path}", data=b"{}") as response,
    ):
        return response.status, response.content_type, await response.read()


def job(url: str, route: Route, body: dict[str, Any] | None = None, **kw: Any) -> BridgeJob:
    ws_url = url.replace("http://", "ws://")
    return BridgeJob(
        http_url=url,
        ws_url=ws_url,
        body=body or {"model": "m", "input": "hi"},
        headers={},
        route=route,
        fallback=True,
        **kw,
    )


async def started() -> Bridge:
    bridge = Bridge()
    bridge.start()
    async with ClientSession() as session:  # wait until it serves
        for _ in range(100):
            try:
                async with session.post(f"http://127.0.0.1:{bridge.port}/bridge/x") as r:
                    assert r.status == 404
                    break
            except OSError:
                continue
    return bridge


async def test_a_websocket_upgrade_refused_with_404_falls_back_to_http() -> None:
    bridge = await started()
    learned: list[Route] = []
    async with upstream(sse_ok) as url:
        status, kind, body = await call(bridge, job(url, Route.WEBSOCKET, on_route=learned.append))
    await bridge.aclose()
    assert (status, kind) == (200, "text/event-stream")
    assert b"response.completed" in body
    assert learned == [Route.HTTP]


async def test_a_refused_reasoning_summary_is_retried_without_and_remembered() -> None:
    bridge = await started()
    refused: list[bool] = []
    body = {"model": "m", "input": "hi", "reasoning": {"effort": "low", "summary": "auto"}}
    async with upstream(sse_ok) as url:
        status, _, answer = await call(
            bridge,
            job(url, Route.HTTP, body, on_summaries_refused=lambda: refused.append(True)),
        )
    await bridge.aclose()
    assert status == 200 and b"response.completed" in answer
    assert refused == [True]
    assert body["reasoning"] == {"effort": "low"}


async def test_a_json_answer_keeps_its_content_type() -> None:
    async def json_answer(request: web.Request) -> web.StreamResponse:
        return web.json_response({**COMPLETED["response"]})

    bridge = await started()
    async with upstream(json_answer) as url:
        status, kind, body = await call(bridge, job(url, Route.HTTP))
    await bridge.aclose()
    assert (status, kind) == (200, "application/json")
    assert json.loads(body)["object"] == "response"


async def test_websocket_frames_with_newlines_stay_whole_events() -> None:
    async def pretty(request: web.Request) -> web.StreamResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.receive()
        await socket.send_str(json.dumps(COMPLETED, indent=2))
        await socket.close()
        return socket

    bridge = await started()
    async with upstream(sse_ok, pretty) as url:
        status, _, body = await call(bridge, job(url, Route.WEBSOCKET))
    await bridge.aclose()
    assert status == 200
    decoder = SSEDecoder()
    events = [json.loads(m.data) for m in decoder.feed(body) + decoder.finish()]
    assert [e["type"] for e in events] == ["response.completed"]


async def test_a_token_is_good_for_one_request_only() -> None:
    bridge = await started()
    async with upstream(sse_ok) as url:
        path = bridge.register(job(url, Route.HTTP))
        async with ClientSession() as session:
            async with session.post(f"http://127.0.0.1:{bridge.port}{path}") as first:
                assert first.status == 200
                await first.read()
            async with session.post(f"http://127.0.0.1:{bridge.port}{path}") as second:
                assert second.status == 404
                assert (await second.json())["error"]["message"]
    await bridge.aclose()
