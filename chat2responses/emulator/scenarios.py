"""Scripted replies: the steps that answer a request. `SCENARIOS` maps each scenario
(triggers.py) to a function that drives a `ResponseWriter` (replies.py, faults.py); `play` is the
single entry point, shared by the HTTP and WebSocket front ends.

A warm-up (`generate: false`) completes at once with no output; a request whose input ends with a
`compaction_trigger` gets the one `compaction` item, whatever it says.

Must not parse triggers or write events itself (triggers.py, builder.py do).
Pure: no I/O, no clock. Replies are deterministic given the request and the response id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chat2responses.emulator import faults, replies
from chat2responses.emulator.builder import ResponseWriter
from chat2responses.emulator.replies import Ask, Reply, Turn
from chat2responses.emulator.rules import TRIGGER, Rejection
from chat2responses.emulator.steps import Step
from chat2responses.emulator.triggers import Scenario, choose, user_text

_ALONE = Turn()  # a scenario played on its own


def play(
    body: Mapping[str, Any], *, response_id: str, created_at: int, turn: Turn = _ALONE
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


SCENARIOS: Mapping[Scenario, Reply] = {
    Scenario.TEXT: replies.plain_text,
    Scenario.REASONING: replies.reasoning,
    Scenario.TOOLS: replies.calls(2),
    Scenario.TOOL: replies.calls(1),
    Scenario.REFUSAL: replies.refusal,
    Scenario.LONG: replies.long,
    Scenario.INCOMPLETE: replies.cut_short("max_output_tokens"),
    Scenario.CONTENT_FILTER: replies.cut_short("content_filter"),
    Scenario.FAILED: faults.failed,
    Scenario.ERROR_EVENT: faults.error_event,
    Scenario.HTTP_ERROR: faults.http_error,
    Scenario.RATE_LIMIT: faults.rate_limit,
    Scenario.CLOSE_MID_STREAM: faults.close_mid_stream,
    Scenario.SLOW: faults.slow,
    Scenario.CODEX_EMPTY_OUTPUT: replies.codex_empty_output,
    Scenario.ECHO_REQUEST: replies.echo_request,
    Scenario.USAGE_LIMIT: faults.usage_limit,
    Scenario.OVERLOAD: faults.overload,
    Scenario.OVERLOAD_ONCE: faults.once(faults.overload),
    Scenario.OVERLOAD_AFTER_OUTPUT: faults.overload_after_output,
    Scenario.FIRST_TOKEN_DELAY: faults.first_token_delay,
    Scenario.CLOSE_1009: faults.close(1009),
    Scenario.CLOSE_1006: faults.close(1006),
    Scenario.CLOSE_1006_ONCE: faults.once(faults.close(1006)),
    Scenario.SEQUENTIAL_CUTOFF: replies.sequential_cutoff,
    Scenario.SAFETY_BUFFERING: replies.safety_buffering,
    Scenario.UNSTABLE_WEBSOCKET: replies.plain_text,  # cut over WebSocket by backend.py
    Scenario.AGENT: replies.agent,
}
