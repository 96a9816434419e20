"""`previous_response_id` on an upstream that stores nothing (call/chains.py), as tables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from chat2responses.call.chains import ResponseChains, as_items, chained, sent_back
from chat2responses.protocol.errors import ClientError


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


REASONING = {"id": "rs_1", "type": "reasoning", "summary": [], "encrypted_content": "sealed"}
MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "status": "completed",
    "content": [{"type": "output_text", "text": "Hi", "annotations": []}],
}
CALL = {
    "id": "fc_1",
    "type": "function_call",
    "status": "completed",
    "call_id": "call_1",
    "name": "f",
    "arguments": "{}",
}


def test_an_answer_goes_back_as_a_client_sends_it() -> None:
    unsealed = {"id": "rs_2", "type": "reasoning", "summary": []}
    assert sent_back([REASONING, unsealed, MESSAGE, CALL, "junk"]) == [
        {"type": "reasoning", "summary": [], "encrypted_content": "sealed"},
        {"type": "message", "role": "assistant",
         "content": [{"type": "output_text", "text": "Hi", "annotations": []}]},
        {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "stores", "previous"),
    [
        ({"input": "hi"}, False, None),
        ({"previous_response_id": "resp_1"}, False, "resp_1"),
        ({"previous_response_id": "resp_1", "store": True}, False, "resp_1"),  # cannot store
        ({"previous_response_id": "resp_1", "store": True}, True, None),  # the upstream has it
        ({"previous_response_id": "resp_1"}, True, "resp_1"),  # store defaults to false here
        ({"previous_response_id": None}, False, None),
    ],
)
def test_which_chained_requests_the_addon_resolves(
    body: dict[str, Any], stores: bool, previous: str | None
) -> None:
    assert chained(body, upstream_stores=stores) == previous


@pytest.mark.parametrize("bad", [42, "", ["resp_1"]])
def test_a_previous_response_id_that_is_not_an_id_is_a_400(bad: Any) -> None:
    with pytest.raises(ClientError) as caught:
        chained({"previous_response_id": bad}, upstream_stores=False)
    assert caught.value.status == 400 and caught.value.param == "previous_response_id"


def test_three_turns_chained_by_id_are_made_whole() -> None:
    chains = ResponseChains(clock=Clock())
    first = as_items("one")
    chains.keep("alice", "resp_1", first, [REASONING, MESSAGE])
    body = {"model": "m", "previous_response_id": "resp_1", "input": [user("two")],
            "instructions": "new"}  # fmt: skip
    second = chains.expand("alice", body, "resp_1")
    assert second == {
        "model": "m",
        "instructions": "new",  # a previous response's instructions are not carried over
        "input": [user("one"), *sent_back([REASONING, MESSAGE]), user("two")],
    }
    chains.keep("alice", "resp_2", second["input"], [CALL])
    third = chains.expand("alice", {"previous_response_id": "resp_2", "input": "three"}, "resp_2")
    assert third["input"] == [*second["input"], *sent_back([CALL]), user("three")]
    assert third["input"][0] is first[0]  # shared, not copied


def _not_found(chains: ResponseChains, credential: str, previous: str) -> ClientError:
    with pytest.raises(ClientError) as caught:
        chains.expand(credential, {"previous_response_id": previous, "input": "x"}, previous)
    return caught.value


def test_an_unknown_id_is_a_400_that_says_responses_are_kept_for_a_while() -> None:
    chains = ResponseChains(clock=Clock())
    chains.keep("alice", "resp_1", as_items("one"), [MESSAGE])
    err = _not_found(chains, "bob", "resp_1")  # another credential's answer is not found
    assert (err.status, err.code, err.param) == (400, "previous_response_not_found",
                                                 "previous_response_id")  # fmt: skip
    assert "Previous response with id 'resp_1' not found" in err.message
    assert "keeps the responses it served for 60 minutes" in err.message
    assert _not_found(chains, "alice", "resp_9").code == "previous_response_not_found"


def test_a_link_unused_for_an_hour_is_forgotten_and_use_keeps_it() -> None:
    clock = Clock()
    chains = ResponseChains(clock=clock)
    chains.keep("alice", "resp_1", as_items("one"), [MESSAGE])
    chains.keep("alice", "resp_2", as_items("two"), [MESSAGE])
    clock.now += 3000
    chains.expand("alice", {"input": "x"}, "resp_1")  # used: its hour starts again
    clock.now += 600
    _not_found(chains, "alice", "resp_2")
    chains.expand("alice", {"input": "x"}, "resp_1")
    assert len(chains) == 1


def test_links_are_bounded_per_credential_and_in_all() -> None:
    chains = ResponseChains(per_credential=2, cap=3, clock=Clock())
    for n in range(3):
        chains.keep("alice", f"resp_a{n}", [], [])
    _not_found(chains, "alice", "resp_a0")  # alice's oldest went
    chains.keep("bob", "resp_b0", [], [])
    chains.keep("bob", "resp_b1", [], [])
    assert len(chains) == 3
    _not_found(chains, "alice", "resp_a1")  # the oldest of all went
    chains.expand("bob", {"input": "x"}, "resp_b0")
