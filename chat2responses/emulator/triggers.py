"""Which scenario a request asks for: the `[scenario:NAME]` or `[scenario:NAME:ARG]` token in the
last user message's text (e.g. `[scenario:long:500]`, `[scenario:http_error:503]`), its integer
argument within bounds, and the list `--help` shows.

Must not play a scenario (scenarios.py does). Rules: without a token the `text` scenario plays; an
unknown name or an argument out of bounds is a 400 (`unknown_scenario`) naming what is wrong.
Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from chat2responses.emulator.rules import Rejection


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
