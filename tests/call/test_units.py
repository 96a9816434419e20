"""units.py: how a chat client's replay compares with the upstream's output (rules 1 and 2).

The client side of every comparison is built by the addon's own `translate_messages` from chat
messages; the upstream side is literal items shaped like the emulator's.
"""

from __future__ import annotations

from typing import Any

import pytest

from chat2responses.call.units import assistant_runs, is_empty_answer, replayed, units
from tests.replay_helpers import CUSTOM, WEB_SEARCH, call, client, fc, msg, rs


def data(items: list[Any]) -> list[bytes]:
    return [unit for unit, _ in units(items)]


# (what the chat client replays, what the upstream returned)
SAME: list[tuple[str, list[Any], list[Any]]] = [
    ("string content vs output_text parts", client({"role": "assistant", "content": "Hello"}),
     [msg("Hello")]),
    ("text split in parts", client({"role": "assistant", "content": [
        {"type": "text", "text": "Hel"}, {"type": "text", "text": "lo"}]}), [msg("Hello")]),
    ("an easy message", [{"role": "assistant", "content": "Hello"}], [msg("Hello")]),
    ("commentary and answer joined by a blank line",
     client({"role": "assistant", "content": "Let me look.\n\nIt is sunny."}),
     [msg("Let me look.", phase="commentary"), msg("It is sunny.", phase="final_answer")]),
    ("a think block", client({"role": "assistant", "content": "<think>Hmm.\n\nOk</think>Hello"}),
     [rs(), msg("Hello")]),
    ("a think block before calls", client({"role": "assistant",
     "content": "<think>Hmm</think>", "tool_calls": [call("call_1")]}), [rs(), fc("call_1")]),
    ("white space around the text", client({"role": "assistant", "content": "Hello\n"}),
     [msg("Hello")]),
    ("a refusal", client({"role": "assistant", "content": None, "refusal": "No."}),
     [msg("No.", kind="refusal")]),
    ("calls with ids, status and reasoning",
     client({"role": "assistant", "content": None, "tool_calls": [call("c1"), call("c2")]}),
     [rs(), fc("c1"), fc("c2")]),
    ("text then calls, whichever came first", client({"role": "assistant",
     "content": "Checking.", "tool_calls": [call("c1")]}), [fc("c1"), msg("Checking.")]),
    # An AI SDK client (opencode) parses the arguments and re-serialises them.
    ("arguments re-spaced", client({"role": "assistant", "tool_calls": [
        call("c1", '{"city":"Paris"}')]}), [fc("c1")]),
    ("arguments with their keys in another order", client({"role": "assistant", "tool_calls": [
        call("c1", '{"b": [1, {"y": 2, "x": 1}], "a": null}')]}),
     [fc("c1", '{"a":null,"b":[1,{"x":1,"y":2}]}')]),
    ("a Responses client's exact replay", [rs(), msg("Hi"), fc("c1")], [rs(), msg("Hi"), fc("c1")]),
    ("a custom tool call", client({"role": "assistant", "tool_calls": [
        call("call_p", "*** Begin Patch", "apply_patch")]}, custom=frozenset({"apply_patch"})),
     [CUSTOM]),
]  # fmt: skip

DIFFERENT: list[tuple[str, list[Any], list[Any]]] = [
    ("other text", client({"role": "assistant", "content": "Hello!"}), [msg("Hello")]),
    ("text dropped", client({"role": "assistant", "tool_calls": [call("c1")]}),
     [msg("Checking."), fc("c1")]),
    ("arguments that say something else", client({"role": "assistant", "tool_calls": [
        call("c1", '{"city":"Lyon"}')]}), [fc("c1")]),
    ("arguments that do not parse, re-spaced", client({"role": "assistant", "tool_calls": [
        call("c1", '{"city":  "Paris"')]}), [fc("c1", '{"city": "Paris"')]),
    ("arguments as a JSON string vs the same text raw", client({"role": "assistant",
     "tool_calls": [call("c1", '"x"')]}), [fc("c1", "x")]),
    ("another call id", client({"role": "assistant", "tool_calls": [call("c9")]}), [fc("c1")]),
    ("another name", client({"role": "assistant", "tool_calls": [call("c1", name="get_time")]}),
     [fc("c1")]),
    ("calls in another order", client({"role": "assistant", "tool_calls": [call("c2"),
     call("c1")]}), [fc("c1"), fc("c2")]),
    ("one call missing", client({"role": "assistant", "tool_calls": [call("c1")]}),
     [fc("c1"), fc("c2")]),
    ("a custom call replayed as a function", client({"role": "assistant", "tool_calls": [
        call("call_p", "*** Begin Patch", "apply_patch")]}), [CUSTOM]),
    ("a hosted tool's item a chat client never sees",
     client({"role": "assistant", "content": "Found it."}), [WEB_SEARCH, msg("Found it.")]),
]  # fmt: skip


@pytest.mark.parametrize(("replay", "output"), [c[1:] for c in SAME], ids=[c[0] for c in SAME])
def test_a_faithful_replay_compares_equal(replay: list[Any], output: list[Any]) -> None:
    assert data(replay) == data(replayed(output))


@pytest.mark.parametrize(
    ("replay", "output"), [c[1:] for c in DIFFERENT], ids=[c[0] for c in DIFFERENT]
)
def test_an_unfaithful_replay_differs(replay: list[Any], output: list[Any]) -> None:
    assert data(replay) != data(replayed(output))


def test_replayed_output_carries_no_server_metadata() -> None:
    assert replayed([rs(), msg("Hi", phase="commentary"), fc("c1"), CUSTOM]) == [
        {"type": "message", "role": "assistant",
         "content": [{"type": "output_text", "text": "Hi"}]},
        {"type": "function_call", "call_id": "c1", "name": "get_weather",
         "arguments": '{"city": "Paris"}'},
        {"type": "custom_tool_call", "call_id": "call_p", "name": "apply_patch",
         "input": "*** Begin Patch"},
    ]  # fmt: skip


USER_TEXT = [{"type": "input_text", "text": "hi"}]
OTHER_ITEMS: list[tuple[str, Any, Any, bool]] = [
    ("string content vs input_text", {"role": "user", "content": "hi"},
     {"type": "message", "role": "user", "content": USER_TEXT}, True),
    ("ids and status", {"type": "function_call_output", "call_id": "c1", "output": "x"},
     {"type": "function_call_output", "call_id": "c1", "output": "x", "id": "fco_1",
      "status": "completed"}, True),
    ("another output", {"type": "function_call_output", "call_id": "c1", "output": "x"},
     {"type": "function_call_output", "call_id": "c1", "output": "y"}, False),
    ("another role", {"role": "user", "content": "hi"}, {"role": "developer", "content": "hi"},
     False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("one", "other", "same"), [c[1:] for c in OTHER_ITEMS], ids=[c[0] for c in OTHER_ITEMS]
)
def test_other_items_compare_without_server_metadata(one: Any, other: Any, same: bool) -> None:
    assert (data([one]) == data([other])) is same


def test_units_end_after_their_last_item_and_skip_reasoning() -> None:
    items = [{"role": "user", "content": "hi"}, rs(), msg("A"), rs(), fc("c1"), rs()]
    assert [end for _, end in units(items)] == [1, 5]


EMPTY: list[tuple[str, list[Any], bool]] = [
    ("nothing", [], True),
    ("reasoning only", [rs()], True),
    ("an empty message", [msg("")], True),
    ("text", [rs(), msg("Hi")], False),
    ("a call", [fc("c1")], False),
]


@pytest.mark.parametrize(("output", "empty"), [c[1:] for c in EMPTY], ids=[c[0] for c in EMPTY])
def test_is_empty_answer(output: list[Any], empty: bool) -> None:
    assert is_empty_answer(output) is empty


def test_assistant_runs_are_found_in_order() -> None:
    user = {"role": "user", "content": "hi"}
    items = [user, msg("a"), rs(), fc("c1"), user, fc("c2"), msg("b")]
    assert assistant_runs(items) == [(1, 2), (3, 4), (5, 7)]
    assert assistant_runs([user]) == []
