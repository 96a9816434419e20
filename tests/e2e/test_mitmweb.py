"""What a person sees in mitmweb after two rewritten calls, read through mitmweb's own HTTP API.

A real mitmweb (reverse proxy, the addon loaded from its entry script) sits in front of the
emulator. One streamed call goes over the WebSocket route (gpt-5.5: the emulator refuses it over
HTTP), one over the HTTP route (gpt-5-codex). Each call leaves two flows: the client's (its own
chat request, the chat stream it received, a comment that starts with the route) and the upstream
leg (the Responses request and events, addressed to the emulator — never to the loopback bridge).
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import openai
import pytest

from tests.emulator_helpers import emulator_subprocess
from tests.mitmweb_helpers import Flow, Mitmweb, run_mitmweb

WS_MODEL, WS_PROMPT = "gpt-5.5", "[scenario:reasoning] Why is the sky blue?"
HTTP_MODEL, HTTP_PROMPT = "gpt-5-codex", "Say hello to mitmweb"
CHAT_PATH = "/v1/chat/completions"


@dataclass
class Shown:
    web: Mitmweb
    emulator: urllib.parse.SplitResult
    answers: dict[str, str]  # model → the text the client assembled from its stream
    chat: dict[str, Flow]  # model → the client's flow
    legs: list[Flow]  # the upstream legs

    @property
    def ws_leg(self) -> Flow:
        (leg,) = [f for f in self.legs if f.get("websocket")]
        return leg

    @property
    def http_leg(self) -> Flow:
        (leg,) = [f for f in self.legs if not f.get("websocket")]
        return leg


def stream_answer(web: Mitmweb, model: str, prompt: str) -> str:
    with (
        openai.OpenAI(base_url=web.base_url, api_key="sk-local", max_retries=0, timeout=20) as c,
        c.chat.completions.create(
            model=model,
            stream=True,
            messages=[{"role": "user", "content": prompt}],
            stream_options={"include_usage": True},
        ) as stream,
    ):
        return "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)


def _settled(flows: list[Flow]) -> bool:
    """Both calls are over: two commented client flows and their two upstream legs."""
    chat = [f for f in flows if f["request"]["path"] == CHAT_PATH and f.get("comment")]
    return len(chat) == 2 and len(flows) == 4


@pytest.fixture(scope="module")
def shown(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shown]:
    confdir = tmp_path_factory.mktemp("mitmweb")
    with emulator_subprocess() as emulator_url, run_mitmweb(emulator_url, confdir) as web:
        answers = {
            WS_MODEL: stream_answer(web, WS_MODEL, WS_PROMPT),
            HTTP_MODEL: stream_answer(web, HTTP_MODEL, HTTP_PROMPT),
        }
        flows = web.wait_for_flows(_settled)
        chat = {model_of(f): f for f in flows if f["request"]["path"] == CHAT_PATH}
        legs = [f for f in flows if f["request"]["path"] != CHAT_PATH]
        yield Shown(web, urllib.parse.urlsplit(emulator_url), answers, chat, legs)


def model_of(flow: Flow) -> str:
    """The model a client flow asked for, as its comment says (`… · gpt-5.5 → gpt-5.5 …`)."""
    found = re.search(r" · (\S+) → ", flow["comment"])
    assert found is not None, flow["comment"]
    return found[1]


def _json(data: bytes) -> Any:
    return json.loads(data)


def test_the_client_got_its_answers(shown: Shown) -> None:
    assert "You said: " + WS_PROMPT in shown.answers[WS_MODEL]
    assert "You said: " + HTTP_PROMPT in shown.answers[HTTP_MODEL]
    assert set(shown.chat) == {WS_MODEL, HTTP_MODEL}


@pytest.mark.parametrize(("model", "route"), [(WS_MODEL, "websocket"), (HTTP_MODEL, "http")])
def test_client_flow_comment_starts_with_the_route_and_has_no_mark(
    shown: Shown, model: str, route: str
) -> None:
    flow = shown.chat[model]
    summary = flow["comment"].splitlines()[0]
    pattern = (
        rf"{route} · 200 · first token [\d.]+ ms · cached \d+ % · full · "
        rf"{re.escape(model)} → {re.escape(model)} \([^)]+\) · [\d.]+ ms \(c2r [\d.]+ ms, "
        r"upstream [\d.]+ ms\) · tokens \d+ in"
    )
    assert re.match(pattern, summary), summary
    assert not flow["marked"]  # no emoji: the route is the comment's first word


@pytest.mark.parametrize(("model", "prompt"), [(WS_MODEL, WS_PROMPT), (HTTP_MODEL, HTTP_PROMPT)])
def test_client_flow_keeps_the_chat_request_and_the_chat_stream(
    shown: Shown, model: str, prompt: str
) -> None:
    flow = shown.chat[model]
    request = flow["request"]
    assert (request["method"], request["path"]) == ("POST", CHAT_PATH)
    sent = _json(shown.web.body(flow["id"], "request"))
    assert sent["model"] == model
    assert sent["messages"] == [{"role": "user", "content": prompt}]
    assert "input" not in sent

    assert flow["response"]["status_code"] == 200
    received = shown.web.body(flow["id"], "response")
    assert b'"object":"chat.completion.chunk"' in received
    assert received.rstrip().endswith(b"data: [DONE]")
    chunks = [
        json.loads(line.removeprefix(b"data: "))
        for line in received.splitlines()
        if line.startswith(b"data: {")
    ]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == shown.answers[model]


def test_upstream_legs_point_at_the_emulator_not_the_bridge(shown: Shown) -> None:
    assert len(shown.legs) == 2
    for flow in [*shown.legs, *shown.chat.values()]:
        request = flow["request"]
        assert (request["host"], request["port"]) == (shown.emulator.hostname, shown.emulator.port)
        assert "bridge" not in request["path"]
    for leg in shown.legs:
        assert leg["request"]["path"] == shown.emulator.path + "/responses"


def test_websocket_leg_carries_the_response_create_frame_and_the_events(shown: Shown) -> None:
    leg = shown.ws_leg
    assert leg["request"]["method"] == "GET"
    assert leg["response"]["status_code"] == 101
    assert leg["comment"].startswith("websocket 1 · 1 turn on this socket · upstream leg of")
    messages = shown.web.content(leg["id"], "messages", "raw")
    assert len(messages) > 2
    first, *events = messages
    assert first["from_client"] is True
    create = json.loads(first["text"])
    assert create["type"] == "response.create"
    assert create["model"] == WS_MODEL
    assert WS_PROMPT in json.dumps(create["input"])
    assert all(m["from_client"] is False for m in events)
    types = [json.loads(m["text"])["type"] for m in events]
    assert types[0] == "response.created"
    assert types[-1] == "response.completed"
    assert "response.reasoning_summary_text.delta" in types


def test_http_leg_carries_the_responses_request_and_sse(shown: Shown) -> None:
    leg = shown.http_leg
    assert leg["request"]["method"] == "POST"
    assert leg["comment"] == f"http · upstream leg of {HTTP_MODEL}"
    body = _json(shown.web.body(leg["id"], "request"))
    assert body["model"] == HTTP_MODEL
    assert HTTP_PROMPT in json.dumps(body["input"])
    assert "messages" not in body
    assert leg["response"]["status_code"] == 200
    content_type = dict(leg["response"]["headers"])["content-type"]
    assert content_type.startswith("text/event-stream")
    events = shown.web.body(leg["id"], "response")
    assert events.startswith(b"event: response.created\n")
    assert b"event: response.completed\n" in events


@pytest.mark.parametrize("model", [WS_MODEL, HTTP_MODEL])
def test_chat_stream_view_shows_the_answer(shown: Shown, model: str) -> None:
    view = shown.web.content(shown.chat[model]["id"], "response")
    assert view["view_name"] == "Chat stream", view
    assert shown.answers[model] in view["text"]


def test_responses_events_view_shows_the_upstream_answer(shown: Shown) -> None:
    view = shown.web.content(shown.http_leg["id"], "response")
    assert view["view_name"] == "Responses events", view
    assert shown.answers[HTTP_MODEL] in view["text"]
    assert "completed" in view["text"]


def test_websocket_leg_messages_use_the_responses_events_view(shown: Shown) -> None:
    messages = shown.web.content(shown.ws_leg["id"], "messages")
    assert {m["view_name"] for m in messages} == {"Responses events"}
    assert '"type": "response.create"' in messages[0]["text"]
    # The terminal event's rendering is the transcript of the whole leg.
    assert shown.answers[WS_MODEL] in messages[-1]["text"]
    assert "completed" in messages[-1]["text"]
