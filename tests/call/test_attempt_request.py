"""call/attempt_request.py: what one attempt sends, by route (test_machine.py plays whole calls
through it)."""

from __future__ import annotations

import json

from chat2responses.call.attempt_request import open_attempt
from chat2responses.call.policy import Attempt, Route
from tests.call.test_machine import job


def test_an_http_attempt_sends_the_body_without_what_only_the_websocket_takes() -> None:
    the_job = job(Route.HTTP, body={"model": "gpt-5.5", "input": "hi", "generate": False})
    the_job.outcome.frames = ["old"]
    opened = open_attempt(the_job, Attempt(Route.HTTP, False, "x"))
    assert json.loads(opened.payload) == {"model": "gpt-5.5", "input": "hi"}  # rule 1
    assert opened.socket is None and opened.headers == {"authorization": "Bearer sk-test"}
    assert the_job.outcome.sent == opened.payload and the_job.outcome.upstream_status is None


def test_a_websocket_attempt_sends_a_response_create_frame_with_its_routes_headers() -> None:
    the_job = job(Route.WEBSOCKET, body={"model": "gpt-5.5", "input": "hi", "generate": False})
    the_job.outcome.frames, the_job.outcome.frames_size = ["old"], 3
    opened = open_attempt(the_job, Attempt(Route.WEBSOCKET, False, "x"))
    frame = json.loads(opened.payload)
    assert frame["type"] == "response.create" and frame["generate"] is False
    assert opened.extra == dict(the_job.upstream.profile.ws_headers)  # rule 2
    assert (the_job.outcome.frames, the_job.outcome.frames_size) == ([], 0)  # rule 3
    assert opened.here is None  # the upstream's own warm-up


def test_a_warm_up_over_http_is_answered_here_with_no_output() -> None:
    """Rule 4: over HTTP the upstream would generate a whole answer for it."""
    the_job = job(Route.HTTP, body={"model": "gpt-5-codex", "input": "hi", "generate": False})
    opened = open_attempt(the_job, Attempt(Route.HTTP, False, "x"))
    assert opened.here is not None
    created, completed = opened.here
    assert created["type"] == "response.created" and completed["type"] == "response.completed"
    response = completed["response"]
    assert response["status"] == "completed" and response["output"] == []
    assert response["model"] == "gpt-5-codex" and response["id"].startswith("resp_")
    assert response["usage"]["total_tokens"] == 0
    again = open_attempt(the_job, Attempt(Route.HTTP, False, "x")).here
    assert again is not None and again[1]["response"]["id"] != response["id"]
    plain = job(Route.HTTP, body={"model": "gpt-5-codex", "input": "hi"})
    assert open_attempt(plain, Attempt(Route.HTTP, False, "x")).here is None
