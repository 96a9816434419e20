"""The emulator's quota (quota.py), injected faults (scenarios.py), the WebSocket age limit
(session.py Rule 5) and the latency model (latency.py), over both transports."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from typing import Any

import aiohttp
import pytest
import websockets
from openai.types.responses.responses_server_event import ResponseWsError

from chat2responses.emulator import EmulatorConfig
from chat2responses.emulator.__main__ import config_from, parse_args
from chat2responses.emulator.latency import Latency
from chat2responses.emulator.quota import Quota, Window
from tests.emulator.test_emulator import STREAM_EVENT, post, request
from tests.emulator.test_websocket import connected, create, over_http, read_response, send
from tests.emulator_helpers import ROOT, emulator_in_process

NOW = 1_700_000_000  # 1_700_000_000 % 18000 == 8000, % 604800 == 512000
QUOTA = Quota(plan_type="pro", primary=Window(12.5, 300), secondary=Window(40.0, 10080))
QUOTA_HEADERS = {
    "x-codex-plan-type": "pro",
    "x-codex-primary-used-percent": "12.5",
    "x-codex-primary-window-minutes": "300",
    "x-codex-primary-reset-after-seconds": "10000",
    "x-codex-primary-reset-at": str(NOW + 10000),
    "x-codex-secondary-used-percent": "40.0",
    "x-codex-secondary-window-minutes": "10080",
    "x-codex-secondary-reset-after-seconds": "92800",
    "x-codex-secondary-reset-at": str(NOW + 92800),
    "x-codex-credits-has-credits": "false",
    "x-codex-credits-balance": "0",
    "x-codex-credits-unlimited": "false",
}
RATE_LIMITS = {
    "type": "codex.rate_limits",
    "plan_type": "pro",
    "metered_limit_name": "codex",
    "rate_limits": {
        "primary": {
            "used_percent": 12.5,
            "window_minutes": 300,
            "reset_at": NOW + 10000,
            "reset_after_seconds": 10000,
        },
        "secondary": {
            "used_percent": 40.0,
            "window_minutes": 10080,
            "reset_at": NOW + 92800,
            "reset_after_seconds": 92800,
        },
    },
    "credits": {"has_credits": False, "unlimited": False, "balance": "0"},
}
USAGE_LIMIT_ERROR = {
    "type": "usage_limit_reached",
    "code": None,
    "message": "The usage limit has been reached",
    "param": None,
    "plan_type": "pro",
    "resets_at": NOW + 10000,
    "resets_in_seconds": 10000,
}
OVERLOADED = {
    "type": "service_unavailable_error",
    "code": "server_is_overloaded",
    "message": "Our servers are currently overloaded. Please try again later.",
}


def test_quota_headers_and_event_are_functions_of_the_clock() -> None:
    assert QUOTA.headers(NOW) == QUOTA_HEADERS
    assert QUOTA.event(NOW) == RATE_LIMITS
    rejection = QUOTA.usage_limit(NOW)
    assert (rejection.status, rejection.http_body()) == (429, {"error": USAGE_LIMIT_ERROR})
    assert dict(rejection.headers) == QUOTA_HEADERS


async def test_quota_is_reported_on_http_and_on_the_websocket() -> None:
    config = EmulatorConfig.default(quota=QUOTA, rate_limits_event=True)
    async with emulator_in_process(config, clock=lambda: NOW) as base_url:
        _, headers, _ = await post(base_url, request())
        _, refused_headers, _ = await post(base_url, request(store=True))
        async with connected(base_url) as ws:
            assert ws.response is not None
            handshake = dict(ws.response.headers)
            await send(ws, create())
            first = json.loads(await ws.recv())
            await read_response(ws)
    for got in (headers, refused_headers, handshake):
        assert {k: got[k] for k in QUOTA_HEADERS} == QUOTA_HEADERS
    assert first == RATE_LIMITS


@pytest.mark.parametrize("how", ["scenario", "flag"])
async def test_usage_limit_reached_on_both_transports(how: str) -> None:
    text = "[scenario:usage_limit]" if how == "scenario" else "hi"
    quota = QUOTA if how == "scenario" else Quota("pro", QUOTA.primary, QUOTA.secondary)
    quota = Quota(quota.plan_type, quota.primary, quota.secondary, limit_reached=(how == "flag"))
    async with emulator_in_process(clock=lambda: NOW, quota=quota) as base_url:
        status, headers, body = await post(base_url, request(text))
        async with connected(base_url) as ws:
            await send(ws, create(text))
            (frame,), closed = await read_response(ws)
    assert (status, body) == (429, {"error": USAGE_LIMIT_ERROR})
    assert {k: headers[k] for k in QUOTA_HEADERS} == QUOTA_HEADERS
    ResponseWsError.model_validate(frame)
    assert frame == {
        "type": "error",
        "status": 429,
        "error": USAGE_LIMIT_ERROR,
        "headers": QUOTA_HEADERS,
    }
    assert not closed


def test_the_command_line_sets_quota_latency_age_and_login() -> None:
    args = parse_args(
        [
            "--quota-primary-used", "55", "--quota-secondary-used", "7.5",
            "--quota-primary-window", "60", "--plan-type", "pro", "--usage-limit",
            "--rtt-ms", "20", "--upload-kbps", "800", "--prefill-us-per-token", "3",
            "--prefill-us-per-cached-token", "0.5", "--ws-max-age", "2.5",
            "--token-ttl", "30", "--require-login", "--rate-limits-event",
        ]
    )  # fmt: skip
    config = config_from(args)
    assert config.quota == Quota("pro", Window(55, 60), Window(7.5, 10080), limit_reached=True)
    assert config.latency == Latency(20, 800, 3, 0.5)
    assert (config.ws_max_age, config.token_ttl, config.require_login) == (2.5, 30, True)
    assert config.rate_limits_event is True
    defaults = config_from(parse_args([]))
    assert defaults.latency == Latency() and defaults.quota == Quota()
    assert (defaults.ws_max_age, defaults.require_login, defaults.rate_limits_event) == (
        3600,
        False,
        False,
    )


# -- faults --------------------------------------------------------------------------------------


def kinds(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in events]


@pytest.mark.parametrize("text", ["[scenario:overload]", "[scenario:overload_once]"])
async def test_overload_before_output_on_both_transports(text: str) -> None:
    async with emulator_in_process() as base_url:
        status, _, events = await over_http(base_url, request(text))
        async with connected(base_url) as ws:
            await send(ws, create(text + " ws"))
            frames, _ = await read_response(ws)
    assert status == 200
    assert kinds(events) == ["response.created", "response.in_progress", "error"]
    STREAM_EVENT.validate_python(events[-1])
    assert events[-1]["code"] == "server_is_overloaded"
    assert events[-1]["error"] == OVERLOADED
    assert kinds(frames) == ["response.created", "response.in_progress", "error"]
    ResponseWsError.model_validate(frames[-1])
    assert frames[-1]["error"] == OVERLOADED | {"param": None}
    assert "status" not in frames[-1]


async def test_overload_once_fails_only_the_first_time_per_prompt_and_key() -> None:
    text = "[scenario:overload_once]"
    async with emulator_in_process() as base_url:
        outcomes = [
            kinds((await over_http(base_url, body))[2])[-1]
            for body in (
                request(text, prompt_cache_key="a"),
                request(text, prompt_cache_key="a"),  # the retry
                request(text, prompt_cache_key="b"),  # another conversation
                request(text + " again", prompt_cache_key="a"),  # another prompt
            )
        ]
    assert outcomes == ["error", "response.completed", "error", "error"]


async def test_overload_after_output_sends_text_first() -> None:
    async with emulator_in_process() as base_url:
        _, _, events = await over_http(base_url, request("[scenario:overload_after_output]"))
    types = kinds(events)
    assert "response.output_text.delta" in types and types[-1] == "error"
    assert events[-1]["error"]["code"] == "server_is_overloaded"


async def test_first_token_delay_is_silence_after_created() -> None:
    async with (
        emulator_in_process() as base_url,
        aiohttp.ClientSession() as client,
        client.post(
            f"{base_url}/responses", json=request("[scenario:first_token_delay:300]")
        ) as response,
    ):
        arrivals: list[tuple[float, str]] = []
        started = time.monotonic()
        async for line in response.content:
            if line.startswith(b"event: "):
                arrivals.append((time.monotonic() - started, line[7:].decode().strip()))
    by_kind = {kind: at for at, kind in reversed(arrivals)}  # first arrival of each kind
    assert by_kind["response.in_progress"] < 0.2
    assert by_kind["response.output_item.added"] >= 0.28
    assert arrivals[-1][1] == "response.completed"


async def test_close_1009_sends_a_close_frame_before_any_event() -> None:
    async with emulator_in_process() as base_url, connected(base_url) as ws:
        await send(ws, create("[scenario:close_1009]"))
        frames, closed = await read_response(ws)
        with pytest.raises(websockets.ConnectionClosed) as raised:
            await ws.recv()
    assert (frames, closed) == ([], True)
    assert raised.value.rcvd is not None and raised.value.rcvd.code == 1009


async def test_close_1006_drops_the_socket_and_the_once_variant_lets_a_retry_through() -> None:
    async with emulator_in_process() as base_url:
        for text in ("[scenario:close_1006]", "[scenario:close_1006_once]"):
            async with connected(base_url) as ws:
                await send(ws, create(text))
                frames, closed = await read_response(ws)
                with pytest.raises(websockets.ConnectionClosed) as raised:
                    await ws.recv()
            assert (frames, closed) == ([], True)
            assert raised.value.rcvd is None  # no close frame: 1006
        async with connected(base_url) as ws:  # the retry on a fresh socket
            await send(ws, create("[scenario:close_1006_once]"))
            frames, closed = await read_response(ws)
    assert frames[-1]["type"] == "response.completed" and not closed


async def test_the_connection_age_limit_refuses_the_next_create_and_closes() -> None:
    clock = [float(NOW)]
    config = EmulatorConfig.default(ws_max_age=60)
    async with (
        emulator_in_process(config, clock=lambda: clock[0]) as base_url,
        connected(base_url) as ws,
    ):
        await send(ws, create())
        frames, _ = await read_response(ws)
        assert frames[-1]["type"] == "response.completed"
        clock[0] += 60
        await send(ws, create())
        (error,), _ = await read_response(ws)
        with pytest.raises(websockets.ConnectionClosedOK):
            await ws.recv()
    ResponseWsError.model_validate(error)
    assert (error["status"], error["error"]["code"]) == (400, "websocket_connection_limit_reached")
    assert error["error"]["message"] == (
        "Responses websocket connection limit reached (1 minutes). "
        "Create a new websocket connection to continue."
    )


# -- latency -------------------------------------------------------------------------------------


def test_the_latency_model_adds_rtt_upload_and_prefill() -> None:
    latency = Latency(rtt_ms=10, upload_kbps=8, prefill_us_per_token=100,
                      prefill_us_per_cached_token=10)  # fmt: skip
    seconds = latency.before_first_event(request_bytes=1000, input_tokens=300, cached_tokens=100)
    assert seconds == pytest.approx(0.010 + 1.0 + 200 * 100e-6 + 100 * 10e-6)
    assert (
        Latency().before_first_event(request_bytes=10**6, input_tokens=10**6, cached_tokens=0) == 0
    )
    assert latency.describe() == (
        "emulator: latency rtt=10 ms upload=8 kbit/s prefill=100 us/token cached=10 us/token"
    )


async def time_first_event(base_url: str, body: dict[str, Any]) -> float:
    async with aiohttp.ClientSession() as client:
        started = time.monotonic()
        async with client.post(f"{base_url}/responses", json=body) as response:
            await response.content.readline()
            return time.monotonic() - started


async def test_latency_delays_the_first_event_on_both_transports() -> None:
    latency = Latency(rtt_ms=150, prefill_us_per_token=0)
    async with emulator_in_process(latency=latency) as base_url:
        assert await time_first_event(base_url, request()) >= 0.14
        started = time.monotonic()
        async with connected(base_url) as ws:
            handshake = time.monotonic() - started
            await send(ws, create())
            await asyncio.wait_for(ws.recv(), 5)
            first_frame = time.monotonic() - started - handshake
            await read_response(ws)  # unread frames would hold the client's close back
    assert handshake >= 0.14 and first_frame >= 0.14
    async with emulator_in_process(latency=Latency(prefill_us_per_token=20_000)) as base_url:
        body = request("x" * 100)  # about 40 tokens: 0.8 s
        assert await time_first_event(base_url, body) >= 0.5
    async with emulator_in_process() as base_url:
        assert await time_first_event(base_url, request()) < 0.5


def test_the_subprocess_prints_the_latency_line() -> None:
    command = [sys.executable, "-m", "chat2responses.emulator", "--port", "0", "--rtt-ms", "5"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        first, second = process.stdout.readline(), process.stdout.readline()
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
    assert "/backend-api/codex" in first
    assert second.strip() == (
        "emulator: latency rtt=5 ms upload=unlimited prefill=0 us/token cached=0 us/token"
    )


def test_a_late_ctrl_c_stops_the_emulator_quietly(monkeypatch: pytest.MonkeyPatch) -> None:
    from chat2responses.emulator import __main__ as emulator_main

    def interrupted(coroutine: Any) -> None:
        coroutine.close()
        raise KeyboardInterrupt

    monkeypatch.setattr(asyncio, "run", interrupted)
    with pytest.raises(SystemExit) as stopped:
        emulator_main.main(["--port", "0"])
    assert stopped.value.code == 130
