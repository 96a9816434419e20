"""How an upstream response ended: its terminal event as a chat finish reason, or as the error
that fails the call (rule 6 of response/translate.py).

Owns the terminal events' meaning: `response.completed` (stop, or tool calls), `incomplete`
(its `incomplete_details.reason`: length or content filter), `failed` and `error` (the error
events.error_of_event gives), and `response.done` (some relays), which is whichever of these
its response's status says. Must not: build chunks, backfill items or do I/O.
Rules:
1. An incomplete response with an unknown reason was still cut short: `length`.
2. A `response.done` whose status is `failed` or `cancelled` is a failure, `incomplete` is
   incomplete, anything else completed.
"""

from __future__ import annotations

from typing import Any

from chat2responses.protocol.errors import UpstreamError
from chat2responses.protocol.events import TERMINAL, Event, EventType, error_of_event
from chat2responses.protocol.wire import FinishReason

# What ends a response: every terminal event, failures included.
ENDS = frozenset(kind.value for kind in TERMINAL)

_INCOMPLETE_REASONS = {
    "max_output_tokens": FinishReason.LENGTH,
    "content_filter": FinishReason.CONTENT_FILTER,
}


def ending(event: Event) -> FinishReason | UpstreamError | None:
    """What terminal `event` says: the error of a failed response, the finish reason of an
    incomplete one, or None for a completed one (stop or tool calls: the caller knows which)."""
    kind = event["type"]
    if kind == EventType.DONE:
        status = response_of(event).get("status")
        if status in ("failed", "cancelled"):
            return failure({**event, "type": EventType.FAILED.value})
        kind = EventType.INCOMPLETE if status == "incomplete" else EventType.COMPLETED
    if kind == EventType.ERROR:
        return failure(event)
    if kind == EventType.FAILED:
        return failure({**event, "type": EventType.FAILED.value})
    if kind == EventType.INCOMPLETE:
        details = response_of(event).get("incomplete_details")
        cause = details.get("reason") if isinstance(details, dict) else None
        return _INCOMPLETE_REASONS.get(str(cause), FinishReason.LENGTH)  # rule 1
    return None


def failure(event: Event) -> UpstreamError:
    """The error a failed response or an error event gives (events.error_of_event's)."""
    err = error_of_event(event)
    return err if err is not None else UpstreamError("upstream failed")


def response_of(event: Event) -> dict[str, Any]:
    """The `response` object a terminal event carries ({} when it carries none)."""
    response = event.get("response")
    return response if isinstance(response, dict) else {}
