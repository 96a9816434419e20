"""Conversations through a real mitmdump: continuation on the kept WebSocket, prompt-cache keys,
reasoning replay on the HTTP route, and the same answers with `responses_continuation=off`."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.e2e.test_http import TOOLS, client
from tests.emulator_helpers import emulator_subprocess
from tests.proxy_helpers import Mitmdump, run_mitmdump


def origin(url: str) -> str:
    return url.split("/backend-api", maxsplit=1)[0]


@pytest.fixture(scope="module")
def proxies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Mitmdump, Mitmdump]]:
    """Two mitmdumps in front of one emulator: continuation on (the default) and off."""
    with emulator_subprocess() as url:
        base = {"responses_url": url, "responses_rewrite": "all"}
        off = {**base, "responses_continuation": "off"}
        with (
            run_mitmdump(f"reverse:{origin(url)}", tmp_path_factory.mktemp("on"), base) as on,
            run_mitmdump(f"reverse:{origin(url)}", tmp_path_factory.mktemp("off"), off) as no,
        ):
            yield on, no


def summaries(proxy: Mitmdump, tag: str, at_least: int = 0) -> list[str]:
    """The call summaries naming `tag` (waiting a little for the last: it follows the answer)."""
    deadline = time.monotonic() + 5
    while True:
        lines = [line for line in list(proxy.lines) if " · " in line and tag in line]
        if len(lines) >= at_least or time.monotonic() > deadline:
            return lines


def tool_loop(
    proxy: Mitmdump, model: str, turns: int, *, key: str = "sk-test", stream: bool = False
) -> list[Any]:
    """A tool loop as IDE agents run it: each turn the whole history, one tool call answered."""
    api = openai.OpenAI(base_url=proxy.base_url, api_key=key, max_retries=0)
    tag = f"[scenario:tool] loop {time.monotonic_ns()}"
    messages: list[Any] = [{"role": "system", "content": "You are an agent."}]
    messages.append({"role": "user", "content": tag})
    answers = []
    for turn in range(turns):
        if stream:
            chunks = list(
                api.chat.completions.create(
                    model=model, messages=messages, tools=TOOLS, stream=True
                )
            )
            calls = [c.choices[0].delta.tool_calls for c in chunks if c.choices]
            call = next(tc[0] for tc in calls if tc and tc[0].id)
            args = "".join(tc[0].function.arguments or "" for tc in calls if tc)
            message: dict[str, Any] = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.function.name, "arguments": args},
                    }
                ],
            }
            answers.append((call.function.name, args))
        else:
            completion = api.chat.completions.create(model=model, messages=messages, tools=TOOLS)
            choice = completion.choices[0]
            assert choice.finish_reason == "tool_calls"
            message = choice.message.model_dump(exclude_none=True)
            tool_call = choice.message.tool_calls[0]
            answers.append((tool_call.function.name, tool_call.function.arguments))
            call = tool_call
        messages.append(message)
        messages.append(
            {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"turn": turn})}
        )
    return answers


@pytest.mark.parametrize("stream", [False, True])
def test_a_tool_loop_continues_on_the_kept_websocket(
    proxies: tuple[Mitmdump, Mitmdump], stream: bool
) -> None:
    on, _ = proxies
    before = len(summaries(on, "gpt-5.5 → gpt-5.5"))
    tool_loop(on, "gpt-5.5", 4, stream=stream)
    lines = summaries(on, "gpt-5.5 → gpt-5.5", before + 4)[before:]
    assert len(lines) == 4, lines
    assert "continued" not in lines[0]
    for line in lines[1:]:
        assert " · continued 1 of " in line, line  # only the tool result went upstream


def test_the_answers_are_the_same_with_continuation_off(
    proxies: tuple[Mitmdump, Mitmdump],
) -> None:
    on, off = proxies
    assert tool_loop(on, "gpt-5.5", 3) == tool_loop(off, "gpt-5.5", 3)
    assert not any("continued" in line for line in summaries(off, "gpt-5.5"))


def test_reasoning_is_replayed_for_a_stateless_http_route(
    proxies: tuple[Mitmdump, Mitmdump],
) -> None:
    on, _ = proxies
    before = len(summaries(on, "gpt-5-codex → gpt-5-codex"))
    tool_loop(on, "gpt-5-codex", 3)
    lines = summaries(on, "gpt-5-codex → gpt-5-codex", before + 3)[before:]
    assert len(lines) == 3
    assert "replayed" not in lines[0]
    # Each later turn carries the reasoning kept from every earlier tool call, and the emulator
    # verified its signature (a refused item would have been retried without: no "replayed").
    assert "full, 1 reasoning item replayed" in lines[1], lines[1]
    assert "full, 2 reasoning items replayed" in lines[2], lines[2]


def echoed(proxy: Mitmdump, key: str, text: str, model: str = "gpt-5-codex") -> dict[str, Any]:
    api = openai.OpenAI(base_url=proxy.base_url, api_key=key, max_retries=0)
    messages = [{"role": "user", "content": f"[scenario:echo_request] {text}"}]
    answer = api.chat.completions.create(model=model, messages=messages)
    return dict(json.loads(answer.choices[0].message.content or ""))


def test_each_conversation_gets_its_own_prompt_cache_key(
    proxies: tuple[Mitmdump, Mitmdump],
) -> None:
    on, _ = proxies
    alice = echoed(on, "sk-alice", "same first message")
    again = echoed(on, "sk-alice", "same first message")
    bob = echoed(on, "sk-bob", "same first message")
    other = echoed(on, "sk-alice", "another conversation")
    assert alice["prompt_cache_key"] == again["prompt_cache_key"]
    assert alice["prompt_cache_key"] != bob["prompt_cache_key"]  # two users never share one
    assert alice["prompt_cache_key"] != other["prompt_cache_key"]
    api = openai.OpenAI(base_url=on.base_url, api_key="sk-alice", max_retries=0)
    mine = api.chat.completions.create(
        model="gpt-5-codex",
        messages=[{"role": "user", "content": "[scenario:echo_request] x"}],
        extra_body={"prompt_cache_key": "my-own-key"},
    )
    assert json.loads(mine.choices[0].message.content or "")["prompt_cache_key"] == "my-own-key"


def test_later_turns_hit_the_prompt_cache(proxies: tuple[Mitmdump, Mitmdump]) -> None:
    on, _ = proxies
    api = client(on)
    messages: list[Any] = [{"role": "system", "content": "Be brief. " * 200}]
    cached = []
    for turn in range(3):
        messages.append({"role": "user", "content": f"question {turn}"})
        answer = api.chat.completions.create(model="gpt-5-codex", messages=messages)
        usage = answer.usage
        assert usage is not None and usage.prompt_tokens_details is not None
        cached.append((usage.prompt_tokens_details.cached_tokens or 0) / usage.prompt_tokens)
        messages.append({"role": "assistant", "content": answer.choices[0].message.content})
    assert cached[0] == 0 and cached[1] > 0.8 and cached[2] > 0.8, cached


def test_a_socket_closed_between_turns_means_a_full_request(tmp_path: Path) -> None:
    with emulator_subprocess("--ws-max-age", "1") as url:
        options = {"responses_url": url, "responses_rewrite": "all"}
        with run_mitmdump(f"reverse:{origin(url)}", tmp_path, options) as proxy:
            api = client(proxy)
            messages: list[Any] = [{"role": "user", "content": "[scenario:tool] go"}]
            for turn in range(3):
                if turn == 2:
                    time.sleep(1.5)  # the emulator's connection limit passes
                completion = api.chat.completions.create(
                    model="gpt-5.5", messages=messages, tools=TOOLS
                )
                message = completion.choices[0].message
                assert message.tool_calls
                messages.append(message.model_dump(exclude_none=True))
                call_id = message.tool_calls[0].id
                messages.append({"role": "tool", "tool_call_id": call_id, "content": "ok"})
            lines = summaries(proxy, "gpt-5.5 → gpt-5.5", 3)
            assert "continued" in lines[1]
            assert "200" in lines[2] and "continued" not in lines[2]


def test_two_turns_of_one_conversation_in_flight_at_once(
    proxies: tuple[Mitmdump, Mitmdump],
) -> None:
    import concurrent.futures

    on, _ = proxies
    tool_loop(on, "gpt-5.5", 2)  # a kept socket exists
    api = client(on)
    messages = [{"role": "user", "content": "[scenario:tool] same conversation"}]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        futures = [
            pool.submit(
                api.chat.completions.create, model="gpt-5.5", messages=messages, tools=TOOLS
            )
            for _ in range(2)
        ]
        answers = [f.result() for f in futures]
    assert all(a.choices[0].finish_reason == "tool_calls" for a in answers)


def loop_then_echo(proxy: Mitmdump, model: str, turns: int) -> dict[str, Any]:
    """A tool loop of `turns` turns, then a user turn whose answer is the body the upstream
    received for it (the emulator's echo): what really went upstream, not what we say."""
    api = client(proxy)
    messages: list[Any] = [
        {"role": "system", "content": "You are an agent."},
        {"role": "user", "content": f"[scenario:tool] echo loop {time.monotonic_ns()}"},
    ]
    for turn in range(turns):
        completion = api.chat.completions.create(model=model, messages=messages, tools=TOOLS)
        message = completion.choices[0].message
        assert message.tool_calls
        messages.append(message.model_dump(exclude_none=True))
        messages.append(
            {"role": "tool", "tool_call_id": message.tool_calls[0].id, "content": f"r{turn}"}
        )
    messages.append({"role": "user", "content": "[scenario:echo_request] and now?"})
    echo = api.chat.completions.create(model=model, messages=messages, tools=TOOLS)
    return dict(json.loads(echo.choices[0].message.content or ""))


def test_what_the_upstream_received_on_a_continued_turn(proxies: tuple[Mitmdump, Mitmdump]) -> None:
    on, _ = proxies
    received = loop_then_echo(on, "gpt-5.5", 2)
    # It continued: the emulator joined its stored turn with the new items on that socket.
    assert received["previous_response_id"]
    assert received["prompt_cache_key"].startswith("c2r-")
    # The instructions travel as the first input item, and are not sent again.
    first = received["input"][0]
    assert first["role"] == "developer" and "You are an agent." in json.dumps(first)
    assert received["instructions"] == ""
    kinds = [item.get("type", "message") for item in received["input"]]
    assert kinds.count("function_call_output") == 2 and kinds[-1] == "message"


def test_what_the_upstream_received_on_a_stateless_route(
    proxies: tuple[Mitmdump, Mitmdump],
) -> None:
    on, _ = proxies
    received = loop_then_echo(on, "gpt-5-codex", 2)
    assert received.get("previous_response_id") is None
    items = received["input"]
    calls = [i for i, item in enumerate(items) if item.get("type") == "function_call"]
    assert len(calls) == 2
    for index in calls:  # each replayed call right after the reasoning kept from its answer
        before = items[index - 1]
        assert before["type"] == "reasoning" and before["encrypted_content"]
