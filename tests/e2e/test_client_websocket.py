"""A client's Responses WebSocket on `/v1/responses`, through a real mitmdump: the openai SDK's
`responses.connect()` chaining three turns by `previous_response_id` on one socket, on both
upstream routes; frames the proxy cannot serve; the client leaving mid-answer."""

from __future__ import annotations

import json
import time
from typing import Any

import openai
import pytest
from websockets.sync.client import connect

from tests.e2e.test_http import GREETING
from tests.e2e.test_responses import MODELS, logged
from tests.proxy_helpers import Mitmdump


def ws_url(proxy: Mitmdump) -> str:
    return proxy.base_url.replace("http://", "ws://") + "/responses"


def answer(connection: Any, **create: Any) -> Any:
    """Send one `response.create` and read its events up to the terminal one."""
    connection.response.create(**create)
    for event in connection:
        if event.type in ("response.completed", "response.failed", "error"):
            return event
    raise AssertionError("the socket closed before the answer ended")


@pytest.mark.parametrize("model", MODELS)
def test_three_turns_chained_on_one_socket(proxy: Mitmdump, model: str) -> None:
    api = openai.OpenAI(base_url=proxy.base_url, api_key="sk-test", max_retries=0)
    tag = f"socket {model} {time.monotonic_ns()}"
    since = len(proxy.lines)
    with api.responses.connect() as connection:
        previous = None
        for turn in ("one", "two", "[scenario:echo_request] three"):
            extra = {"previous_response_id": previous} if previous else {}
            done = answer(connection, model=model, input=f"{tag} {turn}", **extra)
            assert done.type == "response.completed", done
            previous = done.response.id
    upstream = json.loads(done.response.output[0].content[0].text)
    said = [
        item["content"] if isinstance(item["content"], str) else item["content"][0]["text"]
        for item in upstream["input"]
        if item.get("role") in ("user", "assistant")
    ]
    assert [text for text in said if tag in text] == [
        f"{tag} one",
        GREETING + f"{tag} one",
        f"{tag} two",
        GREETING + f"{tag} two",
        f"{tag} [scenario:echo_request] three",
    ]
    summaries = logged(proxy, since, f"{model} → {model} (", 3)
    assert len(summaries) == 3 and all(line.split(" · ")[1] == "200" for line in summaries)
    continued = [line for line in summaries if " · continued " in line]
    assert len(continued) == (2 if model == "gpt-5.5" else 0), summaries
    assert "refused (405)" not in "\n".join(proxy.lines[since:])


@pytest.mark.parametrize("model", MODELS)
def test_a_warm_up_stays_a_warm_up_and_the_next_turn_chains_from_it(
    proxy: Mitmdump, model: str
) -> None:
    """The Codex CLI's prewarm (`generate: false`): on the WebSocket route the upstream's own; on
    the HTTP route, where it would be a whole generation, answered by the proxy. Either way no
    output, and the next turn continues from its id with the warm-up's input."""
    api = openai.OpenAI(base_url=proxy.base_url, api_key="sk-test", max_retries=0)
    tag = f"warm {model} {time.monotonic_ns()}"
    with api.responses.connect() as connection:
        warm = answer(connection, model=model, input=f"{tag} context", generate=False)
        assert warm.type == "response.completed", warm
        assert warm.response.output == []
        done = answer(
            connection,
            model=model,
            input=f"{tag} [scenario:echo_request] go",
            previous_response_id=warm.response.id,
        )
    assert done.type == "response.completed", done
    upstream = json.loads(done.response.output[0].content[0].text)
    assert "generate" not in upstream
    said = [
        item["content"] if isinstance(item["content"], str) else item["content"][0]["text"]
        for item in upstream["input"]
        if item.get("role") == "user"
    ]
    assert [text for text in said if tag in text][-2:] == [
        f"{tag} context",
        f"{tag} [scenario:echo_request] go",
    ] or upstream.get("previous_response_id") == warm.response.id


def test_a_frame_it_cannot_serve_is_an_error_frame_and_the_socket_stays(proxy: Mitmdump) -> None:
    with connect(ws_url(proxy), additional_headers={"authorization": "Bearer sk-test"}) as ws:
        ws.send(json.dumps({"type": "response.cancel"}))
        error = json.loads(ws.recv(timeout=10))
        assert error["type"] == "error" and error["status"] == 400
        assert error["error"]["param"] == "type"
        ws.send(json.dumps({"type": "response.create", "model": "gpt-5.5", "input": "after"}))
        events = []
        while not events or events[-1]["type"] != "response.completed":
            events.append(json.loads(ws.recv(timeout=10)))
        assert events[0]["type"] == "response.created"


def test_an_upstream_failure_is_an_error_frame_with_its_status(proxy: Mitmdump) -> None:
    with connect(ws_url(proxy), additional_headers={"authorization": "Bearer sk-test"}) as ws:
        body = {"model": "gpt-5-codex", "input": f"[scenario:http_error:418] {time.time()}"}
        ws.send(json.dumps({"type": "response.create", **body}))
        error = json.loads(ws.recv(timeout=10))
        assert error["type"] == "error" and error["status"] == 418


def test_leaving_mid_answer_closes_the_upstream(proxy: Mitmdump) -> None:
    since = len(proxy.lines)
    with connect(ws_url(proxy), additional_headers={"authorization": "Bearer sk-test"}) as ws:
        body = {"model": "gpt-5.5", "input": f"[scenario:slow:300] leaving {time.time()}"}
        ws.send(json.dumps({"type": "response.create", **body}))
        assert json.loads(ws.recv(timeout=10))["type"] == "response.created"
    closed = logged(proxy, since, "closed (1001)", 1)  # going away: we left first
    assert closed, "\n".join(proxy.lines[since:])
