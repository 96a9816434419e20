"""What one attempt of a call sends: its body (the continuation's or the full one), the HTTP
body or the WebSocket `response.create` frame made of it, and the headers of its route.

Rule 1: an HTTP attempt's body leaves out what the upstream profile takes only over the
        WebSocket (`http_drops`); a WebSocket attempt sends the profile's `response.create`
        frame, with the translation's extra fields.
Rule 2: the conversation's session headers come first, the route's after them (a login's
        per-process headers are added at send time, by the runner).
Rule 3: the outcome notes what is sent (items sent of the full request, replayed reasoning,
        a continuation) and starts the attempt's display copy afresh.
Rule 4: a warm-up (`generate: false`, the Codex CLI's prewarm) exists on the WebSocket only; over
        HTTP the upstream would answer it with a whole generation, at the subscription's cost.
        It is answered here instead, as the WebSocket would: a completed response with no
        output, whose id the next request may chain from (the conversation keeps it).
Pure: no I/O.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import Any

from chat2responses.call.commands import Open
from chat2responses.call.job import CallJob
from chat2responses.call.policy import Attempt, Route, body_for
from chat2responses.protocol.events import events_of_response
from chat2responses.protocol.transcript import Transcript
from chat2responses.protocol.wire import dumps
from chat2responses.upstream.profiles import response_create_frame


def open_attempt(job: CallJob, attempt: Attempt) -> Open:
    """The `Open` command of `attempt` (rules 1-3)."""
    outcome = job.outcome
    full = body_for(attempt, job.body)
    body, socket = full, None
    if job.turn is not None:
        turn = job.turn
        body, socket = turn.body(attempt, full)
        outcome.sent_items, outcome.full_items = turn.sent_items, turn.full_items
        outcome.replayed, outcome.continued = turn.replayed, socket is not None
        outcome.full_size = job.request_size if socket is not None else 0
    extra = dict(job.session_headers)  # the conversation's, over a login's per-process one
    if attempt.route is Route.HTTP:
        drops = job.upstream.profile.http_drops
        body = {key: value for key, value in body.items() if key not in drops}
        payload = dumps(body)
        extra.update(job.translation.http_headers)
        outcome.upstream = Transcript()
    else:
        frame = response_create_frame(job.upstream.profile, body, job.translation.ws_extra)
        payload = dumps(frame)
        extra.update(job.upstream.profile.ws_headers)
        outcome.frames, outcome.frames_size = [], 0
    outcome.sent, outcome.upstream_status = payload, None
    here = None
    if attempt.route is Route.HTTP and job.body.get("generate") is False:  # rule 4
        here = tuple(events_of_response(warm_up_response(job.body)))
    return Open(attempt, payload, job.headers, extra, socket, here)


def warm_up_response(body: Mapping[str, Any]) -> dict[str, Any]:
    """The answer to a warm-up (rule 4): completed, no output, no tokens."""
    return {
        "id": f"resp_{secrets.token_hex(24)}",
        "object": "response",
        "created_at": int(time.time()),
        "status": "completed",
        "model": body.get("model"),
        "output": [],
        "usage": {
            "input_tokens": 0,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 0,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 0,
        },
        "error": None,
        "incomplete_details": None,
    }
