"""conversation.py: the conversation key and the store that plans continuations.

Requests are built by the real `translate_request` from chat bodies; answers come from the
emulator's WebSocket session (sans-I/O), folded by the real `ChatAggregator` into the assistant
message a chat client appends to its history. A continued request is sent to that same session,
which accepts `previous_response_id` only for its last response (as the Codex backend does).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from chat2responses.call.conversation import Continuation, ConversationStore, conversation_key
from chat2responses.call.units import units
from chat2responses.emulator.backend import Emulator, EmulatorConfig
from chat2responses.emulator.session import WebSocketSession
from chat2responses.emulator.steps import Emit
from chat2responses.protocol.wire import ReasoningMode
from chat2responses.request.translate import Translation, translate_request
from chat2responses.response.aggregate import ChatAggregator
from chat2responses.upstream.catalog import Catalog
from chat2responses.upstream.identity import CODEX_CLI_VERSION, parse_version
from chat2responses.upstream.profiles import CODEX, response_create_frame

CATALOG = Catalog.default()
UPSTREAM = "http://127.0.0.1:9/backend-api/codex"
ALICE = hashlib.sha256(b"alice-account").hexdigest()
BOB = hashlib.sha256(b"bob-account").hexdigest()
T0 = 10_000.0

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
TIME = {
    "type": "function",
    "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
}
SYSTEM = {"role": "system", "content": "You are a terse assistant."}


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Socket:
    """A socket handle as the driver would give one: the store only holds it."""

    def __init__(self, usable: bool = True) -> None:
        self.usable = usable


def usable(socket: object) -> bool:
    return isinstance(socket, Socket) and socket.usable


def translate(
    messages: list[dict[str, Any]], *, model: str = "gpt-5.5", **extra: Any
) -> Translation:
    body = {"model": model, "messages": messages, "tools": [WEATHER], **extra}
    return translate_request(body, catalog=CATALOG, profile=CODEX)


def key_of(body: dict[str, Any], credential: str = ALICE) -> str:
    return conversation_key(body, upstream=UPSTREAM, credential=credential)


@dataclass
class Answer:
    response_id: str
    output: list[dict[str, Any]]
    message: dict[str, Any]  # what the chat client appends to its history


CLIENT_VERSION = parse_version(CODEX_CLI_VERSION)


@dataclass
class Upstream:
    """One WebSocket connection to the emulator, and the store's handle for it."""

    clock: Clock
    credential: str = ALICE
    reasoning: ReasoningMode = ReasoningMode.REASONING_CONTENT
    socket: Socket = field(default_factory=Socket)

    def __post_init__(self) -> None:
        emulator = Emulator(EmulatorConfig.default(), clock=self.clock)
        # As the addon's calls to the backend say who they are (upstream/identity.py).
        self.session = WebSocketSession(
            emulator, credential=self.credential, client_version=CLIENT_VERSION
        )
        self.opened_at = self.clock()

    def send(self, translation: Translation, body: dict[str, Any] | None = None) -> Answer:
        frame = response_create_frame(CODEX, body or translation.body, translation.ws_extra)
        reply = self.session.receive_text(json.dumps(frame))
        events = [step.event for step in reply.steps if isinstance(step, Emit)]
        assert events[-1]["type"] == "response.completed", events[-1]
        context = translation.chunk_context(
            chunk_id="chatcmpl-1", created=0, reasoning=self.reasoning
        )
        aggregator = ChatAggregator(context)
        for event in events:
            aggregator.feed(event)
        message = aggregator.finish()["choices"][0]["message"]
        output = [e["item"] for e in events if e["type"] == "response.output_item.done"]
        return Answer(events[-1]["response"]["id"], output, message)

    def seen_input(self) -> list[Any]:
        """The effective input of the session's last response (its chained input included)."""
        assert self.session.last is not None
        return self.session.last.input


def remember(
    store: ConversationStore, up: Upstream, translation: Translation, answer: Answer
) -> None:
    store.remember(
        key_of(translation.body, up.credential),
        upstream=UPSTREAM,
        credential=up.credential,
        body=translation.body,
        response_id=answer.response_id,
        output=answer.output,
        socket=up.socket,
        socket_opened_at=up.opened_at,
    )


def plan(
    store: ConversationStore,
    translation: Translation,
    *,
    credential: str = ALICE,
    socket_usable: Callable[[object], bool] = usable,
) -> Continuation | None:
    body = translation.body
    return store.plan(
        key_of(body, credential),
        body,
        upstream=UPSTREAM,
        credential=credential,
        socket_usable=socket_usable,
    )


def tool_result(answer: Answer, content: str = "18°C and sunny") -> list[dict[str, Any]]:
    return [
        {"role": "tool", "tool_call_id": call["id"], "content": content}
        for call in answer.message["tool_calls"]
    ]


def data(found: list[tuple[bytes, int]]) -> list[bytes]:
    return [unit for unit, _ in found]


# --- the tool loop ------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["gpt-5.5", "gpt-5.6-sol"])  # classic and Responses-Lite
def test_a_three_turn_tool_loop_continues_with_only_the_tool_results(model: str) -> None:
    clock = Clock()
    store = ConversationStore(clock=clock)
    up = Upstream(clock)
    messages = [SYSTEM, {"role": "user", "content": "[scenario:tool] Weather in Paris?"}]
    keys = set()
    for turn in range(3):
        translation = translate(messages, model=model)
        before = copy.deepcopy(translation.body)
        keys.add(key_of(translation.body))
        continuation = plan(store, translation)
        if turn == 0:
            assert continuation is None
            answer = up.send(translation)
        else:
            assert continuation is not None
            assert continuation.socket is up.socket
            assert continuation.previous_response_id == answer.response_id
            # The delta is the tool result only, exactly as translated.
            assert continuation.new_items == translation.body["input"][-1:]
            assert continuation.new_items[0]["type"] == "function_call_output"
            assert continuation.full_items_count == len(translation.body["input"])
            answer = up.send(translation, continuation.body(translation.body))
            # What the upstream saw is what the full request says, reasoning aside.
            assert data(units(up.seen_input())) == data(units(translation.body["input"]))
        assert translation.body == before  # planning never edits the request
        remember(store, up, translation, answer)
        messages = [*messages, answer.message, *tool_result(answer)]
    assert len(keys) == 1  # one conversation keeps one key


def test_text_turns_continue_with_the_new_user_message() -> None:
    clock = Clock()
    store = ConversationStore(clock=clock)
    up = Upstream(clock)
    messages = [{"role": "user", "content": "Hello there"}]
    first = translate(messages)
    answer = up.send(first)
    remember(store, up, first, answer)
    follow_up = {"role": "user", "content": "And then?"}
    second = translate([*messages, {"role": "assistant", "content": answer.message["content"]},
                        follow_up])  # fmt: skip
    continuation = plan(store, second)
    assert continuation is not None
    assert continuation.new_items == [
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "And then?"}],
        }
    ]
    up.send(second, continuation.body(second.body))
    assert data(units(up.seen_input())) == data(units(second.body["input"]))


def test_the_think_mode_history_continues() -> None:
    clock = Clock()
    store = ConversationStore(clock=clock)
    up = Upstream(clock, reasoning=ReasoningMode.THINK)
    messages = [{"role": "user", "content": "[scenario:reasoning] Think first"}]
    first = translate(messages)
    answer = up.send(first)
    assert answer.message["content"].startswith("<think>")
    remember(store, up, first, answer)
    second = translate([*messages, answer.message, {"role": "user", "content": "Thanks"}])
    continuation = plan(store, second)
    assert continuation is not None
    assert len(continuation.new_items) == 1


def test_parallel_calls_answered_in_one_turn_continue() -> None:
    clock = Clock()
    store = ConversationStore(clock=clock)
    up = Upstream(clock)
    messages = [{"role": "user", "content": "[scenario:tools] Weather and time"}]
    first = translate(messages, tools=[WEATHER, TIME])
    answer = up.send(first)
    assert len(answer.message["tool_calls"]) == 2
    remember(store, up, first, answer)
    second = translate([*messages, answer.message, *tool_result(answer)], tools=[WEATHER, TIME])
    continuation = plan(store, second)
    assert continuation is not None
    assert [item["type"] for item in continuation.new_items] == ["function_call_output"] * 2


def test_a_history_whose_arguments_were_re_serialised_continues() -> None:
    """An AI SDK client (opencode) parses a call's arguments and sends them back compact."""
    clock = Clock()
    store = ConversationStore(clock=clock)
    up = Upstream(clock)
    messages = [{"role": "user", "content": "[scenario:tool] Weather in Paris?"}]
    first = translate(messages)
    answer = up.send(first)
    remember(store, up, first, answer)
    replayed = copy.deepcopy(answer.message)
    for call in replayed["tool_calls"]:
        arguments = json.loads(call["function"]["arguments"])
        call["function"]["arguments"] = json.dumps(arguments, separators=(",", ":"))
    assert replayed != answer.message
    continuation = plan(store, translate([*messages, replayed, *tool_result(answer)]))
    assert continuation is not None
    assert [item["type"] for item in continuation.new_items] == ["function_call_output"]


# --- when not to continue -----------------------------------------------------------------------


@dataclass
class Remembered:
    store: ConversationStore
    clock: Clock
    up: Upstream
    messages: list[dict[str, Any]]  # the next turn's history, ready to translate


def remembered_turn(**store_options: Any) -> Remembered:
    clock = Clock()
    store = ConversationStore(clock=clock, **store_options)
    up = Upstream(clock)
    messages = [SYSTEM, {"role": "user", "content": "[scenario:tool] Weather in Paris?"}]
    first = translate(messages)
    answer = up.send(first)
    remember(store, up, first, answer)
    return Remembered(store, clock, up, [*messages, answer.message, *tool_result(answer)])


def _edit_first_user(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    edited = copy.deepcopy(messages)
    edited[1]["content"] = "[scenario:tool] Weather in Lyon?"
    return edited


def _edit_arguments(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    edited = copy.deepcopy(messages)
    edited[2]["tool_calls"][0]["function"]["arguments"] = '{"city": "Lyon"}'  # other meaning
    return edited


def _edit_call_id(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    edited = copy.deepcopy(messages)
    edited[2]["tool_calls"][0]["id"] = "call_other"
    edited[3]["tool_call_id"] = "call_other"
    return edited


def _add_text_to_the_answer(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    edited = copy.deepcopy(messages)
    edited[2]["content"] = "Let me check."
    return edited


def _drop_the_system(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return messages[1:]


def _no_new_item(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return messages[:-1]


EDITS: list[tuple[str, Callable[[list[dict[str, Any]]], list[dict[str, Any]]], dict[str, Any]]] = [
    ("an edited earlier message", _edit_first_user, {}),
    ("tool-call arguments that mean something else", _edit_arguments, {}),
    ("another call id", _edit_call_id, {}),
    ("text the upstream never said", _add_text_to_the_answer, {}),
    ("changed instructions", _drop_the_system, {}),
    ("nothing new after the answer", _no_new_item, {}),
    ("a changed tool list", lambda m: m, {"tools": [WEATHER, TIME]}),
    ("another model", lambda m: m, {"model": "gpt-5.3-codex-spark"}),
    ("another reasoning effort", lambda m: m, {"reasoning_effort": "low"}),
    ("a response format", lambda m: m, {"response_format": {"type": "json_object"}}),
]


@pytest.mark.parametrize(("edit", "extra"), [e[1:] for e in EDITS], ids=[e[0] for e in EDITS])
def test_a_history_or_request_that_differs_is_sent_in_full(
    edit: Callable[[list[dict[str, Any]]], list[dict[str, Any]]], extra: dict[str, Any]
) -> None:
    turn = remembered_turn()
    translation = translate(edit(turn.messages), **extra)
    assert plan(turn.store, translation) is None
    # The record stays for the conversation's real next turn.
    assert plan(turn.store, translate(turn.messages)) is not None


def test_a_busy_or_closed_socket_is_not_continued_on() -> None:
    turn = remembered_turn()
    asked: list[object] = []

    def busy(socket: object) -> bool:
        asked.append(socket)
        return False

    assert plan(turn.store, translate(turn.messages), socket_usable=busy) is None
    assert asked == [turn.up.socket]
    turn.up.socket.usable = False
    assert plan(turn.store, translate(turn.messages)) is None
    turn.up.socket.usable = True
    assert plan(turn.store, translate(turn.messages)) is not None


@pytest.mark.parametrize(("age", "continues"), [(55 * 60 - 1, True), (55 * 60, False)])
def test_a_socket_55_minutes_old_is_not_continued_on(age: float, continues: bool) -> None:
    turn = remembered_turn(idle_ttl=7200.0)
    turn.clock.now += age
    assert (plan(turn.store, translate(turn.messages)) is not None) is continues
    if not continues:
        assert turn.store.evicted() == [turn.up.socket]
        assert len(turn.store) == 0


@pytest.mark.parametrize(("idle", "continues"), [(299.0, True), (300.0, False)])
def test_a_conversation_idle_for_the_ttl_is_forgotten(idle: float, continues: bool) -> None:
    turn = remembered_turn(max_age=10_000.0)
    turn.clock.now += idle
    assert (plan(turn.store, translate(turn.messages)) is not None) is continues
    assert turn.store.evicted() == ([] if continues else [turn.up.socket])


def test_the_idle_ttl_expires_on_evicted_alone() -> None:
    turn = remembered_turn()
    assert turn.store.evicted() == []
    turn.clock.now += 300.0
    assert turn.store.evicted() == [turn.up.socket]
    assert turn.store.evicted() == []  # each handle is returned once


def test_a_plan_takes_the_record_and_remember_puts_the_next_back() -> None:
    turn = remembered_turn()
    second = translate(turn.messages)
    continuation = plan(turn.store, second)
    assert continuation is not None
    assert len(turn.store) == 0
    assert plan(turn.store, second) is None  # spent: one continuation per response
    assert turn.store.evicted() == []  # the socket went with the plan, not to eviction
    answer = turn.up.send(second, continuation.body(second.body))
    remember(turn.store, turn.up, second, answer)
    assert len(turn.store) == 1
    assert turn.store.evicted() == []  # the same socket, remembered again


def test_forget_after_previous_response_not_found() -> None:
    turn = remembered_turn()
    second = translate(turn.messages)
    turn.store.forget(key_of(second.body), upstream=UPSTREAM, credential=ALICE)
    assert plan(turn.store, second) is None
    assert turn.store.evicted() == [turn.up.socket]


def test_disable_stops_continuation_on_that_upstream_only() -> None:
    turn = remembered_turn()
    other = "http://127.0.0.1:8/backend-api/codex"
    turn.store.disable(UPSTREAM)
    assert not turn.store.enabled(UPSTREAM)
    assert turn.store.enabled(other)
    assert plan(turn.store, translate(turn.messages)) is None
    assert turn.store.evicted() == [turn.up.socket]
    first = translate(turn.messages[:2])
    socket = Socket()
    turn.store.remember(
        key_of(first.body),
        upstream=UPSTREAM,
        credential=ALICE,
        body=first.body,
        response_id="resp_1",
        output=[],
        socket=socket,
        socket_opened_at=T0,
    )
    assert len(turn.store) == 0
    assert turn.store.evicted() == [socket]


def test_another_credential_never_continues_on_alices_socket() -> None:
    turn = remembered_turn()
    translation = translate(turn.messages)
    # Even under one client-chosen key, Bob's identical history is not Alice's conversation.
    body = {**translation.body, "prompt_cache_key": "shared"}
    for who in (ALICE, BOB):
        assert key_of(body, who) == "shared"
    assert (
        turn.store.plan("shared", body, upstream=UPSTREAM, credential=BOB, socket_usable=usable)
        is None
    )
    assert plan(turn.store, translation, credential=BOB) is None
    assert plan(turn.store, translation) is not None


def test_a_socket_remembered_for_another_conversation_drops_the_older_record() -> None:
    turn = remembered_turn()
    other = translate([{"role": "user", "content": "Something else"}])
    answer = turn.up.send(other)
    remember(turn.store, turn.up, other, answer)  # same socket: its server state moved on
    assert len(turn.store) == 1
    assert plan(turn.store, translate(turn.messages)) is None
    assert turn.store.evicted() == []  # the socket is still held, by the newer record


def test_least_recently_remembered_go_first_and_their_sockets_are_returned() -> None:
    clock = Clock()
    store = ConversationStore(cap=2, clock=clock)
    sockets = [Socket() for _ in range(3)]
    bodies = [translate([{"role": "user", "content": f"chat {i}"}]).body for i in range(3)]
    for body, socket in zip(bodies, sockets, strict=True):
        clock.now += 1
        store.remember(
            key_of(body),
            upstream=UPSTREAM,
            credential=ALICE,
            body=body,
            response_id="resp_x",
            output=[],
            socket=socket,
            socket_opened_at=clock.now,
        )
    assert len(store) == 2
    assert store.evicted() == [sockets[0]]


# --- the key ------------------------------------------------------------------------------------


def test_two_credentials_with_identical_first_messages_get_different_keys() -> None:
    body = translate([SYSTEM, {"role": "user", "content": "hi"}]).body
    assert key_of(body, ALICE) != key_of(body, BOB)
    assert key_of(body, ALICE).startswith("c2r-")
    assert len(key_of(body, ALICE)) == 4 + 32
    other_upstream = conversation_key(body, upstream="https://chatgpt.com", credential=ALICE)
    assert other_upstream != key_of(body, ALICE)


def test_the_clients_own_prompt_cache_key_is_used_as_is() -> None:
    body = translate([{"role": "user", "content": "hi"}], prompt_cache_key="thread-42").body
    assert key_of(body) == "thread-42"


KEY_CHANGES: list[tuple[str, list[dict[str, Any]], dict[str, Any]]] = [
    ("another first message", [SYSTEM, {"role": "user", "content": "bye"}], {}),
    ("other instructions", [{"role": "user", "content": "hi"}], {}),
    ("another model", [SYSTEM, {"role": "user", "content": "hi"}], {"model": "gpt-5.6-sol"}),
    ("other tools", [SYSTEM, {"role": "user", "content": "hi"}], {"tools": [TIME]}),
]


@pytest.mark.parametrize(
    ("messages", "extra"), [c[1:] for c in KEY_CHANGES], ids=[c[0] for c in KEY_CHANGES]
)
def test_what_fixes_a_conversation_changes_its_key(
    messages: list[dict[str, Any]], extra: dict[str, Any]
) -> None:
    base = translate([SYSTEM, {"role": "user", "content": "hi"}]).body
    assert key_of(translate(messages, **extra).body) != key_of(base)


@pytest.mark.parametrize("model", ["gpt-5.5", "gpt-5.6-sol"])
def test_later_turns_and_options_keep_the_key(model: str) -> None:
    messages = [SYSTEM, {"role": "user", "content": "hi"}]
    first = translate(messages, model=model).body
    later = translate(
        [*messages, {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "x"}],
        model=model,
        reasoning_effort="high",
    ).body
    assert key_of(first) == key_of(later)


def test_a_lite_key_covers_the_instructions_and_tools_items() -> None:
    messages = [SYSTEM, {"role": "user", "content": "hi"}]
    lite = translate(messages, model="gpt-5.6-sol").body
    assert [item["type"] for item in lite["input"][:2]] == ["additional_tools", "message"]
    other_system = translate(
        [{"role": "system", "content": "Other"}, messages[1]], model="gpt-5.6-sol"
    ).body
    other_tools = translate(messages, model="gpt-5.6-sol", tools=[TIME]).body
    assert len({key_of(lite), key_of(other_system), key_of(other_tools)}) == 3


def test_a_responses_shaped_body_with_a_string_input_has_a_key() -> None:
    body = translate_request(
        {"model": "gpt-5.5", "input": "hi"}, catalog=CATALOG, profile=CODEX
    ).body
    same = translate_request(
        {"model": "gpt-5.5", "input": "hi", "stream": True}, catalog=CATALOG, profile=CODEX
    ).body
    assert key_of(body) == key_of(same)


def keep(store: ConversationStore, key: str, socket: object, opened_at: float) -> None:
    store.remember(
        key,
        upstream=UPSTREAM,
        credential="c",
        body={"model": "m", "input": [{"role": "user", "content": "hi"}]},
        response_id="resp_1",
        output=[],
        socket=socket,
        socket_opened_at=opened_at,
    )


@pytest.mark.parametrize(
    ("kept", "now", "expected"),
    [
        ([], 0.0, None),
        ([("a", 0.0, 0.0)], 0.0, 300.0),  # idles out first
        ([("a", 0.0, 0.0)], 100.0, 200.0),
        ([("a", 0.0, 0.0)], 400.0, 0.0),  # past due: at once
        ([("a", 10.0, -3200.0)], 10.0, 90.0),  # its socket reaches 55 minutes first
        ([("a", 0.0, 0.0), ("b", 50.0, 50.0)], 60.0, 240.0),  # the first remembered
    ],
)
def test_expires_in_says_when_the_first_record_goes(
    kept: list[tuple[str, float, float]], now: float, expected: float | None
) -> None:
    moments = iter([at for _, at, _ in kept] + [now])
    store = ConversationStore(clock=lambda: next(moments))
    for key, _, opened in kept:
        keep(store, key, object(), opened)
    assert store.expires_in() == expected
