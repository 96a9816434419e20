"""`POST /v1/responses` and `GET /v1/models` through a real mitmdump, with the openai SDK.

Responses-native clients get the same machinery as chat clients (profile rules, auth, transport
and fallback, retries), and their answer in the Responses format: gpt-5.5 goes over the
WebSocket, gpt-5-codex over HTTP, both answered as Responses SSE or a final Response.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import openai
import pytest

from chat2responses.upstream.catalog_layers import embedded_catalog
from tests.e2e.test_http import GREETING
from tests.emulator_helpers import emulator_subprocess
from tests.proxy_helpers import Mitmdump, run_mitmdump

MODELS = ["gpt-5.5", "gpt-5-codex"]  # the WebSocket route, the HTTP route
TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def client(proxy: Mitmdump) -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy.base_url, api_key="sk-test", max_retries=0)


@pytest.mark.parametrize("model", MODELS)
def test_responses_create(proxy: Mitmdump, model: str) -> None:
    response = client(proxy).responses.create(model=model, input="Hello")
    assert response.output_text == GREETING + "Hello"
    assert response.status == "completed"
    assert response.usage is not None and response.usage.output_tokens > 0


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("model", MODELS)
def test_the_summary_line_counts_the_tokens(proxy: Mitmdump, model: str, stream: bool) -> None:
    """As a chat call's does: from the Responses usage the answer ends with."""
    text = f"Count my tokens ({model}, stream={stream}) " * (37 if stream else 41)
    api = client(proxy)
    if stream:
        with api.responses.stream(model=model, input=text) as events:
            usage = events.get_final_response().usage
    else:
        usage = api.responses.create(model=model, input=text).usage
    assert usage is not None
    cached = usage.input_tokens_details.cached_tokens
    cache = f" ({cached} cached)" if cached else ""
    tokens = f"tokens {usage.input_tokens} in{cache} / {usage.output_tokens} out"
    deadline = time.monotonic() + 5
    while not any(f"{model} → {model} (" in line and tokens in line for line in proxy.lines):
        assert time.monotonic() < deadline, f"{tokens!r} not in {proxy.log[-3000:]}"
        time.sleep(0.02)


@pytest.mark.parametrize("model", MODELS)
def test_responses_stream(proxy: Mitmdump, model: str) -> None:
    with client(proxy).responses.stream(model=model, input="Stream me") as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert "response.output_text.delta" in kinds
    assert final.output_text == GREETING + "Stream me"


@pytest.mark.parametrize("model", MODELS)
def test_a_tool_round_trip(proxy: Mitmdump, model: str) -> None:
    api = client(proxy)
    first = api.responses.create(
        model=model, input="[scenario:tool] weather in Paris?", tools=[TOOL]
    )
    calls = [item for item in first.output if item.type == "function_call"]
    assert calls and calls[0].name == "get_weather"
    follow_up: list[Any] = [
        {"role": "user", "content": "[scenario:tool] weather in Paris?"},
        *[item.model_dump(exclude_none=True) for item in first.output],
        {"type": "function_call_output", "call_id": calls[0].call_id, "output": "sunny"},
    ]
    second = api.responses.create(model=model, input=follow_up, tools=[TOOL])
    assert second.status == "completed" and second.output  # the upstream took the tool result


def test_an_early_upstream_error_keeps_its_status(proxy: Mitmdump) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        client(proxy).responses.create(model="gpt-5.5", input="[scenario:rate_limit]")
    assert caught.value.status_code == 429


@pytest.mark.parametrize("model", MODELS)
def test_a_streamed_error_after_only_the_preamble_keeps_its_status(
    proxy: Mitmdump, model: str
) -> None:
    """`response.created` is not output: a rate-limit `error` event right after it is a 429
    before any byte, as on the chat path, not a 200 stream carrying the error."""
    with pytest.raises(openai.APIStatusError) as caught:
        client(proxy).responses.create(model=model, input="[scenario:error_event]", stream=True)
    assert caught.value.status_code == 429


@pytest.mark.parametrize("model", MODELS)
def test_a_streamed_overload_before_output_is_retried_out_of_sight(
    proxy: Mitmdump, model: str
) -> None:
    stream = client(proxy).responses.create(
        model=model, input=f"[scenario:overload_once] {model} {time.time()}", stream=True
    )
    kinds = [event.type for event in stream]
    assert kinds.count("response.created") == 1  # one response, the retry's
    assert "error" not in kinds and kinds[-1] == "response.completed"


def test_models_are_listed_and_looked_up(proxy: Mitmdump) -> None:
    api = client(proxy)
    ids = [model.id for model in api.models.list()]
    assert "gpt-5.5" in ids
    model = api.models.retrieve("gpt-5.5")
    assert model.id == "gpt-5.5" and model.object == "model"
    extra: dict[str, Any] = json.loads(model.model_dump_json())
    assert extra["context_window"] > 0
    with pytest.raises(openai.NotFoundError):
        api.models.retrieve("no-such-model")


def test_the_upstreams_own_catalog_is_fetched_and_listed(tmp_path: Path) -> None:
    models = json.loads(embedded_catalog())
    models["models"].append({"slug": "gpt-7-emulated", "prefer_websockets": True})
    file = tmp_path / "models.json"
    file.write_text(json.dumps(models))
    with emulator_subprocess("--models-file", str(file)) as url:
        options = {"responses_url": url, "responses_rewrite": "all"}
        origin = url.split("/backend-api")[0]
        with run_mitmdump(f"reverse:{origin}", tmp_path, options) as proxy:
            api = client(proxy)
            deadline = time.monotonic() + 10
            while "gpt-7-emulated" not in [m.id for m in api.models.list()]:
                assert time.monotonic() < deadline, proxy.log[-2000:]
                time.sleep(0.1)
            # and it is a model like any other: the catalog says WebSocket
            answer = api.responses.create(model="gpt-7-emulated", input="hi")
            assert answer.output_text == GREETING + "hi"
            proxy.wait_for_log("websocket · 200 · ")
            proxy.wait_for_log("gpt-7-emulated → gpt-7-emulated (catalog prefers it)")


@pytest.mark.parametrize("model", ["gpt-5.6-terra", "gpt-5.6-luna"])
def test_a_lite_model_is_sent_in_the_lite_shape_and_answered(proxy: Mitmdump, model: str) -> None:
    # The emulator refuses a Lite model whose request lacks the marker or has top-level tools or
    # instructions: an answer means the shape was right, over the WebSocket (the catalog's route).
    api = client(proxy)
    tools: Any = [{"type": "function", "function": {k: v for k, v in TOOL.items() if k != "type"}}]
    messages: Any = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "[scenario:tool] weather?"},
    ]
    answer = api.chat.completions.create(model=model, messages=messages, tools=tools)
    assert answer.choices[0].message.tool_calls
    assert answer.choices[0].message.tool_calls[0].function.name == "get_weather"
    text = api.chat.completions.create(
        model=model, messages=[messages[0], {"role": "user", "content": "hi"}]
    )
    assert text.choices[0].message.content == GREETING + "hi"


def test_a_lite_model_refuses_a_hosted_tool_before_anything_goes_upstream(proxy: Mitmdump) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client(proxy).responses.create(
            model="gpt-5.6-sol", input="search", tools=[{"type": "web_search"}]
        )
    assert "tools[0]" in str(caught.value)


def test_a_retired_model_is_sent_under_its_alias_and_says_so(proxy: Mitmdump) -> None:
    answer = client(proxy).responses.create(model="gpt-5.4", input="hi")
    assert answer.output_text == GREETING + "hi"
    proxy.wait_for_log("gpt-5.4 is retired; sent as gpt-5.6-terra")
    proxy.wait_for_log("gpt-5.4 → gpt-5.6-terra (")


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("model", MODELS)
def test_three_turns_chained_by_previous_response_id(
    proxy: Mitmdump, model: str, stream: bool
) -> None:
    """The upstream stores nothing: the proxy kept each answer and sends every turn whole, or
    continued on the kept socket where the answer lives (the WebSocket route)."""
    api = client(proxy)
    tag = f"chain {model} {stream} {time.monotonic_ns()}"
    since = len(proxy.lines)
    previous: str | None = None
    for turn in ("one", "two", "[scenario:echo_request] three"):
        text = f"{tag} {turn}"
        if stream:
            with api.responses.stream(
                model=model,
                input=text,
                previous_response_id=previous,  # type: ignore[arg-type]
            ) as events:
                response = events.get_final_response()
        else:
            response = api.responses.create(model=model, input=text, previous_response_id=previous)
        previous = response.id
    upstream = json.loads(response.output_text)  # what the upstream got for the third turn
    said = [
        part if isinstance(part, str) else part["text"]
        for item in upstream["input"]
        if item.get("role") in ("user", "assistant")
        for part in (item["content"] if isinstance(item["content"], list) else [item["content"]])
    ]
    assert [t for t in said if tag in t] == [
        f"{tag} one",
        GREETING + f"{tag} one",
        f"{tag} two",
        GREETING + f"{tag} two",
        f"{tag} [scenario:echo_request] three",
    ]
    summaries = logged(proxy, since, f"{model} → {model} (", 3)
    continued = [line for line in summaries if " · continued " in line]
    assert len(continued) == (2 if model == "gpt-5.5" else 0), summaries


def test_an_id_the_proxy_does_not_keep_is_a_400_that_says_so(proxy: Mitmdump) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client(proxy).responses.create(
            model="gpt-5.5", input="again", previous_response_id="resp_never_served"
        )
    error = caught.value.response.json()["error"]
    assert error["code"] == "previous_response_not_found"
    assert error["param"] == "previous_response_id"
    assert "keeps the responses it served for 60 minutes" in error["message"]


def logged(proxy: Mitmdump, since: int, needle: str, count: int) -> list[str]:
    deadline = time.monotonic() + 5
    while True:
        found = [line for line in proxy.lines[since:] if needle in line]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.02)
