"""The emulator: its rules, its scenarios' event streams (checked against the openai SDK's types
and the ordering rules of openai-protocols.md §1), and its HTTP front end."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import aiohttp
import openai
import pydantic
import pytest
from openai.types.responses import ResponseStreamEvent

from chat2responses.emulator import (
    Drop,
    Emit,
    Emulator,
    EmulatorConfig,
    Reject,
    Rejection,
    Scenario,
    Sleep,
    Transport,
)
from chat2responses.emulator.backend import websocket_slugs
from chat2responses.emulator.rules import NOT_AN_OBJECT, check_request
from chat2responses.emulator.scenarios import play
from chat2responses.emulator.tools import tool_calls
from chat2responses.emulator.triggers import choose
from tests.emulator_helpers import emulator_in_process, emulator_subprocess

STREAM_EVENT: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(ResponseStreamEvent)
TERMINAL = {"response.completed", "response.incomplete", "response.failed", "error"}
LIFECYCLE = {"response.created", "response.in_progress"} | TERMINAL - {"error"}
# delta event → (its done event, the done event's text field, the key naming its part)
DELTA_DONE = {
    "response.output_text.delta": ("response.output_text.done", "text", "content_index"),
    "response.refusal.delta": ("response.refusal.done", "refusal", "content_index"),
    "response.function_call_arguments.delta": (
        "response.function_call_arguments.done",
        "arguments",
        "output_index",
    ),
    "response.reasoning_summary_text.delta": (
        "response.reasoning_summary_text.done",
        "text",
        "summary_index",
    ),
}
TOOLS = [
    {
        "type": "function",
        "name": "lookup",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
            "required": ["query", "unit"],
        },
        "strict": True,
    },
    {"type": "function", "name": "ping", "parameters": {"type": "object", "properties": {}}},
]


def request(text: str = "hi", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "gpt-test",
        "instructions": "",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": text}]}],
        "store": False,
        "stream": True,
    }
    return body | fields


def events_of(steps: list[Any]) -> list[dict[str, Any]]:
    return [step.event for step in steps if isinstance(step, Emit)]


# Codex backend events outside the Responses API: not in the SDK's types.
VENDOR = {"response.metadata", "codex.rate_limits"}


def check_stream(body: Mapping[str, Any], steps: list[Any]) -> list[dict[str, Any]]:
    """Assert the ordering rules of one response's steps; return its events."""
    events = events_of(steps)
    for event in events:
        if event["type"] not in VENDOR:
            STREAM_EVENT.validate_python(event)
    types = [event["type"] for event in events]
    assert types[:2] == ["response.created", "response.in_progress"]
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    terminals = [i for i, t in enumerate(types) if t in TERMINAL]
    if isinstance(steps[-1], Drop):
        assert terminals == []
    else:
        assert terminals == [len(events) - 1]
    for event in events:
        if event["type"] in LIFECYCLE:
            response = event["response"]
            assert response["id"].startswith("resp_") and response["object"] == "response"
            assert response["model"] == body["model"]
    _check_items(events)
    return events


def _check_items(events: list[dict[str, Any]]) -> None:
    added: dict[int, str] = {}
    deltas: dict[tuple[str, str, int], str] = defaultdict(str)
    for event in events:
        kind, index = event["type"], event.get("output_index")
        if kind == "response.output_item.added":
            assert index == len(added), "output indexes are consecutive from 0"
            added[index] = event["item"]["id"]
        elif index is not None:
            assert index in added, f"{kind} comes before its item's output_item.added"
            assert event.get("item_id", added[index]) == added[index]
        if kind == "response.output_item.done":
            assert event["item"]["id"] == added[index]
        if kind in DELTA_DONE:
            done, _, part = DELTA_DONE[kind]
            deltas[(done, event["item_id"], event[part])] += event["delta"]
        if kind in {done for done, _, _ in DELTA_DONE.values()}:
            field, part = next((f, p) for d, f, p in DELTA_DONE.values() if d == kind)
            key = (kind, event["item_id"], event[part])
            # A summary part may come whole, in its .done only (sequential cutoff).
            if key in deltas or kind != "response.reasoning_summary_text.done":
                assert deltas[key] == event[field]


SCENARIO_TEXTS = {
    "hello there": Scenario.TEXT,
    "[scenario:text]": Scenario.TEXT,
    "[scenario:reasoning] think": Scenario.REASONING,
    "[scenario:tools]": Scenario.TOOLS,
    "[scenario:tool]": Scenario.TOOL,
    "[scenario:refusal]": Scenario.REFUSAL,
    "[scenario:long:7]": Scenario.LONG,
    "[scenario:long]": Scenario.LONG,
    "[scenario:incomplete]": Scenario.INCOMPLETE,
    "[scenario:content_filter]": Scenario.CONTENT_FILTER,
    "[scenario:failed]": Scenario.FAILED,
    "[scenario:error_event]": Scenario.ERROR_EVENT,
    "[scenario:close_mid_stream]": Scenario.CLOSE_MID_STREAM,
    "[scenario:slow:5]": Scenario.SLOW,
    "[scenario:codex_empty_output]": Scenario.CODEX_EMPTY_OUTPUT,
    "[scenario:echo_request]": Scenario.ECHO_REQUEST,
    "[scenario:overload]": Scenario.OVERLOAD,
    "[scenario:overload_once]": Scenario.OVERLOAD_ONCE,
    "[scenario:overload_after_output]": Scenario.OVERLOAD_AFTER_OUTPUT,
    "[scenario:first_token_delay:5]": Scenario.FIRST_TOKEN_DELAY,
    "[scenario:sequential_cutoff]": Scenario.SEQUENTIAL_CUTOFF,
    "[scenario:safety_buffering]": Scenario.SAFETY_BUFFERING,
    "[scenario:unstable_websocket]": Scenario.UNSTABLE_WEBSOCKET,
    "[scenario:agent:2]": Scenario.AGENT,
}
REJECTING = {Scenario.HTTP_ERROR, Scenario.RATE_LIMIT, Scenario.USAGE_LIMIT}
# Scenarios that end the connection before any event (WebSocket close frames, dropped TCP).
CLOSING = {Scenario.CLOSE_1009, Scenario.CLOSE_1006, Scenario.CLOSE_1006_ONCE}


def test_the_table_covers_every_streaming_scenario() -> None:
    assert set(SCENARIO_TEXTS.values()) | REJECTING | CLOSING == set(Scenario)


@pytest.mark.parametrize("tools", [None, TOOLS], ids=["no-tools", "tools"])
@pytest.mark.parametrize("text", SCENARIO_TEXTS)
def test_every_event_validates_and_keeps_the_order_rules(text: str, tools: Any) -> None:
    body = request(text, tools=tools, include=["reasoning.encrypted_content"])
    steps = play(body, response_id="resp_abc", created_at=1_700_000_000)
    chosen = choose(text)
    assert not isinstance(chosen, Rejection) and chosen[0] is SCENARIO_TEXTS[text]
    events = check_stream(body, steps)
    last = events[-1]
    if last["type"] == "response.completed":
        usage = last["response"]["usage"]
        assert min(usage["input_tokens"], usage["output_tokens"]) > 0
        assert usage["input_tokens_details"]["cached_tokens"] == 0  # no cache without a key
        assert usage["output_tokens_details"]["reasoning_tokens"] > 0
        done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
        expected = [] if SCENARIO_TEXTS[text] is Scenario.CODEX_EMPTY_OUTPUT else done
        assert last["response"]["output"] == expected


def test_a_stream_is_a_pure_function_of_request_id_and_time() -> None:
    body = request("[scenario:tools]", tools=TOOLS)
    first = play(body, response_id="resp_x", created_at=1)
    assert first == play(body, response_id="resp_x", created_at=1)
    ids = {e["item"]["id"] for e in events_of(first) if e["type"].endswith("output_item.added")}
    assert ids == {"rs_x00", "fc_x01", "fc_x02"}


def test_default_reply_greets_with_the_users_text() -> None:
    events = events_of(play(request("x" * 300), response_id="resp_a", created_at=1))
    text = next(e["text"] for e in events if e["type"] == "response.output_text.done")
    assert text == "Hello from the emulator. You said: " + "x" * 200
    assert sum(e["type"] == "response.output_text.delta" for e in events) > 1


def test_echo_request_replies_with_the_request_body() -> None:
    body = request("[scenario:echo_request] é", tools=TOOLS)
    events = events_of(play(body, response_id="resp_e", created_at=1))
    text = next(e["text"] for e in events if e["type"] == "response.output_text.done")
    assert json.loads(text) == body


@pytest.mark.parametrize(
    ("tools", "expected"),
    [
        (None, [("get_weather", {"city": "Paris"}), ("get_time", {"timezone": "Europe/Paris"})]),
        (TOOLS, [("lookup", {"query": "emulator", "unit": "c"}), ("ping", {})]),
        (TOOLS[:1], [("lookup", {"query": "emulator", "unit": "c"})] * 2),
    ],
)
def test_tool_calls_use_the_requests_tools(tools: Any, expected: Any) -> None:
    assert tool_calls(request(tools=tools), 2) == expected


def test_slow_paces_and_close_mid_stream_drops() -> None:
    slow = play(request("[scenario:slow:250]"), response_id="resp_s", created_at=1)
    assert {step.seconds for step in slow if isinstance(step, Sleep)} == {0.25}
    assert not isinstance(slow[0], Sleep)
    dropped = play(request("[scenario:close_mid_stream]"), response_id="resp_d", created_at=1)
    assert isinstance(dropped[-1], Drop)


@pytest.mark.parametrize(
    ("text", "status", "code"),
    [
        ("[scenario:http_error:503]", 503, "emulated_503"),
        ("[scenario:http_error]", 500, "emulated_500"),
        ("[scenario:rate_limit]", 429, "rate_limit_exceeded"),
        ("[scenario:usage_limit]", 429, None),
        ("[scenario:nope]", 400, "unknown_scenario"),
        ("[scenario:long:0]", 400, "unknown_scenario"),
        ("[scenario:http_error:abc]", 400, "unknown_scenario"),
    ],
)
def test_rejecting_scenarios(text: str, status: int, code: str | None) -> None:
    steps = play(request(text), response_id="resp_r", created_at=1)
    assert len(steps) == 1 and isinstance(steps[0], Reject)
    rejection = steps[0].rejection
    assert (rejection.status, rejection.http_body()["error"]["code"]) == (status, code)
    assert rejection.ws_frame()["status"] == status


WS_ONLY = frozenset({"gpt-5.5", "gpt-5.4", "ws-only-"})
ROUTING = "routing_unsupported: {} routing only supports Responses-compatible requests"


PREVIOUS_NOT_FOUND = {
    "error": {
        "type": "invalid_request_error",
        "code": "previous_response_not_found",
        "message": "Previous response with id 'resp_1' not found.",
        "param": "previous_response_id",
    }
}


def unsupported(name: str) -> dict[str, str]:
    return {"detail": f"Unsupported parameter: {name}"}


def routing(named: str) -> dict[str, Any]:
    return {
        "error": {
            "type": "invalid_request_error",
            "code": "routing_unsupported",
            "message": ROUTING.format(named),
            "param": "model",
        }
    }


@pytest.mark.parametrize(
    ("changes", "transport", "expected"),
    [
        ({}, Transport.HTTP, None),
        ({"store": True}, Transport.HTTP, {"detail": "Store must be set to false"}),
        ({"store": None}, Transport.HTTP, {"detail": "Store must be set to false"}),
        # The Codex CLI 0.171 sends none (tests/fixtures/codex_cli_0.171.0.json); a value must
        # still be a string.
        ({"instructions": None}, Transport.HTTP, None),
        ({"instructions": 5}, Transport.HTTP, {"detail": "Instructions must be a string"}),
        ({"stream": False}, Transport.HTTP, {"detail": "Stream must be set to true"}),
        ({"stream": None}, Transport.WEBSOCKET, None),
        ({"input": "hi"}, Transport.HTTP, {"detail": "Input must be a list"}),
        ({"model": ""}, Transport.HTTP, {"detail": "Model is required"}),
        ({"max_output_tokens": 5}, Transport.HTTP, unsupported("max_output_tokens")),
        ({"temperature": 0}, Transport.WEBSOCKET, unsupported("temperature")),
        ({"stream_options": {}}, Transport.HTTP, unsupported("stream_options")),
        ({"previous_response_id": "resp_1"}, Transport.HTTP, PREVIOUS_NOT_FOUND),
        ({"previous_response_id": "resp_1"}, Transport.WEBSOCKET, None),
        ({"model": "gpt-5.5"}, Transport.HTTP, routing("GPT-5.5")),
        ({"model": "gpt-5.5"}, Transport.WEBSOCKET, None),
        ({"model": "gpt-5.3-codex"}, Transport.HTTP, None),
        ({"model": "gpt-5.55"}, Transport.HTTP, None),
    ],
)
def test_request_rules(changes: dict[str, Any], transport: Transport, expected: Any) -> None:
    body = {k: v for k, v in (request() | changes).items() if v is not None}
    rejection = check_request(body, transport, ws_only=WS_ONLY)
    assert (rejection.http_body() if rejection else None) == expected
    if rejection is not None:
        assert rejection.status == 400


@pytest.mark.parametrize(
    ("model", "named"),
    [
        ("gpt-5.5", "GPT-5.5"),
        ("GPT-5.5-2026-04-23", "GPT-5.5"),
        ("openai/gpt-5.5", "GPT-5.5"),
        ("gpt-5.4-mini", "GPT-5.4"),
        ("ws-only-x", "ws-only-x"),
    ],
)
def test_websocket_models_are_refused_over_http(model: str, named: str) -> None:
    rejection = check_request(request(model=model), Transport.HTTP, ws_only=WS_ONLY)
    assert rejection is not None and rejection.http_body() == routing(named)
    allowed = check_request(
        request(model=model), Transport.HTTP, ws_only=WS_ONLY, http_ok={named.lower()}
    )
    assert allowed is None


def test_the_catalogs_websocket_slugs_are_the_default_ws_only_set() -> None:
    catalog = {"models": [{"slug": "a", "prefer_websockets": True}, {"slug": "b"}]}
    assert websocket_slugs(catalog) == {"a"}
    config = EmulatorConfig.default()
    assert "ws-only-" in config.ws_only
    assert websocket_slugs(config.catalog) <= config.ws_only
    rejection = check_request(
        request(model="gpt-5.5-2026-04-23"), Transport.HTTP, ws_only=config.ws_only
    )
    assert rejection is not None and rejection.http_body() == routing("GPT-5.5")


def test_respond_numbers_responses_and_rejects_non_objects() -> None:
    emulator = Emulator(EmulatorConfig(), clock=lambda: 1234.5)
    assert emulator.respond([], Transport.HTTP) == [Reject(NOT_AN_OBJECT)]
    first, second = (events_of(emulator.respond(request(), Transport.HTTP)) for _ in range(2))
    assert first[0]["response"]["created_at"] == 1234
    assert first[0]["response"]["id"] != second[0]["response"]["id"]


# -- HTTP ----------------------------------------------------------------------------------------


async def read_sse(response: aiohttp.ClientResponse) -> list[dict[str, Any]]:
    events = []
    for block in (await response.text()).split("\n\n"):
        if not block:
            continue
        name, data = block.split("\n")
        event = json.loads(data.removeprefix("data: "))
        assert name == f"event: {event['type']}"
        events.append(event)
    return events


async def post(base_url: str, body: Any) -> tuple[int, Mapping[str, str], Any]:
    async with aiohttp.ClientSession() as session:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        async with session.post(f"{base_url}/responses", data=data) as response:
            if response.content_type == "text/event-stream":
                return response.status, response.headers, await read_sse(response)
            return response.status, response.headers, await response.json()


BAD_INSTRUCTIONS = request(instructions=["not a string"])
EMULATED_502 = {
    "error": {
        "type": "server_error",
        "code": "emulated_502",
        "message": "Emulated HTTP 502 error ([scenario:http_error:502]).",
        "param": None,
    }
}


@pytest.mark.parametrize(
    ("body", "status", "expected"),
    [
        (b"{nope", 400, {"detail": "Request body must be valid JSON"}),
        (b"[]", 400, {"detail": "Request body must be a JSON object"}),
        (request(store=True), 400, {"detail": "Store must be set to false"}),
        (BAD_INSTRUCTIONS, 400, {"detail": "Instructions must be a string"}),
        (request(max_output_tokens=10), 400, unsupported("max_output_tokens")),
        (request(model="gpt-5.5"), 400, routing("GPT-5.5")),
        (request(model="ws-only-x"), 400, routing("ws-only-x")),
        (request("[scenario:http_error:502]"), 502, EMULATED_502),
    ],
)
async def test_http_refusals(body: Any, status: int, expected: Any) -> None:
    async with emulator_in_process(ws_only=WS_ONLY) as base_url:
        got_status, _, got = await post(base_url, body)
    assert (got_status, got) == (status, expected)


async def test_http_rate_limit_has_retry_after() -> None:
    async with emulator_in_process() as base_url:
        status, headers, body = await post(base_url, request("[scenario:rate_limit]"))
    assert (status, headers["retry-after"]) == (429, "1")
    assert body["error"]["code"] == "rate_limit_exceeded"


async def test_http_stream_is_sse_and_validates() -> None:
    async with emulator_in_process() as base_url:
        status, headers, events = await post(base_url, request("[scenario:tools]"))
    assert (status, headers["content-type"]) == (200, "text/event-stream")
    check_stream(request(), [Emit(event) for event in events])
    assert events[-1]["type"] == "response.completed"


async def test_http_close_mid_stream_truncates_the_body() -> None:
    async with emulator_in_process() as base_url, aiohttp.ClientSession() as session:
        body = json.dumps(request("[scenario:close_mid_stream]")).encode()
        async with session.post(f"{base_url}/responses", data=body) as response:
            assert response.status == 200
            received = b""
            with pytest.raises(aiohttp.ClientPayloadError):
                async for chunk in response.content.iter_any():
                    received += chunk
    assert b"response.output_text.delta" in received
    assert not any(f"event: {kind}\n".encode() in received for kind in TERMINAL)


async def test_http_slow_stream_is_paced() -> None:
    async with emulator_in_process() as base_url:
        started = time.monotonic()
        _, _, events = await post(base_url, request("[scenario:slow:20]"))
        elapsed = time.monotonic() - started
    assert elapsed >= 0.02 * (len(events) - 1) * 0.9
    assert elapsed < 0.02 * (len(events) - 1) + 2


async def test_models_endpoint_serves_the_catalog() -> None:
    catalog = {"models": [{"slug": "gpt-x", "prefer_websockets": True}]}
    async with (
        emulator_in_process(EmulatorConfig(catalog=catalog)) as base_url,
        aiohttp.ClientSession() as session,
        session.get(f"{base_url}/models?client_version=0.171.0") as response,
    ):
        assert await response.json() == catalog


async def test_the_openai_sdk_consumes_the_default_scenario() -> None:
    async with (
        emulator_in_process() as base_url,
        openai.AsyncOpenAI(base_url=base_url, api_key="x", max_retries=0) as client,
    ):
        stream = await client.responses.create(
            model="gpt-test",
            input=[{"role": "user", "content": "hello"}],
            stream=True,
            store=False,
            instructions="",
        )
        deltas = [e.delta async for e in stream if e.type == "response.output_text.delta"]
        async with client.responses.stream(
            model="gpt-test",
            input=[{"role": "user", "content": "hi there"}],
            store=False,
            instructions="",
        ) as helper:
            final = await helper.get_final_response()
        with pytest.raises(openai.BadRequestError) as refused:
            await client.responses.create(
                model="ws-only-x", input=[], stream=True, store=False, instructions=""
            )
    assert refused.value.code == "routing_unsupported"
    assert "".join(deltas) == "Hello from the emulator. You said: hello"
    assert final.output_text == "Hello from the emulator. You said: hi there"
    assert final.usage is not None and final.usage.total_tokens > 0


def test_the_module_runs_as_a_subprocess_on_a_free_port() -> None:
    with emulator_subprocess("--ws-only-models", "ws-only-") as base_url:
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/backend-api/codex")
        with urllib.request.urlopen(
            f"{base_url}/models?client_version=0.1.0", timeout=5
        ) as response:
            assert "models" in json.loads(response.read())
        data = json.dumps(request("[scenario:tool]")).encode()
        with urllib.request.urlopen(f"{base_url}/responses", data, timeout=5) as response:
            assert response.headers["content-type"] == "text/event-stream"
            assert b"event: response.completed\n" in response.read()


def test_the_help_lists_every_scenario_and_the_arguments_bounds() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "chat2responses.emulator", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    listed = done.stdout.split("Names:", 1)[1]
    for scenario in Scenario:
        assert re.search(rf"\b{scenario.value}\b", listed), scenario
    assert "long:N (1-100000, default 50)" in listed
    assert "[scenario:NAME:N]" in done.stdout


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/chat/completions"),  # a chat call passed through: the backend has none
        ("GET", "/v1/models"),
        ("PUT", "/backend-api/codex/responses"),
        ("GET", "/"),
    ],
)
async def test_an_unknown_url_is_an_openai_shaped_404(method: str, path: str) -> None:
    async with emulator_in_process() as base_url, aiohttp.ClientSession() as session:
        root = base_url.removesuffix("/backend-api/codex")
        async with session.request(method, root + path, json={}) as response:
            assert response.status == 404
            assert response.content_type == "application/json"
            error = (await response.json())["error"]
    assert error["message"] == f"Invalid URL ({method} {path})"
    assert (error["type"], error["code"]) == ("invalid_request_error", "unknown_url")
