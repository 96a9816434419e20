"""The emulator's token counting and prompt cache (tokens.py), alone and as `usage` reports it
over both transports, with WebSocket `previous_response_id` chains (session.py Rule 3)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chat2responses.emulator import Emulator, EmulatorConfig, Transport
from chat2responses.emulator.tokens import (
    PromptCache,
    count_tokens,
    element_tokens,
    prompt_elements,
)
from tests.emulator.test_emulator import post, request
from tests.emulator.test_websocket import connected, create, not_found, read_response, send
from tests.emulator_helpers import emulator_in_process


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "input_text", "text": text}]}


@pytest.mark.parametrize(
    ("element", "tokens"),
    [
        ("", 1),  # '""': 2 bytes
        ("abcdef", 2),  # '"abcdef"': 8 bytes
        ("abcdefg", 3),  # 9 bytes, rounded up
        ({"b": 1, "a": "é"}, 4),  # '{"a":"é","b":1}': 16 bytes (é is 2)
        ([], 1),
    ],
)
def test_an_element_costs_a_quarter_of_its_canonical_json_bytes(element: Any, tokens: int) -> None:
    assert element_tokens(element) == tokens


def test_the_prompt_is_instructions_tools_then_input() -> None:
    tools = [{"type": "function", "name": "f"}]
    body = {"instructions": "be brief", "tools": tools, "input": [user("a"), user("b")]}
    assert prompt_elements(body) == ["be brief", tools, user("a"), user("b")]
    assert prompt_elements({"input": [user("a")]}) == [user("a")]
    assert count_tokens(body) == sum(element_tokens(e) for e in prompt_elements(body))


def body_with(*texts: str, key: str | None = "conv-1") -> dict[str, Any]:
    body: dict[str, Any] = {"instructions": "sys", "input": [user(t) for t in texts]}
    return body | ({"prompt_cache_key": key} if key else {})


def test_cached_tokens_are_the_longest_shared_prefix_under_the_key() -> None:
    cache = PromptCache()
    first = cache.serve(body_with("one", "two"))
    assert (first.input_tokens, first.cached_tokens) == (count_tokens(body_with("one", "two")), 0)
    longer = body_with("one", "two", "three")
    second = cache.serve(longer)
    assert second.input_tokens == count_tokens(longer)
    assert second.cached_tokens == count_tokens(body_with("one", "two"))
    forked = cache.serve(body_with("one", "other"))
    assert forked.cached_tokens == count_tokens(body_with("one"))
    assert cache.serve(body_with("one", "two", key="conv-2")).cached_tokens == 0
    assert cache.serve(body_with("one", "two", key=None)).cached_tokens == 0
    assert cache.serve(body_with("one", "two", key=None)).cached_tokens == 0  # never stored


def test_the_cache_forgets_the_least_recently_used_key() -> None:
    cache = PromptCache(max_keys=2, max_prompts=1)
    for key in ("a", "b", "c"):
        cache.serve(body_with("x", key=key))
    assert cache.serve(body_with("x", key="a")).cached_tokens == 0
    assert cache.serve(body_with("x", key="c")).cached_tokens > 0


def usage_of(events: list[dict[str, Any]]) -> dict[str, Any]:
    usage: dict[str, Any] = events[-1]["response"]["usage"]
    return usage


async def test_http_usage_reports_the_cache() -> None:
    first_body = request("hello", prompt_cache_key="k")
    second_body = request("hello", prompt_cache_key="k")
    second_body["input"] += [user("more")]
    async with emulator_in_process() as base_url:
        _, _, first = await post(base_url, first_body)
        _, _, second = await post(base_url, second_body)
    assert usage_of(first)["input_tokens"] == count_tokens(first_body)
    assert usage_of(first)["input_tokens_details"]["cached_tokens"] == 0
    assert usage_of(second)["input_tokens"] == count_tokens(second_body)
    assert usage_of(second)["input_tokens_details"]["cached_tokens"] == count_tokens(first_body)


async def test_a_websocket_chain_continues_from_the_stored_input_and_output() -> None:
    async with emulator_in_process() as base_url, connected(base_url) as ws:
        await send(ws, create("[scenario:tool]", prompt_cache_key="k"))
        first, _ = await read_response(ws)
        output = [f["item"] for f in first if f["type"] == "response.output_item.done"]
        tool_output = {"type": "function_call_output", "call_id": output[-1]["call_id"]}
        tool_output["output"] = "sunny"
        chained = create("[scenario:echo_request]", prompt_cache_key="k")
        chained["input"] = [tool_output, user("[scenario:echo_request]")]
        chained["previous_response_id"] = first[-1]["response"]["id"]
        await send(ws, chained)
        second, _ = await read_response(ws)
    echoed = json.loads(next(f["text"] for f in second if f["type"] == "response.output_text.done"))
    effective = [*create("[scenario:tool]")["input"], *output, *chained["input"]]
    assert echoed["input"] == effective
    body = request("[scenario:tool]", prompt_cache_key="k")
    # Output items were never part of an earlier prompt: the hit stops before them.
    assert usage_of(second)["input_tokens_details"]["cached_tokens"] == count_tokens(body)
    assert usage_of(second)["input_tokens"] == count_tokens(body | {"input": effective})


async def test_previous_response_id_from_another_connection_is_not_found() -> None:
    async with emulator_in_process() as base_url:
        async with connected(base_url) as ws:
            await send(ws, create())
            frames, _ = await read_response(ws)
        first = frames[-1]["response"]["id"]
        async with connected(base_url) as other:
            await send(other, create(previous_response_id=first))
            assert await read_response(other) == ([not_found(first)], False)
        status, _, body = await post(base_url, request(previous_response_id=first))
    assert (status, body) == (400, {"error": not_found(first)["error"]})


def test_respond_counts_the_body_it_is_given() -> None:
    emulator = Emulator(EmulatorConfig(), clock=lambda: 1.0)
    body = request("x" * 40)
    steps = emulator.respond(body, Transport.HTTP)
    completed = steps[-1].event  # type: ignore[union-attr]
    assert completed["response"]["usage"]["input_tokens"] == count_tokens(body)
