"""Third-party clients through a real mitmdump: LangChain's `ChatOpenAI`, LiteLLM and the Vercel
AI SDK, each used as its documentation shows with the proxy's `/v1` as its base URL, on the
WebSocket route (gpt-5.5) and the HTTP route (gpt-5-codex).

LangChain and LiteLLM send codex-named models to `/v1/responses` and the others to
`/v1/chat/completions`, so both of the addon's front doors are driven; the Vercel AI SDK picks
by provider (`openai.chat(model)`: Chat Completions, `openai(model)`: Responses). Which one a
client used shows in the id of its answer (`resp_…` or `chatcmpl-…`). The openai SDK itself is
covered by test_http.py (chat) and test_responses.py (responses).
"""

from __future__ import annotations

import json
import operator
import subprocess
from collections.abc import Callable, Iterator
from functools import reduce
from types import ModuleType
from typing import Any

import openai
import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_openai import ChatOpenAI

from tests.clients_helpers import (
    EXPECTED_CALL,
    FOLLOW_UP,
    GREETING,
    MODELS,
    NODE_DIR,
    QUESTION,
    TOOL_RESULT,
    assert_round_trip_upstream,
    close_litellm_clients,
    ensure_node_modules,
    load_litellm,
    wait_for_route,
)
from tests.e2e.test_http import TOOLS
from tests.proxy_helpers import Mitmdump

# Which API LangChain and LiteLLM choose by default: the Responses API for codex-named models.
CLIENT_API = {"gpt-5-codex": "responses", "gpt-5.5": "chat"}
ID_PREFIX = {"responses": "resp_", "chat": "chatcmpl-"}
# pyproject turns warnings into errors; LiteLLM's streaming builds a pydantic model from its own
# TypedDicts, and pydantic warns about them. Not ours to fix.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Item .* is using the `ReadOnly` qualifier:UserWarning"
)


# ---- LangChain ----------------------------------------------------------------------------


def get_weather(city: str) -> str:
    """Weather for a city."""
    return TOOL_RESULT


def chat_model(proxy: Mitmdump, model: str) -> ChatOpenAI:
    return ChatOpenAI(model=model, base_url=proxy.base_url, api_key="sk-test")


def langchain_api(message: BaseMessage) -> str:
    """The API LangChain parsed `message` from: a Response object, or a chat completion."""
    metadata = message.response_metadata
    if metadata.get("object") == "response":
        return "responses"
    return "chat" if "finish_reason" in metadata else "unknown"


@pytest.mark.parametrize("model", MODELS)
def test_langchain_invoke(proxy: Mitmdump, model: str) -> None:
    since = len(proxy.lines)
    message = chat_model(proxy, model).invoke("Hello")
    assert message.text == GREETING + "Hello"
    assert langchain_api(message) == CLIENT_API[model]
    assert message.response_metadata["id"].startswith(ID_PREFIX[CLIENT_API[model]])
    wait_for_route(proxy, since, model)


@pytest.mark.parametrize("model", MODELS)
def test_langchain_stream(proxy: Mitmdump, model: str) -> None:
    since = len(proxy.lines)
    chunks = list(chat_model(proxy, model).stream("Stream me"))
    message = reduce(operator.add, chunks)
    assert message.text == GREETING + "Stream me"
    assert len([chunk for chunk in chunks if chunk.text]) > 1
    assert langchain_api(message) == CLIENT_API[model]
    wait_for_route(proxy, since, model)


@pytest.mark.parametrize("stream", [False, True], ids=["invoke", "stream"])
@pytest.mark.parametrize("model", MODELS)
def test_langchain_tool_round_trip(proxy: Mitmdump, model: str, stream: bool) -> None:
    since = len(proxy.lines)
    llm = chat_model(proxy, model).bind_tools([get_weather])
    question = HumanMessage(QUESTION)
    first: AIMessage = (
        reduce(operator.add, llm.stream([question])) if stream else llm.invoke([question])
    )
    assert [(call["name"], call["args"]) for call in first.tool_calls] == [EXPECTED_CALL]
    assert langchain_api(first) == CLIENT_API[model]
    call_id = first.tool_calls[0]["id"]
    assert call_id
    answer = llm.invoke(
        [question, first, ToolMessage(TOOL_RESULT, tool_call_id=call_id), HumanMessage(FOLLOW_UP)]
    )
    assert answer.tool_calls == []
    assert_round_trip_upstream(answer.text, call_id)
    wait_for_route(proxy, since, model, count=2)


def test_langchain_sees_the_websocket_only_refusal(http_proxy: Mitmdump) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        chat_model(http_proxy, "gpt-5.5").invoke("hi")
    assert "routing_unsupported" in str(caught.value)
    assert "responses_transport=http" in str(caught.value)


# ---- LiteLLM ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def litellm() -> Iterator[ModuleType]:
    module = load_litellm()
    yield module
    close_litellm_clients(module)


def completion(litellm: ModuleType, proxy: Mitmdump, model: str, **kwargs: Any) -> Any:
    return litellm.completion(
        model=f"openai/{model}", api_base=proxy.base_url, api_key="sk-test", **kwargs
    )


def ask(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


@pytest.mark.parametrize("model", MODELS)
def test_litellm_completion(litellm: ModuleType, proxy: Mitmdump, model: str) -> None:
    since = len(proxy.lines)
    response = completion(litellm, proxy, model, messages=ask("Hello"))
    assert response.choices[0].message.content == GREETING + "Hello"
    assert response.choices[0].finish_reason == "stop"
    assert response.id.startswith(ID_PREFIX[CLIENT_API[model]])
    assert response.usage.completion_tokens > 0
    wait_for_route(proxy, since, model)


@pytest.mark.parametrize("model", MODELS)
def test_litellm_streamed_completion(litellm: ModuleType, proxy: Mitmdump, model: str) -> None:
    since = len(proxy.lines)
    chunks = list(completion(litellm, proxy, model, messages=ask("Stream me"), stream=True))
    deltas = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert "".join(deltas) == GREETING + "Stream me"
    assert len(deltas) > 1
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert [reason for reason in finishes if reason] == ["stop"]
    wait_for_route(proxy, since, model)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("model", MODELS)
def test_litellm_tool_round_trip(
    litellm: ModuleType, proxy: Mitmdump, model: str, stream: bool
) -> None:
    since = len(proxy.lines)
    messages = ask(QUESTION)
    if stream:
        chunks = list(
            completion(litellm, proxy, model, messages=messages, tools=TOOLS, stream=True)
        )
        first = litellm.stream_chunk_builder(chunks, messages=messages)
    else:
        first = completion(litellm, proxy, model, messages=messages, tools=TOOLS)
    assert first.choices[0].finish_reason == "tool_calls"
    message = first.choices[0].message
    calls = [(c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls]
    assert calls == [EXPECTED_CALL]
    call_id = message.tool_calls[0].id
    messages += [
        message.model_dump(),
        {"role": "tool", "tool_call_id": call_id, "content": TOOL_RESULT},
        *ask(FOLLOW_UP),
    ]
    answer = completion(litellm, proxy, model, messages=messages, tools=TOOLS)
    assert answer.choices[0].finish_reason == "stop"
    assert not answer.choices[0].message.tool_calls
    assert_round_trip_upstream(answer.choices[0].message.content, call_id)
    wait_for_route(proxy, since, model, count=2)


def test_litellm_sees_the_websocket_only_refusal(litellm: ModuleType, http_proxy: Mitmdump) -> None:
    with pytest.raises(litellm.BadRequestError) as caught:
        completion(litellm, http_proxy, "gpt-5.5", messages=ask("hi"))
    assert "routing_unsupported" in str(caught.value)


# ---- the Vercel AI SDK (Node) -------------------------------------------------------------

PROVIDERS = ["chat", "responses"]  # openai.chat(model), openai(model)


@pytest.fixture(scope="module")
def vercel_ai(proxy: Mitmdump) -> Callable[[str, str], dict[str, Any]]:
    """Runs tests/node/vercel_ai.mjs once per provider and model (generateText, streamText and
    a tool round trip, four calls) and keeps what it printed."""
    node = ensure_node_modules()
    results: dict[tuple[str, str], dict[str, Any]] = {}

    def run(provider: str, model: str) -> dict[str, Any]:
        if (provider, model) not in results:
            since = len(proxy.lines)
            script = NODE_DIR / "vercel_ai.mjs"
            done = subprocess.run(
                [node, str(script), proxy.base_url, provider, model],
                capture_output=True,
                text=True,
                timeout=60,
                cwd=NODE_DIR,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            results[provider, model] = json.loads(done.stdout)
            wait_for_route(proxy, since, model, count=4)
        return results[provider, model]

    return run


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_vercel_generate_text(
    vercel_ai: Callable[[str, str], dict[str, Any]], provider: str, model: str
) -> None:
    result = vercel_ai(provider, model)
    assert result["text"] == GREETING + "Hello"
    assert result["responseId"].startswith(ID_PREFIX[provider])


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_vercel_stream_text(
    vercel_ai: Callable[[str, str], dict[str, Any]], provider: str, model: str
) -> None:
    deltas = vercel_ai(provider, model)["deltas"]
    assert "".join(deltas) == GREETING + "Stream me"
    assert len(deltas) > 1


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_vercel_tool_round_trip(
    vercel_ai: Callable[[str, str], dict[str, Any]], provider: str, model: str
) -> None:
    result = vercel_ai(provider, model)
    assert [(c["name"], c["input"]) for c in result["toolCalls"]] == [EXPECTED_CALL]
    assert result["finishReason"] == "tool-calls"
    assert_round_trip_upstream(result["echo"], result["toolCalls"][0]["id"])
