"""Chat semantics kept end to end, on both routes (gpt-5.5: WebSocket, gpt-5-codex: HTTP): custom
(freeform) tools round-trip, legacy `functions` answered in the legacy shape, `stop` sequences
cut the answer."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.e2e.test_http import client
from tests.proxy_helpers import Mitmdump

MODELS = ["gpt-5.5", "gpt-5-codex"]
PATCH = {
    "type": "custom",
    "custom": {"name": "apply_patch", "description": "Apply a patch to the workspace"},
}
FUNCTIONS = [
    {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
]


@pytest.mark.parametrize("model", MODELS)
def test_a_custom_tool_round_trips(proxy: Mitmdump, model: str) -> None:
    api = client(proxy)
    messages: list[Any] = [{"role": "user", "content": "[scenario:tool] add hello.txt"}]
    first = api.chat.completions.create(model=model, messages=messages, tools=[PATCH])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    assert call.type == "custom"  # OpenAI's own non-streamed shape for a custom tool call
    assert call.custom.name == "apply_patch" and "*** Begin Patch" in call.custom.input
    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "Done!"})
    # The next request carries custom_tool_call / custom_tool_call_output (the upstream refuses
    # function_call items for a tool declared custom): an answer means it did.
    second = api.chat.completions.create(model=model, messages=messages, tools=[PATCH])
    assert second.choices[0].finish_reason == "tool_calls"


@pytest.mark.parametrize("model", MODELS)
def test_a_custom_tool_call_streams_in_a_form_the_sdk_reads(proxy: Mitmdump, model: str) -> None:
    chunks = list(
        client(proxy).chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "[scenario:tool] patch it"}],
            tools=[PATCH],
            stream=True,
        )
    )
    deltas = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or ()]
    assert deltas[0].function and deltas[0].function.name == "apply_patch"
    text = "".join(d.function.arguments or "" for d in deltas if d.function)
    assert text.startswith("*** Begin Patch")
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


@pytest.mark.parametrize("model", MODELS)
def test_legacy_functions_are_answered_in_the_legacy_shape(proxy: Mitmdump, model: str) -> None:
    api = client(proxy)
    messages: list[Any] = [{"role": "user", "content": "[scenario:tool] weather?"}]
    first = api.chat.completions.create(model=model, messages=messages, functions=FUNCTIONS)
    choice = first.choices[0]
    assert choice.finish_reason == "function_call"
    assert choice.message.tool_calls is None
    assert choice.message.function_call is not None
    assert choice.message.function_call.name == "get_weather"
    assert choice.message.function_call.arguments == '{"city": "emulator"}'
    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "function", "name": "get_weather", "content": "sunny"})
    second = api.chat.completions.create(model=model, messages=messages, functions=FUNCTIONS)
    assert second.choices[0].finish_reason == "function_call"
    streamed = list(
        api.chat.completions.create(
            model=model, messages=messages[:1], functions=FUNCTIONS, stream=True
        )
    )
    names = [
        c.choices[0].delta.function_call.name
        for c in streamed
        if c.choices and c.choices[0].delta.function_call
    ]
    assert "get_weather" in names
    assert streamed[-1].choices[0].finish_reason == "function_call"


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("stream", [False, True])
def test_a_stop_sequence_cuts_the_answer(proxy: Mitmdump, model: str, stream: bool) -> None:
    messages: Any = [{"role": "user", "content": "Hi"}]
    api = client(proxy)
    if stream:
        chunks = list(
            api.chat.completions.create(
                model=model,
                messages=messages,
                stop=["emulator"],
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        finish = [c.choices[0].finish_reason for c in chunks if c.choices][-1]
        usage = chunks[-1].usage  # the usage chunk still comes after the cut
    else:
        answer = api.chat.completions.create(model=model, messages=messages, stop="emulator")
        text, finish = answer.choices[0].message.content or "", answer.choices[0].finish_reason
        usage = answer.usage
    assert text == "Hello from the "  # cut before the stop sequence
    assert finish == "stop"
    assert usage is not None and usage.prompt_tokens > 0 and usage.completion_tokens > 0


def test_a_bad_stop_is_a_400(proxy: Mitmdump) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client(proxy).chat.completions.create(
            model="gpt-5.5", messages=[{"role": "user", "content": "Hi"}], stop=["a"] * 5
        )
    assert "stop" in str(caught.value)
