"""replay.py: the reasoning cache that gives stateless clients their encrypted reasoning back, and
their custom tool calls in their own shape.

The upstream side is literal items shaped like the emulator's, or the emulator's own output
(`play`), sealed for a credential so that the emulator's check says whether a replayed item
would be accepted.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import pytest

from chat2responses.call.replay import ReasoningCache
from chat2responses.call.shared import Table, shared_name
from chat2responses.emulator.backend import Caller, Emulator, EmulatorConfig
from chat2responses.emulator.replies import Turn
from chat2responses.emulator.rules import Transport
from chat2responses.emulator.scenarios import play
from chat2responses.emulator.signing import ReasoningSealer, check_reasoning_items, secret_for
from chat2responses.emulator.steps import Emit, Reject, Step
from chat2responses.request.translate import translate_request
from chat2responses.upstream.catalog import Catalog
from chat2responses.upstream.profiles import CODEX
from tests.replay_helpers import call, client, fc, msg, rs

CATALOG = Catalog.default()
ALICE = hashlib.sha256(b"alice-account").hexdigest()
BOB = hashlib.sha256(b"bob-account").hexdigest()
SECRET = secret_for("emulator")  # the emulator's default seed

# --- the reasoning cache ------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def translated(messages: list[dict[str, Any]]) -> dict[str, Any]:
    body = {"model": "gpt-5.5", "messages": messages, "tools": [WEATHER]}
    return translate_request(body, catalog=CATALOG, profile=CODEX).body


def emulated(body: dict[str, Any], credential: str, response_id: str) -> list[dict[str, Any]]:
    """The emulator's output items for `body`, reasoning sealed for `credential`."""
    turn = Turn(sealer=ReasoningSealer(SECRET, credential))
    steps = play(body, response_id=response_id, created_at=0, turn=turn)
    return [
        step.event["item"]
        for step in steps
        if isinstance(step, Emit) and step.event["type"] == "response.output_item.done"
    ]


def chat_message(output: list[dict[str, Any]]) -> dict[str, Any]:
    """The assistant message a chat client keeps of `output` (no reasoning)."""
    calls = [call(i["call_id"], i["arguments"], i["name"]) for i in output if "call_id" in i]
    texts = [i["content"][0]["text"] for i in output if i["type"] == "message"]
    message: dict[str, Any] = {"role": "assistant", "content": "\n\n".join(texts) or None}
    return message | ({"tool_calls": calls} if calls else {})


def accepted(body: dict[str, Any], credential: str) -> bool:
    steps: list[Step] = Emulator(EmulatorConfig.default()).respond(
        body, Transport.WEBSOCKET, Caller(credential)
    )
    return not any(isinstance(step, Reject) for step in steps)


USER = {"role": "user", "content": "[scenario:tools] Weather in Paris and Lyon?"}


def tool_turn(cache: ReasoningCache) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Turn 1 answered with reasoning and two calls (kept); turn 2's history and body."""
    output = emulated(translated([USER]), ALICE, "resp_t1")
    assert [i["type"] for i in output] == ["reasoning", "function_call", "function_call"]
    assert cache.keep(ALICE, output) == 2  # one key per call
    answer = chat_message(output)
    results = [{"role": "tool", "tool_call_id": c["id"], "content": "sunny"} for c in answer[
        "tool_calls"]]  # fmt: skip
    return output, translated([USER, answer, *results])


def test_replay_puts_the_reasoning_right_before_its_tool_calls() -> None:
    cache = ReasoningCache(clock=Clock())
    output, body = tool_turn(cache)
    given = body["input"]
    before = copy.deepcopy(given)
    items, count = cache.replay(ALICE, given)
    assert count == 1
    assert given == before  # never mutated
    assert [i["type"] for i in items] == [
        "message", "reasoning", "function_call", "function_call", "function_call_output",
        "function_call_output",
    ]  # fmt: skip
    assert items[1] == {
        "type": "reasoning",
        "summary": output[0]["summary"],
        "encrypted_content": output[0]["encrypted_content"],
    }
    assert check_reasoning_items(items, ReasoningSealer(SECRET, ALICE)) is None
    assert accepted({**body, "input": items}, ALICE)


def test_replay_never_crosses_credentials() -> None:
    cache = ReasoningCache(clock=Clock())
    _, body = tool_turn(cache)
    items, count = cache.replay(BOB, body["input"])
    assert count == 0
    assert items == body["input"]
    assert items is not body["input"]
    # Why it matters: Alice's sealed item in Bob's request is refused.
    alices, _ = cache.replay(ALICE, body["input"])
    assert not accepted({**body, "input": alices}, BOB)


def test_a_text_answer_is_found_by_its_text_also_through_a_think_block() -> None:
    cache = ReasoningCache(clock=Clock())
    first = [{"role": "user", "content": "[scenario:reasoning] Why?"}]
    output = emulated(translated(first), ALICE, "resp_t2")
    assert cache.keep(ALICE, output) == 1
    text = chat_message(output)["content"]
    for shown in (text, f"<think>{output[0]['summary'][0]['text']}</think>{text}"):
        body = translated([*first, {"role": "assistant", "content": shown}, USER])
        items, count = cache.replay(ALICE, body["input"])
        assert count == 1
        assert [i["type"] for i in items] == ["message", "reasoning", "message", "message"]
        assert accepted({**body, "input": items}, ALICE)


def test_a_turn_already_preceded_by_reasoning_gets_none() -> None:
    cache = ReasoningCache(clock=Clock())
    _, body = tool_turn(cache)
    with_reasoning, _ = cache.replay(ALICE, body["input"])
    again, count = cache.replay(ALICE, with_reasoning)
    assert count == 0
    assert again == with_reasoning


def test_each_known_turn_gets_its_own_reasoning() -> None:
    cache = ReasoningCache(clock=Clock())
    one = [rs("blob-1"), fc("c1")]
    two = [rs("blob-2a"), msg("Let me check."), rs("blob-2b"), fc("c2"), rs("after the calls")]
    assert cache.keep(ALICE, one) == 1
    assert cache.keep(ALICE, two) == 1
    history = client(
        {"role": "assistant", "tool_calls": [call("c1")]},
        {"role": "tool", "tool_call_id": "c1", "content": "x"},
        {"role": "assistant", "content": "Let me check.", "tool_calls": [call("c2")]},
        {"role": "tool", "tool_call_id": "c2", "content": "y"},
    )
    items, count = cache.replay(ALICE, history)
    assert count == 3
    blobs = [i.get("encrypted_content") for i in items]
    assert blobs == ["blob-1", None, None, "blob-2a", "blob-2b", None, None, None]
    assert all("id" not in i for i in items if i["type"] == "reasoning")


KEEP_NOTHING: list[tuple[str, list[Any]]] = [
    ("no reasoning", [msg("Hi")]),
    ("reasoning without encrypted content", [{"type": "reasoning", "summary": []}, fc("c1")]),
    ("reasoning after the last call", [fc("c1"), rs()]),
    ("reasoning and no answer", [rs()]),
]


@pytest.mark.parametrize("output", [c[1] for c in KEEP_NOTHING], ids=[c[0] for c in KEEP_NOTHING])
def test_what_is_not_kept(output: list[Any]) -> None:
    cache = ReasoningCache(clock=Clock())
    assert cache.keep(ALICE, output) == 0
    assert len(cache) == 0


def test_forget_drops_the_refused_items_of_that_credential_only() -> None:
    cache = ReasoningCache(clock=Clock())
    _, body = tool_turn(cache)
    cache.keep(BOB, [rs(emulated(translated([USER]), ALICE, "resp_t1")[0]["encrypted_content"]),
                     fc("call_bob")])  # fmt: skip
    items, _ = cache.replay(ALICE, body["input"])
    assert cache.forget(ALICE, items) == 2  # both calls' keys
    assert cache.replay(ALICE, body["input"]) == (body["input"], 0)
    assert len(cache) == 1  # Bob's entry stays


def test_entries_live_ttl_seconds_since_last_use() -> None:
    clock = Clock()
    cache = ReasoningCache(ttl=100.0, clock=clock)
    _, body = tool_turn(cache)
    clock.now += 99.0
    assert cache.replay(ALICE, body["input"])[1] == 1  # used: lives on
    clock.now += 99.0
    assert cache.replay(ALICE, body["input"])[1] == 1
    clock.now += 100.0
    assert cache.replay(ALICE, body["input"])[1] == 0
    assert len(cache) == 0


def test_least_recently_used_entries_go_first() -> None:
    cache = ReasoningCache(cap=2, clock=Clock())
    for n in range(2):
        cache.keep(ALICE, [rs(f"blob-{n}"), fc(f"c{n}")])
    replays = [client({"role": "assistant", "tool_calls": [call(f"c{n}")]}) for n in range(3)]
    assert cache.replay(ALICE, replays[0])[1] == 1  # c0 used: c1 is now the oldest
    cache.keep(ALICE, [rs("blob-2"), fc("c2")])
    assert len(cache) == 2
    assert [cache.replay(ALICE, r)[1] for r in replays] == [1, 0, 1]


def test_replayed_items_are_copies() -> None:
    cache = ReasoningCache(clock=Clock())
    cache.keep(ALICE, [rs("blob"), fc("c1")])
    replay = client({"role": "assistant", "tool_calls": [call("c1")]})
    items, _ = cache.replay(ALICE, replay)
    items[0]["encrypted_content"] = "edited"
    assert cache.replay(ALICE, replay)[0][0]["encrypted_content"] == "blob"


# --- rule 4: custom tool calls come back as custom tool calls ------------------------------------

CUSTOM_CALL = {"type": "custom_tool_call", "call_id": "call_p", "name": "apply_patch", "input": "P"}
AS_FUNCTION = {
    "type": "function_call",
    "call_id": "call_p",
    "name": "apply_patch",
    "arguments": "P",
}
ITS_OUTPUT = {"type": "function_call_output", "call_id": "call_p", "output": "done"}
OTHER = {"type": "function_call", "call_id": "call_f", "name": "f", "arguments": "{}"}


def test_a_replayed_custom_call_is_a_custom_call_again_with_or_without_tools() -> None:
    now = [0.0]
    cache = ReasoningCache(ttl=100, clock=lambda: now[0])
    cache.keep("cred", [CUSTOM_CALL])  # no reasoning: the call id is kept all the same
    body = {"model": "m", "input": [AS_FUNCTION, ITS_OUTPUT, OTHER]}
    restored = cache.restore_custom_calls("cred", body)
    assert restored["input"] == [
        {"type": "custom_tool_call", "call_id": "call_p", "name": "apply_patch", "input": "P"},
        {"type": "custom_tool_call_output", "call_id": "call_p", "output": "done"},
        OTHER,
    ]
    assert body["input"][0] is AS_FUNCTION  # the given body is never changed
    assert cache.restore_custom_calls("someone-else", body) is body  # per credential
    now[0] = 101.0
    assert cache.restore_custom_calls("cred", body) is body  # forgotten after the ttl


def test_custom_call_ids_are_bounded() -> None:
    cache = ReasoningCache(cap=2)
    for n in range(3):
        cache.keep("cred", [{**CUSTOM_CALL, "call_id": f"call_{n}"}])
    body = {"input": [{**AS_FUNCTION, "call_id": "call_0"}, {**AS_FUNCTION, "call_id": "call_2"}]}
    kinds = [item["type"] for item in cache.restore_custom_calls("cred", body)["input"]]
    assert kinds == ["function_call", "custom_tool_call"]


# --- shared state (rule 5) -----------------------------------------------------------------------


class Recorder:
    """A `Backing` that remembers what it was told."""

    def __init__(self) -> None:
        self.told: list[tuple[str, Table, str, Any]] = []

    def put(self, table: Table, name: str, value: Any) -> None:
        self.told.append(("put", table, name, value))

    def drop(self, table: Table, name: str) -> None:
        self.told.append(("drop", table, name, None))


def test_what_is_kept_is_told_to_the_backing_and_another_cache_replays_it_alike() -> None:
    backing = Recorder()
    here = ReasoningCache(clock=Clock(), backing=backing)
    _, body = tool_turn(here)
    puts = [t for t in backing.told if t[0] == "put"]
    assert len(puts) == 2 and {t[1] for t in puts} == {Table.REASONING}
    assert all("sealed" not in name and ALICE not in name for _, _, name, _ in puts)

    there = ReasoningCache(clock=Clock())  # another instance: nothing kept locally
    wanted = there.wanted(ALICE, body["input"])
    assert len(wanted) == 2 and wanted == [k for k in wanted if k.startswith("call:")]
    assert here.wanted(ALICE, body["input"]) == []  # this one has it all
    pulled = {name: value for _, _, name, value in puts}
    for key in wanted:
        assert there.absorb(ALICE, key, pulled[shared_name(ALICE, key)])
    assert there.wanted(ALICE, body["input"]) == []
    assert there.replay(ALICE, body["input"]) == here.replay(ALICE, body["input"])


@pytest.mark.parametrize(
    "value",
    [None, [], "x", [{"type": "message"}], [{"type": "reasoning", "encrypted_content": ""}]],
)
def test_a_pulled_value_that_is_not_kept_reasoning_is_refused(value: Any) -> None:
    cache = ReasoningCache(clock=Clock())
    assert not cache.absorb(ALICE, "call:x", value)
    assert len(cache) == 0


def test_forgetting_a_refused_item_drops_it_from_the_backing_too() -> None:
    backing = Recorder()
    cache = ReasoningCache(clock=Clock(), backing=backing)
    _, body = tool_turn(cache)
    replayed_items, _ = cache.replay(ALICE, body["input"])
    assert cache.forget(ALICE, replayed_items) == 2
    drops = [t for t in backing.told if t[0] == "drop"]
    assert {t[2] for t in drops} == {t[2] for t in backing.told if t[0] == "put"}
