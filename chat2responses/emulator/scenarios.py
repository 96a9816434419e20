"""Scripted replies: which scenario a request asks for, and the steps each one produces.

The trigger is a token in the last user message's text: `[scenario:NAME]` or
`[scenario:NAME:ARG]` (e.g. `[scenario:long:500]`, `[scenario:http_error:503]`). Without one the
`text` scenario plays. `SCENARIOS` maps each name to a function that drives a `ResponseWriter`;
`play` is the single entry point, shared by the HTTP and WebSocket front ends.

An agent's turn: `agent:N` (agent.py: the client's own tool called once per response, N times
in all, then an answer quoting its last output).

Faults: `error_event`, `failed`, `http_error:STATUS`, `rate_limit`, `usage_limit` (429
`usage_limit_reached`, quota.py), `close_mid_stream`, `slow:MS` (between events),
`first_token_delay:MS` (silence after `response.in_progress`), `overload` (an `error` event
`server_is_overloaded` right after `response.created`/`in_progress`, before any output),
`overload_once` (the same, but only the first time this prompt is seen: see `Turn.first_seen`),
`overload_after_output` (some text deltas, then that error), and over WebSocket `close_1009`
(a close frame 1009 before any event), `close_1006` (the TCP connection dropped without a close
frame, before any event) and `close_1006_once` (only the first time). Over HTTP the two closes
cut the connection after the 200's headers. `unstable_websocket` plays the normal answer, which
over WebSocket the backend cuts after `response.in_progress` (backend.py), as gpt-6-astra's
WebSocket path did for weeks.

Codex backend notes: `sequential_cutoff` (reasoning summary text only in
`response.reasoning_summary_text.done`, no deltas), `safety_buffering` (the
`x-codex-safety-buffering-*` headers over HTTP and a `response.metadata` event). A request whose
input ends with a `compaction_trigger` gets the one `compaction` item, whatever it says.

Pure: no I/O, no clock. Replies are deterministic given the request and the response id.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from chat2responses.emulator.agent import agent_call, answer, outputs_since_user
from chat2responses.emulator.builder import ItemEnd, PartKind, ResponseWriter, Step
from chat2responses.emulator.quota import Quota
from chat2responses.emulator.rules import TRIGGER, Rejection
from chat2responses.emulator.signing import ReasoningSealer
from chat2responses.emulator.tokens import PromptUsage
from chat2responses.emulator.tools import custom_tool, tool_calls
from chat2responses.protocol.errors import type_for_status

# What a tool scenario sends a custom (freeform) tool.
CUSTOM_INPUT = "*** Begin Patch\n*** Add File: hello.txt\n+hello\n*** End Patch\n"


class Scenario(StrEnum):
    TEXT = "text"
    REASONING = "reasoning"
    TOOLS = "tools"
    TOOL = "tool"
    REFUSAL = "refusal"
    LONG = "long"
    INCOMPLETE = "incomplete"
    CONTENT_FILTER = "content_filter"
    FAILED = "failed"
    ERROR_EVENT = "error_event"
    HTTP_ERROR = "http_error"
    RATE_LIMIT = "rate_limit"
    CLOSE_MID_STREAM = "close_mid_stream"
    SLOW = "slow"
    CODEX_EMPTY_OUTPUT = "codex_empty_output"
    ECHO_REQUEST = "echo_request"
    USAGE_LIMIT = "usage_limit"
    OVERLOAD = "overload"
    OVERLOAD_ONCE = "overload_once"
    OVERLOAD_AFTER_OUTPUT = "overload_after_output"
    FIRST_TOKEN_DELAY = "first_token_delay"
    CLOSE_1009 = "close_1009"
    CLOSE_1006 = "close_1006"
    CLOSE_1006_ONCE = "close_1006_once"
    SEQUENTIAL_CUTOFF = "sequential_cutoff"
    SAFETY_BUFFERING = "safety_buffering"
    UNSTABLE_WEBSOCKET = "unstable_websocket"
    AGENT = "agent"


@dataclass(frozen=True, slots=True)
class Argument:
    """The integer argument a scenario takes: its default and its inclusive bounds."""

    default: int
    low: int
    high: int


ARGUMENTS: Mapping[Scenario, Argument] = {
    Scenario.LONG: Argument(default=50, low=1, high=100_000),  # number of text deltas
    Scenario.SLOW: Argument(default=100, low=0, high=60_000),  # milliseconds between events
    Scenario.HTTP_ERROR: Argument(default=500, low=400, high=599),  # HTTP status
    Scenario.FIRST_TOKEN_DELAY: Argument(default=1000, low=0, high=600_000),  # milliseconds
    Scenario.AGENT: Argument(default=1, low=1, high=100),  # tool calls before the answer
}

_TRIGGER = re.compile(r"\[scenario:([a-z0-9_]+)(?::([^\]]*))?\]")


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


def user_text(body: Mapping[str, Any]) -> str:
    """The text of the last user message in `input`: its string content or its text parts."""
    for item in reversed(body.get("input") or ()):
        if not isinstance(item, dict) or item.get("role") != "user":
            continue
        content = item.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "\n".join(
                part["text"]
                for part in content
                if isinstance(part, dict) and isinstance(part.get("text"), str)
            )
        return ""
    return ""


def choose(text: str) -> tuple[Scenario, int] | Rejection:
    """The scenario `text` asks for (and its argument), or a 400 naming what is wrong."""
    match = _TRIGGER.search(text)
    if match is None:
        return Scenario.TEXT, 0
    name, raw = match.group(1), match.group(2)
    try:
        scenario = Scenario(name)
    except ValueError:
        known = ", ".join(s.value for s in Scenario)
        return _bad_trigger(f"unknown emulator scenario {name!r} (known: {known})")
    argument = ARGUMENTS.get(scenario)
    if argument is None:
        return scenario, 0
    if raw is None:
        return scenario, argument.default
    if not raw.isdigit() or not argument.low <= int(raw) <= argument.high:
        return _bad_trigger(
            f"scenario {name!r} takes an integer from {argument.low} to {argument.high}, "
            f"not {raw!r}"
        )
    return scenario, int(raw)


def _bad_trigger(message: str) -> Rejection:
    return Rejection(400, message, code="unknown_scenario", param="input")


def scenarios_help() -> str:
    """The scenarios, as `--help` lists them: the trigger syntax, then each name (with its
    argument's default and bounds where it takes one)."""
    names = []
    for scenario in Scenario:
        argument = ARGUMENTS.get(scenario)
        if argument is None:
            names.append(scenario.value)
        else:
            bounds = f"{argument.low}-{argument.high}, default {argument.default}"
            names.append(f"{scenario.value}:N ({bounds})")
    lines = [
        "Scenarios and faults, per request: put [scenario:NAME] or [scenario:NAME:N] in the last",
        "user message (e.g. [scenario:long:500], [scenario:http_error:503]); without one the",
        "text scenario plays. Names:",
    ]
    line = " "
    for name in names:
        if len(line) + len(name) + 2 > 78:
            lines.append(line)
            line = " "
        line += f" {name},"
    lines.append(line.rstrip(","))
    return "\n".join(lines)


def play(
    body: Mapping[str, Any], *, response_id: str, created_at: int, turn: Turn = Turn()
) -> list[Step]:
    """The steps that answer `body`, a request the backend's rules accepted.

    A warm-up (`generate: false`, accepted over WebSocket only) completes at once with no
    output: it only gives the next request a response id to chain from (openai-protocols.md
    §4.4, codex's prewarm)."""
    writer = ResponseWriter(
        body,
        response_id=response_id,
        created_at=created_at,
        usage=turn.usage,
        sealer=turn.sealer,
        service_tier=turn.service_tier,
    )
    if body.get("generate") is False:
        writer.start()
        writer.complete()
        return writer.steps
    items = body.get("input")
    if (
        isinstance(items, list)
        and items
        and isinstance(items[-1], dict)
        and items[-1].get("type") == TRIGGER
    ):  # a compaction: one item, delivered by output_item.done only
        writer.start()
        writer.compaction()
        writer.complete(empty_output=True)
        return writer.steps
    text = user_text(body)
    chosen = choose(text)
    if isinstance(chosen, Rejection):
        writer.reject(chosen)
    else:
        scenario, number = chosen
        SCENARIOS[scenario](writer, Ask(body, text, number, turn))
    return writer.steps


# -- text helpers ------------------------------------------------------------------------------


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


# -- scenarios ---------------------------------------------------------------------------------


def _text(w: ResponseWriter, ask: Ask) -> None:
    w.start()
    w.reasoning(short_summary(ask))
    w.message(words(greeting(ask)))
    w.complete()


def _reasoning(w: ResponseWriter, ask: Ask) -> None:
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


def _calls(count: int) -> Callable[[ResponseWriter, Ask], None]:
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


def _agent(w: ResponseWriter, ask: Ask) -> None:
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


def _refusal(w: ResponseWriter, ask: Ask) -> None:
    w.start()
    w.message(words("I'm sorry, but the emulator refuses this request."), kind=PartKind.REFUSAL)
    w.complete()


def _long(w: ResponseWriter, ask: Ask) -> None:
    w.start()
    w.message([f"word{i} " for i in range(ask.number)])
    w.complete()


def _cut_short(reason: str) -> Callable[[ResponseWriter, Ask], None]:
    def scenario(w: ResponseWriter, ask: Ask) -> None:
        w.start()
        w.message(words("This answer stops before it is"), end=ItemEnd.INCOMPLETE)
        w.incomplete(reason)

    return scenario


def _failed(w: ResponseWriter, ask: Ask) -> None:
    w.start()
    w.message(words("This answer is interrupted by a server"), end=ItemEnd.OPEN)
    w.fail("server_error", "The emulator failed this response on purpose ([scenario:failed]).")


def _error_event(w: ResponseWriter, ask: Ask) -> None:
    w.start()
    # The wording codex parses a retry delay from (openai-protocols.md §1.5).
    w.error("rate_limit_exceeded", "Rate limit reached (emulated). Please try again in 1s.")


def _http_error(w: ResponseWriter, ask: Ask) -> None:
    status = ask.number
    kind = type_for_status(status)
    message = f"Emulated HTTP {status} error ([scenario:http_error:{status}])."
    w.reject(Rejection(status, message, type=kind, code=f"emulated_{status}"))


def _rate_limit(w: ResponseWriter, ask: Ask) -> None:
    message = "Rate limit reached for requests (emulated). Please try again in 1s."
    w.reject(
        Rejection(
            429,
            message,
            type="rate_limit_error",
            code="rate_limit_exceeded",
            headers=(("retry-after", "1"),),
        )
    )


def _close_mid_stream(w: ResponseWriter, ask: Ask) -> None:
    w.start()
    w.message(words("This stream is cut off before it"), end=ItemEnd.OPEN)
    w.drop()


def _slow(w: ResponseWriter, ask: Ask) -> None:
    w.pace(ask.number / 1000)
    _text(w, ask)


def _codex_empty_output(w: ResponseWriter, ask: Ask) -> None:
    w.start()
    w.reasoning(short_summary(ask))
    w.message(words(greeting(ask)))
    w.complete(empty_output=True)


def _echo_request(w: ResponseWriter, ask: Ask) -> None:
    w.start()
    w.message(slices(json.dumps(ask.body, ensure_ascii=False), 8))
    w.complete()


OVERLOADED = "server_is_overloaded"
OVERLOADED_MESSAGE = "Our servers are currently overloaded. Please try again later."


def _overload(w: ResponseWriter, ask: Ask) -> None:
    w.start()
    w.error(OVERLOADED, OVERLOADED_MESSAGE, type="service_unavailable_error")


def _once(fault: Callable[[ResponseWriter, Ask], None]) -> Callable[[ResponseWriter, Ask], None]:
    def scenario(w: ResponseWriter, ask: Ask) -> None:
        (fault if ask.turn.first_seen else _text)(w, ask)

    return scenario


def _overload_after_output(w: ResponseWriter, ask: Ask) -> None:
    w.start()
    w.message(words("This answer is overtaken by an overloaded"), end=ItemEnd.OPEN)
    w.error(OVERLOADED, OVERLOADED_MESSAGE, type="service_unavailable_error")


def _first_token_delay(w: ResponseWriter, ask: Ask) -> None:
    w.start()
    w.silence(ask.number / 1000)
    w.reasoning(short_summary(ask))
    w.message(words(greeting(ask)))
    w.complete()


def _sequential_cutoff(w: ResponseWriter, ask: Ask) -> None:
    w.start()
    w.reasoning(
        [words("**Summarising in sections**\n\nEach section arrives whole."), words("Done.")],
        deltas=False,
    )
    w.message(words(greeting(ask)))
    w.complete()


SAFER_MODEL = "gpt-5.6-luna"
SAFETY_LINK = "https://help.openai.com/en/articles/safety-buffering"


def _safety_buffering(w: ResponseWriter, ask: Ask) -> None:
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


def _usage_limit(w: ResponseWriter, ask: Ask) -> None:
    w.reject(ask.turn.usage_limit or Quota().usage_limit(0))


def _close(code: int) -> Callable[[ResponseWriter, Ask], None]:
    def scenario(w: ResponseWriter, ask: Ask) -> None:
        if code == 1006:  # an abnormal closure has no close frame: the TCP connection just ends
            w.drop()
        else:
            w.close(code, "message too big")

    return scenario


SCENARIOS: Mapping[Scenario, Callable[[ResponseWriter, Ask], None]] = {
    Scenario.TEXT: _text,
    Scenario.REASONING: _reasoning,
    Scenario.TOOLS: _calls(2),
    Scenario.TOOL: _calls(1),
    Scenario.REFUSAL: _refusal,
    Scenario.LONG: _long,
    Scenario.INCOMPLETE: _cut_short("max_output_tokens"),
    Scenario.CONTENT_FILTER: _cut_short("content_filter"),
    Scenario.FAILED: _failed,
    Scenario.ERROR_EVENT: _error_event,
    Scenario.HTTP_ERROR: _http_error,
    Scenario.RATE_LIMIT: _rate_limit,
    Scenario.CLOSE_MID_STREAM: _close_mid_stream,
    Scenario.SLOW: _slow,
    Scenario.CODEX_EMPTY_OUTPUT: _codex_empty_output,
    Scenario.ECHO_REQUEST: _echo_request,
    Scenario.USAGE_LIMIT: _usage_limit,
    Scenario.OVERLOAD: _overload,
    Scenario.OVERLOAD_ONCE: _once(_overload),
    Scenario.OVERLOAD_AFTER_OUTPUT: _overload_after_output,
    Scenario.FIRST_TOKEN_DELAY: _first_token_delay,
    Scenario.CLOSE_1009: _close(1009),
    Scenario.CLOSE_1006: _close(1006),
    Scenario.CLOSE_1006_ONCE: _once(_close(1006)),
    Scenario.SEQUENTIAL_CUTOFF: _sequential_cutoff,
    Scenario.SAFETY_BUFFERING: _safety_buffering,
    Scenario.UNSTABLE_WEBSOCKET: _text,  # cut over WebSocket by backend.py
    Scenario.AGENT: _agent,
}
