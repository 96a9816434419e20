"""The scripted replies: what a scenario reads from the request (`Ask`, `Turn`), the text helpers
and the scenarios that answer (text, reasoning, tool calls, an agent's turn, refusal, long, cut
short, the Codex backend's habits).

An agent's turn: `agent:N` (agent.py: the client's own tool called once per response, N times in
all, then an answer quoting its last output).

Codex backend notes: `sequential_cutoff` (reasoning summary text only in
`response.reasoning_summary_text.done`, no deltas), `safety_buffering` (the
`x-codex-safety-buffering-*` headers over HTTP and a `response.metadata` event).

Must not choose the scenario (triggers.py) or fail on purpose (faults.py).
Pure: no I/O, no clock. Replies are deterministic given the request and the response id.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chat2responses.emulator.agent import agent_call, answer, outputs_since_user
from chat2responses.emulator.builder import ItemEnd, PartKind, ResponseWriter
from chat2responses.emulator.rules import Rejection
from chat2responses.emulator.signing import ReasoningSealer
from chat2responses.emulator.tokens import PromptUsage
from chat2responses.emulator.tools import custom_tool, tool_calls

# What a tool scenario sends a custom (freeform) tool.
CUSTOM_INPUT = "*** Begin Patch\n*** Add File: hello.txt\n+hello\n*** End Patch\n"

Reply = Callable[[ResponseWriter, "Ask"], None]


@dataclass(frozen=True, slots=True)
class Turn:
    """What the backend knows about a request beyond its body (defaults: a scenario played on
    its own). `first_seen`: no earlier request had this prompt under this cache key (the `_once`
    faults fail only then); `usage_limit`: the 429 `[scenario:usage_limit]` answers."""

    usage: PromptUsage | None = None
    sealer: ReasoningSealer | None = None
    first_seen: bool = True
    usage_limit: Rejection | None = None
    service_tier: str = "default"  # the tier the response is served at (catalog_rules.py)


@dataclass(frozen=True, slots=True)
class Ask:
    """What a scenario reads from the request."""

    body: Mapping[str, Any]
    user_text: str
    number: int  # the scenario's argument, or 0 when it takes none
    turn: Turn = Turn()


def words(text: str, per_delta: int = 3) -> list[str]:
    """`text` cut into deltas of a few words each; the deltas concatenate back to `text`."""
    tokens = re.findall(r"\s*\S+\s*", text) or ([text] if text else [])
    return ["".join(tokens[i : i + per_delta]) for i in range(0, len(tokens), per_delta)]


def slices(text: str, count: int = 4) -> list[str]:
    """`text` cut into `count` slices of about equal length (JSON arguments, for example)."""
    size = max(1, -(-len(text) // count))
    return [text[i : i + size] for i in range(0, len(text), size)]


def greeting(ask: Ask) -> str:
    return f"Hello from the emulator. You said: {ask.user_text[:200]}"


def short_summary(ask: Ask) -> list[list[str]]:
    return [words(f"**Reading the request**\n\nThe user wrote {len(ask.user_text)} characters.")]


def plain_text(w: ResponseWriter, ask: Ask) -> None:
    w.start()
    w.reasoning(short_summary(ask))
    w.message(words(greeting(ask)))
    w.complete()


def reasoning(w: ResponseWriter, ask: Ask) -> None:
    parts = (
        "**Understanding the question**\n\nThe user wants a scripted answer with visible "
        "reasoning, so the emulator thinks out loud in several summary parts.",
        "**Weighing options**\n\nA short answer would do, but a longer summary exercises "
        "every reasoning event: part added, text deltas, text done, part done.",
        "**Deciding**\n\nReply with a greeting that repeats the user's words.",
    )
    w.start()
    w.reasoning([words(part) for part in parts])
    w.message(words(greeting(ask)))
    w.complete()


def calls(count: int) -> Reply:
    def scenario(w: ResponseWriter, ask: Ask) -> None:
        w.start()
        w.reasoning(short_summary(ask))
        custom = custom_tool(ask.body)
        if custom is not None:
            w.custom_tool_call(custom, slices(CUSTOM_INPUT))
        else:
            for name, arguments in tool_calls(ask.body, count):
                w.function_call(name, slices(json.dumps(arguments)))
        w.complete()

    return scenario


def agent(w: ResponseWriter, ask: Ask) -> None:
    """agent.py: one call to the client's own tool per response, N in all, then the answer."""
    w.start()
    w.reasoning(short_summary(ask))
    outputs = outputs_since_user(ask.body.get("input"))
    call = agent_call(ask.body) if len(outputs) < ask.number else None
    if call is None:
        w.message(words(answer(outputs)))
    else:
        w.function_call(call.name, slices(json.dumps(call.arguments)))
    w.complete()


def refusal(w: ResponseWriter, ask: Ask) -> None:
    w.start()
    w.message(words("I'm sorry, but the emulator refuses this request."), kind=PartKind.REFUSAL)
    w.complete()


def long(w: ResponseWriter, ask: Ask) -> None:
    w.start()
    w.message([f"word{i} " for i in range(ask.number)])
    w.complete()


def cut_short(reason: str) -> Reply:
    def scenario(w: ResponseWriter, ask: Ask) -> None:
        w.start()
        w.message(words("This answer stops before it is"), end=ItemEnd.INCOMPLETE)
        w.incomplete(reason)

    return scenario


def codex_empty_output(w: ResponseWriter, ask: Ask) -> None:
    w.start()
    w.reasoning(short_summary(ask))
    w.message(words(greeting(ask)))
    w.complete(empty_output=True)


def echo_request(w: ResponseWriter, ask: Ask) -> None:
    w.start()
    w.message(slices(json.dumps(ask.body, ensure_ascii=False), 8))
    w.complete()


def sequential_cutoff(w: ResponseWriter, ask: Ask) -> None:
    w.start()
    w.reasoning(
        [words("**Summarising in sections**\n\nEach section arrives whole."), words("Done.")],
        deltas=False,
    )
    w.message(words(greeting(ask)))
    w.complete()


SAFER_MODEL = "gpt-5.6-luna"
SAFETY_LINK = "https://help.openai.com/en/articles/safety-buffering"


def safety_buffering(w: ResponseWriter, ask: Ask) -> None:
    w.headers(
        x_codex_safety_buffering_enabled="true",
        x_codex_safety_buffering_faster_model=SAFER_MODEL,
        x_codex_safety_buffering_learn_more_link=SAFETY_LINK,
    )
    w.start()
    w.vendor(
        "response.metadata",
        metadata={"type": "safety_buffering", "retry_model": SAFER_MODEL},
    )
    w.message(words(greeting(ask)))
    w.complete()
