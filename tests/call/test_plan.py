"""What `plan_call` decides of a client request (call/plan.py): the parts issue "real agents"
added — the retries a call may make, and who calls."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from chat2responses.call.giving_up import Client
from chat2responses.call.job import CallJob
from chat2responses.call.plan import CallState, ClientRequest, Context, plan_call
from chat2responses.call.policy import Attempt, Route
from chat2responses.protocol.errors import ClientError
from chat2responses.settings import RewriteMode, Settings
from chat2responses.upstream.catalog import Catalog
from chat2responses.upstream.routing import CallKind

URL = "http://127.0.0.1:9/backend-api/codex"
SETTINGS = Settings(responses_url=URL, rewrite=RewriteMode.ALL, retries=2)
CATALOG = Catalog.default()
CODEX_UA = (b"user-agent", b"codex_exec/0.171.0 (Debian 12.0.0; x86_64) xterm")


def context() -> Context:
    return Context(
        login=None,
        account=lambda headers: "acct",
        now=lambda: datetime(2026, 12, 7, tzinfo=UTC),
        chunk_id="chatcmpl-x",
        created=1,
    )


def planned(
    body: dict[str, Any],
    state: CallState,
    *,
    kind: CallKind = CallKind.RESPONSES,
    fields: tuple[tuple[bytes, bytes], ...] = (),
) -> CallJob:
    path = "/v1/responses" if kind is CallKind.RESPONSES else "/v1/chat/completions"
    request = ClientRequest(kind, path, "http://127.0.0.1:8080", json.dumps(body).encode(), fields)
    job = plan_call(request, settings=SETTINGS, catalog=CATALOG, state=state, context=context())
    assert job is not None
    return job


BODY = {"model": "gpt-5.5", "input": "hi", "stream": True}


def test_a_request_whose_retries_were_used_up_makes_none_when_sent_again() -> None:
    state = CallState()
    first = planned(BODY, state)
    assert first.plan.retries == 2 and first.budget is state.budgets
    state.budgets.used_up(first.budget_key)
    again = planned(BODY, state)
    assert again.budget_key == first.budget_key and again.plan.retries == 0
    other = planned({**BODY, "input": "another"}, state)
    assert other.budget_key != first.budget_key and other.plan.retries == 2


@pytest.mark.parametrize(
    ("fields", "client"),
    [((CODEX_UA,), Client.CODEX), (((b"originator", b"codex_exec"),), Client.CODEX),
     (((b"user-agent", b"OpenAI/Python 2.8.1"),), Client.OTHER), ((), Client.OTHER)],
)  # fmt: skip
def test_the_client_is_known_from_the_request_headers(
    fields: tuple[tuple[bytes, bytes], ...], client: Client
) -> None:
    assert planned(BODY, CallState(), fields=fields).client is client


def _answered(job: CallJob, response_id: str, text: str) -> None:
    """The upstream answered `job` with `text` (its turn saw the events)."""
    assert job.turn is not None
    item = {"type": "message", "role": "assistant",
            "content": [{"type": "output_text", "text": text}]}  # fmt: skip
    job.turn.observe({"type": "response.output_item.done", "output_index": 0, "item": item})
    response = {"id": response_id, "output": [item]}
    job.turn.observe({"type": "response.completed", "response": response})
    job.turn.finished(Attempt(Route.HTTP, False, "first"))


def _texts(job: CallJob) -> list[str]:
    texts = []
    for item in job.body["input"]:
        if item.get("role") not in ("user", "assistant"):
            continue
        content = item["content"]
        texts += [content] if isinstance(content, str) else [part["text"] for part in content]
    return texts


@pytest.mark.parametrize("model", ["gpt-5.5", "gpt-5-codex"], ids=["websocket", "http"])
def test_three_turns_chained_by_previous_response_id_are_sent_whole(model: str) -> None:
    state = CallState()
    first = planned({"model": model, "input": "one", "stream": True}, state)
    _answered(first, "resp_1", "Hi")
    second = planned(
        {"model": model, "input": "two", "previous_response_id": "resp_1", "stream": True}, state
    )
    assert "previous_response_id" not in second.body
    _answered(second, "resp_2", "Again")
    third = planned(
        {"model": model, "input": [{"role": "user", "content": "three"}],
         "previous_response_id": "resp_2", "stream": True},
        state,
    )  # fmt: skip
    assert _texts(third)[-5:] == ["one", "Hi", "two", "Again", "three"]


def test_an_id_the_proxy_never_served_is_a_400() -> None:
    with pytest.raises(ClientError) as caught:
        planned({"model": "gpt-5.5", "input": "x", "previous_response_id": "resp_x"}, CallState())
    assert caught.value.status == 400 and caught.value.code == "previous_response_not_found"


def test_a_chat_call_is_never_chained() -> None:
    state = CallState()
    job = planned(
        {"model": "gpt-5.5", "messages": [{"role": "user", "content": "hi"}]},
        state,
        kind=CallKind.CHAT,
    )
    assert job.turn is not None and job.turn.chain is None
