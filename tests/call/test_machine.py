"""The call machine as tables: what an upstream does in, the commands out. No socket, no clock.

Each case scripts the attempts the machine asks for (`Open`): the events each attempt yields, or
the error it fails with. `play` runs the machine through them as the runner would, reporting the
answer's head going out at the first bytes written, and returns what the client got.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from chat2responses.call.budget import RetryBudgets
from chat2responses.call.commands import LINGER, Fail, Finish, Linger, Open, Write
from chat2responses.call.conversation import ConversationStore
from chat2responses.call.giving_up import Client
from chat2responses.call.job import CallJob
from chat2responses.call.machine import CallMachine
from chat2responses.call.memory import Memory
from chat2responses.call.policy import Failure, Plan, Reason, Route
from chat2responses.call.replay import ReasoningCache
from chat2responses.call.turn import Turn
from chat2responses.protocol.errors import (
    ClientError,
    HandshakeRefused,
    ProxyError,
    UpstreamError,
    UpstreamProtocolError,
    WebSocketClosed,
    upstream_error_from_body,
)
from chat2responses.protocol.wire import ReasoningMode
from chat2responses.request.translate import Translation
from chat2responses.response.chat_sinks import ChatJsonSink, ChatStreamSink, Sink
from chat2responses.response.chunks import ChunkContext
from chat2responses.response.responses_sinks import (
    ResponsesFrameSink,
    ResponsesJsonSink,
    ResponsesStreamSink,
)
from chat2responses.settings import TransportMode
from chat2responses.upstream.catalog import Catalog
from chat2responses.upstream.profiles import CODEX, OPENAI
from chat2responses.upstream.quota_book import QuotaBook
from chat2responses.upstream.quota_tap import QuotaTap
from chat2responses.upstream.routing import CallKind, upstream_for
from tests.events_helpers import ADDED, RESPONSE, delta

H, W = Route.HTTP, Route.WEBSOCKET
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
URL = "http://up.example/v1"
UPSTREAM = upstream_for(URL, "", "/chat/completions")
MATCH = Catalog.default().match("gpt-5.5")
CTX = ChunkContext("chatcmpl-1", 1_700_000_000, "gpt-5.5", ReasoningMode.REASONING_CONTENT)
DONE_ITEM = {
    "type": "message",
    "id": "msg_1",
    "role": "assistant",
    "content": [{"type": "output_text", "text": "Hi", "annotations": []}],
}
ITEM_DONE = {"type": "response.output_item.done", "output_index": 0, "item": DONE_ITEM}
COMPLETED = {"type": "response.completed", "response": {**RESPONSE, "output": [DONE_ITEM]}}
CREATED = {"type": "response.created", "response": RESPONSE}
ANSWER = [CREATED, ADDED, delta("Hi"), ITEM_DONE, COMPLETED]
OVERLOADED = {"type": "error", "code": "server_is_overloaded", "message": "busy"}
ADVISORY = {"type": "error", "error": {"message": "something odd"}}


def five(status: int = 503, **headers: str) -> UpstreamError:
    return UpstreamError("upstream failed", status=status, headers=headers)


def job(
    route: Route = H,
    *,
    stream: bool = True,
    kind: CallKind = CallKind.CHAT,
    switchable: bool = True,
    reason: Reason = Reason.DEFAULT,
    summaries: bool = False,
    login: bool = False,
    retries: int = 2,
    body: dict[str, Any] | None = None,
    turn: Turn | None = None,
    memory: Memory | None = None,
    stop: tuple[str, ...] = (),
) -> CallJob:
    body = body or {"model": "gpt-5.5", "input": "hi"}
    ctx = ChunkContext(CTX.chunk_id, CTX.created, CTX.model, CTX.reasoning, stop=stop)

    def make() -> Sink:
        if kind is CallKind.RESPONSES:
            return ResponsesStreamSink() if stream else ResponsesJsonSink()
        return ChatStreamSink(ctx, include_usage=True) if stream else ChatJsonSink(ctx)

    return CallJob(
        kind=kind,
        upstream=UPSTREAM,
        translation=Translation(body, stream, True, "gpt-5.5", MATCH, (), stop=stop),
        body=body,
        headers={"authorization": "Bearer sk-test"},
        plan=Plan(route, reason, switchable, summaries, login=login, retries=retries),
        memory=memory or Memory(),
        make_sink=make,
        idle_timeout=300.0,
        quota=QuotaTap(QuotaBook(), "acct", clock=lambda: NOW),
        turn=turn,
    )


Step = dict[str, Any] | ProxyError


@dataclass
class Played:
    machine: CallMachine
    opens: list[Open] = field(default_factory=list)
    writes: list[bytes] = field(default_factory=list)
    end: Finish | Fail | None = None
    lingered: bool = False  # a Linger came: the script's end stands for its wait running out

    @property
    def client(self) -> bytes:
        """The bytes a streaming client read, end included."""
        last = b""
        if isinstance(self.end, Finish):
            last = self.end.data
        elif isinstance(self.end, Fail) and self.end.chunk is not None:
            last = self.end.chunk
        return b"".join(self.writes) + last

    def chunks(self) -> list[dict[str, Any]]:
        out = []
        for event in self.client.split(b"\n\n"):
            if event.startswith(b"data: ") and event != b"data: [DONE]":
                out.append(json.loads(event[6:]))
        return out

    def text(self) -> str:
        return "".join(
            ChatCompletionChunk.model_validate(c).choices[0].delta.content or ""
            for c in self.chunks()
            if c.get("choices")
        )

    @property
    def routes(self) -> list[tuple[Route, str]]:
        return [(o.attempt.route, o.attempt.why) for o in self.opens]


def play(
    the_job: CallJob,
    attempts: list[list[Step]],
    *,
    usable: Callable[[object], bool] = lambda socket: True,
    head_first: bool = False,
) -> Played:
    """Run the machine through `attempts` (one script per `Open`), as the runner does.
    `head_first`: a keep-alive comment went out before anything (the head is out)."""
    machine = CallMachine(the_job, jitter=lambda: 0.5)
    played = Played(machine)
    if head_first:
        machine.head_out()
    command: Any = machine.start(usable)
    scripts = iter(attempts)
    while isinstance(command, Open):
        played.opens.append(command)
        command = None
        for step in next(scripts):
            if isinstance(step, ProxyError):
                command = machine.failure(step)
                break
            command = machine.event(step)
            if isinstance(command, Write | Linger):
                if not played.writes and not head_first:
                    machine.head_out()
                played.writes.append(command.data)
                played.lingered = played.lingered or isinstance(command, Linger)
                command = None
            if command is not None:
                break
        else:
            command = machine.lingered() if played.lingered else machine.end()
    assert isinstance(command, Finish | Fail)
    assert machine.ended
    played.end = command
    return played


# ---- answered ----------------------------------------------------------------------------------


def test_a_stream_is_written_as_it_comes_and_ends_with_done() -> None:
    played = play(job(), [ANSWER])
    assert played.routes == [(H, "first")]
    assert played.text() == "Hi" and played.client.endswith(b"data: [DONE]\n\n")
    assert isinstance(played.end, Finish) and not played.end.close
    outcome = played.machine.outcome
    assert outcome.status == 200 and outcome.error is None
    assert [t.failure for t in outcome.tried] == [None] and outcome.client == played.client


def test_nothing_is_written_for_the_preamble() -> None:
    """Rule 1: response.created is not output; the first write is the first text."""
    the_job = job()
    machine = CallMachine(the_job, jitter=lambda: 0.0)
    machine.start(lambda s: True)
    assert machine.event(CREATED) is None
    assert machine.event(ADDED) is None  # the role chunk waits for content
    written = machine.event(delta("Hi"))
    assert isinstance(written, Write) and b'"Hi"' in written.data


def test_a_json_client_gets_one_completion() -> None:
    played = play(job(stream=False), [ANSWER])
    assert played.writes == []
    assert isinstance(played.end, Finish)
    completion = ChatCompletion.model_validate_json(played.end.data)
    assert completion.choices[0].message.content == "Hi"
    assert played.machine.outcome.usage is None  # the events carried none


def test_a_responses_client_gets_the_events_as_they_came() -> None:
    played = play(job(kind=CallKind.RESPONSES), [ANSWER])
    assert b"event: response.created" in played.client  # the preamble goes out with output
    assert b"event: response.completed" in played.client


USAGE = {"input_tokens": 5, "output_tokens": 7, "total_tokens": 12}
COMPLETED_WITH_USAGE = {"type": "response.completed", "response": {**RESPONSE, "usage": USAGE}}


def test_a_stop_sequence_ends_the_text_and_the_usage_still_comes() -> None:
    """Rule 7: the text ends at the stop; the upstream is read on for the usage, then drained."""
    played = play(
        job(stop=("i",)), [[ADDED, delta("Hi there"), delta("more"), COMPLETED_WITH_USAGE]]
    )
    assert played.text() == "H" and played.lingered
    assert isinstance(played.end, Finish) and not played.end.close
    assert played.chunks()[-1]["usage"]["total_tokens"] == 12
    assert played.machine.outcome.usage is not None and len(played.opens) == 1


def test_a_stopped_answer_whose_usage_never_comes_ends_and_closes_the_upstream() -> None:
    the_job = job(stop=("i",))
    machine = CallMachine(the_job, jitter=lambda: 0.0)
    machine.start(lambda s: True)
    machine.event(ADDED)
    lingering = machine.event(delta("Hi there"))
    assert isinstance(lingering, Linger) and lingering.seconds == LINGER
    assert machine.event(delta("more")) is None  # nothing more of the text
    ended = machine.lingered()
    assert isinstance(ended, Finish) and ended.close and ended.data.endswith(b"data: [DONE]\n\n")
    assert machine.outcome.status == 200 and machine.outcome.error is None


def test_a_stopped_json_answer_waits_for_its_usage_too() -> None:
    played = play(job(stream=False, stop=("i",)), [[ADDED, delta("Hi"), COMPLETED_WITH_USAGE]])
    assert isinstance(played.end, Finish)
    completion = ChatCompletion.model_validate_json(played.end.data)
    assert completion.choices[0].message.content == "H"
    assert completion.usage is not None and completion.usage.total_tokens == 12


def test_a_buffered_answer_past_its_cap_fails_before_any_byte() -> None:
    the_job = job(stream=False)
    machine = CallMachine(the_job, jitter=lambda: 0.0)
    machine.start(lambda s: True)
    assert machine.received(10) is None
    failed = machine.received(1 << 30)
    assert isinstance(failed, Fail) and failed.chunk is None
    assert failed.error.status == 502 and failed.error.code == "answer_too_large"


def test_a_stream_that_breaks_off_before_output_is_an_error_not_an_empty_answer() -> None:
    played = play(job(), [[CREATED, ADDED]])
    assert isinstance(played.end, Fail) and played.end.chunk is None
    assert played.machine.outcome.status == 502


def test_a_stream_that_breaks_off_after_output_ends_with_an_error_chunk() -> None:
    played = play(job(), [[ADDED, delta("Hi")]])
    assert isinstance(played.end, Fail) and played.end.chunk is not None
    assert (
        played.text() == "Hi"
        and "before response.completed" in played.chunks()[-1]["error"]["message"]
    )
    assert played.machine.outcome.error is not None and len(played.opens) == 1


# ---- failures: a table ---------------------------------------------------------------------------


REFUSED_404 = HandshakeRefused("no websocket here", status=404)
SUMMARY = UpstreamError("verify", status=400, param="reasoning.summary", code="unsupported_value")
NEEDS_WS = UpstreamError("routing_unsupported: use the WebSocket", status=400)
DROPPED = WebSocketClosed("the WebSocket closed", 1006)
TOO_BIG = WebSocketClosed("message too big", 1009)
STALLED = UpstreamError("stalled", status=504, code="upstream_stalled")
BROKEN = UpstreamProtocolError("not a Responses stream")


@pytest.mark.parametrize(
    ("case", "spec", "attempts", "routes", "status"),
    [
        ("a 5xx before output is retried out of sight",
         dict(), [[five()], ANSWER], [(H, "first"), (H, "in 0.8 s (1 of 2)")], 200),
        ("an overload event counts as a 503",
         dict(), [[CREATED, OVERLOADED], ANSWER], [(H, "first"), (H, "in 0.8 s (1 of 2)")], 200),
        ("retries are bounded; the last error keeps its status",
         dict(), [[five()], [five()], [five(500)]],
         [(H, "first"), (H, "in 0.8 s (1 of 2)"), (H, "in 1.5 s (2 of 2)")], 500),
        ("no retries when responses_retries is 0",
         dict(retries=0), [[five()]], [(H, "first")], 503),
        ("a refused upgrade falls back to HTTP under auto",
         dict(route=W), [[REFUSED_404], ANSWER], [(W, "first"), (H, "over http")], 200),
        ("no fallback when the transport is forced",
         dict(route=W, switchable=False), [[REFUSED_404]], [(W, "first")], 404),
        ("HTTP refused for needing the WebSocket goes over it",
         dict(route=H), [[NEEDS_WS], ANSWER], [(H, "first"), (W, "over websocket")], 200),
        ("a refused summary is retried without it",
         dict(summaries=True, body={"model": "m", "input": "hi", "reasoning": {"summary": "auto"}}),
         [[SUMMARY], ANSWER], [(H, "first"), (H, "without reasoning summaries")], 200),
        ("a WebSocket closed with 1009 sends this request over HTTP",
         dict(route=W), [[TOO_BIG], ANSWER],
         [(W, "first"), (H, "over http (too big for the WebSocket)")], 200),
        ("a dropped WebSocket is retried on the same route",
         dict(route=W), [[CREATED, DROPPED], ANSWER],
         [(W, "first"), (W, "in 0.8 s (1 of 2)")], 200),
        ("a second dropped WebSocket sends the request over HTTP",
         dict(route=W), [[CREATED, DROPPED], [DROPPED], ANSWER],
         [(W, "first"), (W, "in 0.8 s (1 of 2)"), (H, "over http (websocket unstable)")], 200),
        ("a stall is not retried", dict(), [[STALLED]], [(H, "first")], 504),
        ("bytes that are not a Responses stream are not retried", dict(), [[BROKEN]],
         [(H, "first")], 502),
        ("a 401 without a login is the client's to fix",
         dict(), [[five(401)]], [(H, "first")], 401),
        ("a 401 with a login is retried once with a refreshed one",
         dict(login=True), [[five(401)], [five(401)]],
         [(H, "first"), (H, "with a refreshed login")], 401),
        ("a 429 goes to the client", dict(), [[five(429)]], [(H, "first")], 429),
        ("the client's own fault is never retried",
         dict(), [[ClientError("bad", status=400)]], [(H, "first")], 400),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)  # fmt: skip
def test_failures_before_output(
    case: str,
    spec: dict[str, Any],
    attempts: list[list[Step]],
    routes: list[tuple[Route, str]],
    status: int,
) -> None:
    played = play(job(**spec), attempts)
    assert played.routes == routes
    assert played.machine.outcome.status == status
    if status == 200:
        assert isinstance(played.end, Finish) and played.text() == "Hi"
    else:
        assert isinstance(played.end, Fail) and played.end.chunk is None
        assert played.end.error.status == status and played.writes == []
    assert len(played.machine.outcome.tried) == len(routes)


def test_backoff_doubles_with_jitter_and_honours_the_upstreams_retry_after() -> None:
    played = play(job(retries=3), [[five()], [five()], [five(**{"retry-after": "2"})], ANSWER])
    # 0.5 s * 2^(n-1) * (1 + jitter 0.5), then the upstream's own 2 s.
    assert [o.attempt.delay for o in played.opens] == [0.0, 0.75, 1.5, 2.0]


def test_a_retry_after_beyond_the_cap_goes_to_the_client() -> None:
    played = play(job(), [[five(**{"retry-after": "31"})]])
    assert isinstance(played.end, Fail) and played.end.error.headers["retry-after"] == "31"
    assert len(played.opens) == 1


def test_a_forced_http_refusal_says_why_it_was_not_sent_over_the_websocket() -> None:
    played = play(job(H, switchable=False), [[NEEDS_WS]])
    assert isinstance(played.end, Fail)
    assert "responses_transport=http forbids it" in played.end.error.message


# ---- after output --------------------------------------------------------------------------------


def test_an_error_after_output_is_one_error_chunk_and_not_retried() -> None:
    played = play(job(), [[ADDED, delta("Hi"), OVERLOADED], ANSWER])
    assert len(played.opens) == 1
    assert isinstance(played.end, Fail) and played.end.chunk is not None
    assert played.text() == "Hi" and played.chunks()[-1]["error"]["code"] == "server_is_overloaded"
    assert played.machine.outcome.status == 200  # the head went out as a 200 stream


def test_after_a_keepalive_a_dead_end_is_an_error_chunk_with_status_200() -> None:
    played = play(job(retries=0), [[five()]], head_first=True)
    assert isinstance(played.end, Fail) and played.end.chunk is not None
    assert json.loads(played.end.chunk[6:])["error"]["message"] == "upstream failed"
    assert played.machine.outcome.status == 200


def test_after_a_keepalive_a_failure_before_output_is_still_retried() -> None:
    played = play(job(), [[five()], ANSWER], head_first=True)
    assert played.routes == [(H, "first"), (H, "in 0.8 s (1 of 2)")]
    assert isinstance(played.end, Finish)


def test_a_status_less_websocket_error_after_output_is_advisory() -> None:
    played = play(job(W), [[ADDED, delta("H"), ADVISORY, delta("i"), ITEM_DONE, COMPLETED]])
    assert played.text() == "Hi" and isinstance(played.end, Finish)


@pytest.mark.parametrize(
    ("kind", "stream"),
    [(kind, stream) for kind in CallKind for stream in (True, False)],
)
def test_an_advisory_frame_after_output_is_advisory_for_every_client(
    kind: CallKind, stream: bool
) -> None:
    played = play(
        job(W, kind=kind, stream=stream),
        [[ADDED, delta("H"), ADVISORY, delta("i"), ITEM_DONE, COMPLETED]],
    )
    assert isinstance(played.end, Finish)


def test_the_same_error_frame_over_http_or_before_output_ends_the_answer() -> None:
    over_http = play(job(H), [[ADDED, delta("H"), ADVISORY, ITEM_DONE, COMPLETED]])
    assert isinstance(over_http.end, Fail) and over_http.end.chunk is not None
    before = play(job(W, retries=0), [[ADVISORY, COMPLETED]])
    assert isinstance(before.end, Fail) and before.end.chunk is None


# ---- the proxy stopping ------------------------------------------------------------------------


def test_stopping_ends_the_answer_as_far_as_it_got() -> None:
    stopping = ProxyError("stopping", status=503, code="proxy_stopping")
    quiet = CallMachine(job(), jitter=lambda: 0.0)
    quiet.start(lambda s: True)
    early = quiet.stop(stopping)
    assert isinstance(early, Fail) and early.chunk is None and quiet.outcome.status == 503
    assert quiet.outcome.error_code == "proxy_stopping"
    assert "x-should-retry" not in stopping.headers  # another instance may answer it
    streaming = CallMachine(job(), jitter=lambda: 0.0)
    streaming.start(lambda s: True)
    streaming.event(ADDED)
    streaming.event(delta("Hi"))
    streaming.head_out()
    late = streaming.stop(stopping)
    assert isinstance(late, Fail) and late.chunk is not None and b"proxy_stopping" in late.chunk
    assert streaming.stop(stopping) is None  # ended already: nothing more


def test_an_error_without_a_code_is_recorded_as_error() -> None:
    machine = CallMachine(job(), jitter=lambda: 0.0)
    machine.start(lambda s: True)
    machine.stop(ProxyError("the proxy is stopping", status=503))
    assert (machine.outcome.error_code, machine.outcome.error) == ("error", "the proxy is stopping")


def test_the_outcome_names_the_socket_and_its_turn() -> None:
    machine = CallMachine(job(), jitter=lambda: 0.0)
    assert (machine.outcome.socket, machine.outcome.socket_turn) == (None, 0)
    machine.on_socket(3, 2)
    assert (machine.outcome.socket, machine.outcome.socket_turn) == (3, 2)


# ---- what a call teaches, its quota and its conversation ----------------------------------------


def test_a_fallback_that_answers_is_learned_and_a_1009_is_not() -> None:
    memory = Memory()
    played = play(job(W, memory=memory), [[REFUSED_404], ANSWER])
    assert played.machine.outcome.learned
    assert memory.routes == {(UPSTREAM.key, "gpt-5.5"): H}
    memory = Memory()
    played = play(job(W, memory=memory), [[TOO_BIG], ANSWER])
    assert not played.machine.outcome.learned and memory.routes == {}


def test_two_drops_make_the_model_unstable_for_later_calls_and_say_so() -> None:
    memory = Memory()
    unstable = job(W, memory=memory)
    unstable.planned_at = 1_800_000_000.0
    played = play(unstable, [[DROPPED], [DROPPED], ANSWER])
    assert played.routes[-1] == (H, "over http (websocket unstable)")
    assert not played.machine.outcome.learned and memory.routes == {}
    assert memory.http_until == {(UPSTREAM.key, "gpt-5.5"): 1_800_000_600.0}
    plan = memory.plan(
        TransportMode.AUTO,
        UPSTREAM.key,
        MATCH,
        summaries=False,
        login=False,
        retries=0,
        now=1_800_000_001.0,
    )
    assert (plan.route, plan.reason) == (H, Reason.UNSTABLE)


def test_a_call_that_fails_still_teaches_its_drops() -> None:
    memory = Memory()
    played = play(job(W, memory=memory, retries=0), [[DROPPED]])
    assert isinstance(played.end, Fail)
    assert memory.last_drop == {(UPSTREAM.key, "gpt-5.5"): 0.0}


def test_a_refused_summary_is_remembered() -> None:
    memory = Memory()
    body = {"model": "m", "input": "hi", "reasoning": {"summary": "auto", "effort": "low"}}
    played = play(job(summaries=True, body=body, memory=memory), [[SUMMARY], ANSWER])
    assert "summary" not in json.loads(played.opens[1].payload)["reasoning"]
    assert not memory.summaries_allowed(UPSTREAM.key, MATCH)


def test_a_usage_limit_becomes_the_429_that_says_when_it_resets() -> None:
    body = {"error": {"type": "usage_limit_reached", "message": "x", "resets_in_seconds": 600}}
    limit = upstream_error_from_body(429, json.dumps(body).encode(), {})
    played = play(job(), [[limit]])
    assert isinstance(played.end, Fail) and played.end.error.status == 429
    assert played.end.error.message.startswith("The ChatGPT usage limit is reached")
    assert "it resets" in played.end.error.message


def test_a_far_usage_limit_says_not_to_retry_and_when_it_resets() -> None:
    body = {
        "error": {"type": "usage_limit_reached", "plan_type": "plus", "resets_in_seconds": 7400}
    }
    limit = UpstreamError("limit", status=429, code="usage_limit_reached")
    limit.payload = json.dumps(body).encode()
    played = play(job(), [[limit]])
    assert isinstance(played.end, Fail)
    error = played.end.error
    assert error.headers == {"x-should-retry": "false"}  # no Retry-After: it is hours away
    assert "in 2 h 3 min" in error.message
    assert error.to_dict()["error"]["resets_at"] == int(NOW.timestamp()) + 7400
    assert error.to_dict()["error"]["plan_type"] == "plus"


# ---- one retry budget for the chain (rule 7) -----------------------------------------------------


def _spent_job(**kwargs: Any) -> CallJob:
    the_job = job(**kwargs)
    the_job.budget, the_job.budget_key = RetryBudgets(), "request"
    return the_job


def test_a_call_that_used_up_its_retries_says_not_to_retry_and_spends_its_budget() -> None:
    the_job = _spent_job()
    played = play(the_job, [[five()], [five()], [five()]])
    assert len(played.opens) == 3 and isinstance(played.end, Fail)
    assert played.end.error.status == 503 and played.end.chunk is None
    assert played.end.error.headers == {"x-should-retry": "false"}
    assert the_job.budget is not None and the_job.budget.retries("request", 2) == 0


def test_a_request_retried_by_its_client_makes_one_attempt_until_answered() -> None:
    budgets = RetryBudgets()
    budgets.used_up("request")
    the_job = job(retries=budgets.retries("request", 2))
    the_job.budget, the_job.budget_key = budgets, "request"
    played = play(the_job, [[five()]])
    assert len(played.opens) == 1
    assert isinstance(played.end, Fail) and played.end.error.headers["x-should-retry"] == "false"
    the_job = job(retries=budgets.retries("request", 2))
    the_job.budget, the_job.budget_key = budgets, "request"
    assert isinstance(play(the_job, [ANSWER]).end, Finish)
    assert budgets.retries("request", 2) == 2


def test_a_failure_the_client_may_retry_does_not_spend_the_budget() -> None:
    the_job = _spent_job()
    played = play(the_job, [[five(**{"retry-after": "45"})]])  # declined: above 30 s
    assert isinstance(played.end, Fail)
    assert played.end.error.headers == {"retry-after": "45"}
    assert the_job.budget is not None and not the_job.budget.spent("request")


def test_the_codex_cli_gets_a_spent_responses_stream_as_response_failed_overloaded() -> None:
    the_job = _spent_job(kind=CallKind.RESPONSES)
    the_job.client = Client.CODEX
    played = play(the_job, [[five()], [five()], [CREATED, OVERLOADED]])
    assert isinstance(played.end, Fail) and played.end.chunk is not None
    assert played.machine.outcome.status == 200
    kind, data = played.end.chunk.decode().split("\n")[:2]
    assert kind == "event: response.failed"
    event = json.loads(data.removeprefix("data: "))
    assert event["response"]["id"] == RESPONSE["id"] and event["response"]["status"] == "failed"
    assert event["response"]["error"] == {"code": "server_is_overloaded", "message": "busy"}


def test_the_codex_cli_on_json_or_before_its_retries_are_spent_gets_the_status() -> None:
    the_job = _spent_job(kind=CallKind.RESPONSES, stream=False)
    the_job.client = Client.CODEX
    played = play(the_job, [[five()], [five()], [five()]])
    assert isinstance(played.end, Fail) and played.end.chunk is None
    assert played.machine.outcome.status == 503
    the_job = _spent_job(kind=CallKind.RESPONSES)
    the_job.client = Client.CODEX
    played = play(the_job, [[five(400)]])
    assert isinstance(played.end, Fail) and played.end.chunk is None


# ---- a client's Responses WebSocket: frames ---------------------------------------------------


def _frames(played: Played) -> list[dict[str, Any]]:
    return [json.loads(line) for line in played.client.split(b"\n") if line]


def _frame_job(**kwargs: Any) -> CallJob:
    the_job = _spent_job(kind=CallKind.RESPONSES, **kwargs)
    the_job.make_sink = ResponsesFrameSink
    return the_job


def test_a_websocket_client_gets_one_frame_per_event() -> None:
    played = play(_frame_job(), [ANSWER])
    assert [f["type"] for f in _frames(played)] == [e["type"] for e in ANSWER]
    assert isinstance(played.end, Finish)


def test_a_websocket_clients_failure_before_output_is_an_error_frame_with_its_status() -> None:
    played = play(_frame_job(), [[five(400)]])
    assert isinstance(played.end, Fail) and played.writes == []
    assert _frames(played) == [
        {"type": "error", "status": 400,
         "error": {"message": "upstream failed", "type": "upstream_error", "param": None,
                   "code": None}},
    ]  # fmt: skip
    assert played.machine.outcome.status == 400


def test_the_codex_cli_on_its_websocket_gets_response_failed_overloaded() -> None:
    the_job = _frame_job()
    the_job.client = Client.CODEX
    played = play(the_job, [[five()], [five()], [five()]])
    (frame,) = _frames(played)
    assert frame["type"] == "response.failed"
    assert frame["response"]["error"]["code"] == "server_is_overloaded"
    assert played.machine.outcome.status == 200


@pytest.mark.parametrize(("route", "kept"), [(W, True), (H, False)])
def test_a_warm_up_keeps_generate_false_on_the_websocket_only(route: Route, kept: bool) -> None:
    """A warm-up (`generate: false`, the Codex CLI's prewarm) exists on the WebSocket; over HTTP
    the key is refused, so that request just generates."""
    body = {"model": "gpt-5.5", "input": "hi", "generate": False}
    played = play(job(route, kind=CallKind.RESPONSES, body=body), [ANSWER])
    assert ("generate" in json.loads(played.opens[0].payload)) is kept


def test_a_continued_warm_up_answered_empty_does_not_turn_continuation_off() -> None:
    store, cache = _conversation()
    user = {"role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    turn = Turn(key="k", upstream=UPSTREAM.key, credential="c", store=store, cache=cache)
    played = play(job(W, body={"model": "m", "input": [user]}, turn=turn), [ANSWER])
    assert played.machine.keep_socket("socket-1", opened_at=99.0)
    more = {"role": "user", "content": [{"type": "input_text", "text": "more"}]}
    reply = {"role": "assistant", "content": [{"type": "output_text", "text": "Hi"}]}
    warm = {"model": "m", "input": [user, reply, more], "generate": False}
    turn = Turn(key="k", upstream=UPSTREAM.key, credential="c", store=store, cache=cache)
    empty = {"type": "response.completed", "response": {**RESPONSE, "output": []}}
    played = play(job(W, body=warm, turn=turn), [[CREATED, empty]])
    assert played.machine.outcome.continued
    assert store.enabled(UPSTREAM.key)


def test_quota_events_are_read_and_not_output() -> None:
    rate_limits = {
        "type": "codex.rate_limits",
        "rate_limits": {"primary": {"used_percent": 42.0, "window_minutes": 300}},
    }
    played = play(job(), [[rate_limits, *ANSWER]])
    played.machine.note_quota()
    assert played.text() == "Hi" and "42 %" in played.machine.outcome.quota


def test_what_went_upstream_is_kept_for_display_without_credentials() -> None:
    played = play(job(W), [ANSWER])
    machine = played.machine
    machine.sending({"authorization": "Bearer sk-test", "session_id": "k"})
    assert machine.outcome.headers == {"authorization": "<redacted>", "session_id": "k"}
    assert json.loads(played.opens[0].payload)["type"] == "response.create"
    assert machine.outcome.sent == played.opens[0].payload


def _conversation() -> tuple[ConversationStore, ReasoningCache]:
    """A store and a cache on a clock that stands still at 100 s (no socket ages)."""
    return ConversationStore(clock=lambda: 100.0), ReasoningCache(clock=lambda: 100.0)


def test_a_continuation_miss_is_resent_in_full_and_forgets_the_conversation() -> None:
    store, cache = _conversation()
    user = {"role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    first = {"model": "m", "input": [user]}
    turn = Turn(key="k", upstream=UPSTREAM.key, credential="c", store=store, cache=cache)
    played = play(job(W, body=first, turn=turn), [ANSWER])
    assert played.machine.keep_socket("socket-1", opened_at=99.0)
    reply = {"role": "assistant", "content": [{"type": "output_text", "text": "Hi"}]}
    more = {"role": "user", "content": [{"type": "input_text", "text": "more"}]}
    second = {"model": "m", "input": [user, reply, more]}
    turn = Turn(key="k", upstream=UPSTREAM.key, credential="c", store=store, cache=cache)
    missing = UpstreamError("gone", status=400, code="previous_response_not_found")
    played = play(job(W, body=second, turn=turn), [[missing], ANSWER])
    continued, full = (json.loads(o.payload) for o in played.opens)
    assert played.opens[0].socket == "socket-1" and continued["previous_response_id"]
    assert len(continued["input"]) == 1 and "previous_response_id" not in full
    assert played.routes[1] == (W, "in full (continuation miss)")
    assert [t.failure for t in played.machine.outcome.tried] == [Failure.CONTINUATION_MISS, None]
    assert (
        len(store) == 0
        or store.plan(
            "k", second, upstream=UPSTREAM.key, credential="c", socket_usable=lambda s: True
        )
        is None
    )


def test_a_socket_that_is_not_usable_is_never_continued_on() -> None:
    store, cache = _conversation()
    user = {"role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    turn = Turn(key="k", upstream=UPSTREAM.key, credential="c", store=store, cache=cache)
    play(job(W, body={"model": "m", "input": [user]}, turn=turn), [ANSWER]).machine.keep_socket(
        "dead", 99.0
    )
    reply = {"role": "assistant", "content": [{"type": "output_text", "text": "Hi"}]}
    second = {"model": "m", "input": [user, reply, {"role": "user", "content": "more"}]}
    turn = Turn(key="k", upstream=UPSTREAM.key, credential="c", store=store, cache=cache)
    played = play(job(W, body=second, turn=turn), [ANSWER], usable=lambda s: False)
    assert played.opens[0].socket is None
    assert "previous_response_id" not in json.loads(played.opens[0].payload)


def test_a_refused_replayed_item_is_resent_without_and_forgotten() -> None:
    call_item = {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}
    reasoning = {"type": "reasoning", "summary": [], "encrypted_content": "from-elsewhere"}
    cache = ReasoningCache()
    cache.keep("cred", [reasoning, call_item])
    user = {"role": "user", "content": "hi"}
    body = {"model": "m", "input": [user, call_item]}
    turn = Turn(key="k", upstream=UPSTREAM.key, credential="cred", store=None, cache=cache)
    refused = UpstreamError("unverified", status=400, code="invalid_encrypted_content")
    played = play(job(body=body, turn=turn), [[refused], ANSWER])
    assert [len(json.loads(o.payload)["input"]) for o in played.opens] == [3, 2]
    assert played.routes[1] == (H, "without replayed reasoning")
    assert cache.replay("cred", [user, call_item])[1] == 0


def test_a_refused_replay_with_nothing_replayed_is_the_clients_own() -> None:
    refused = UpstreamError("unverified", status=400, code="invalid_encrypted_content")
    turn = Turn(key="k", upstream=UPSTREAM.key, credential="c", store=None, cache=ReasoningCache())
    played = play(job(turn=turn), [[refused]])
    assert played.routes == [(H, "first")] and isinstance(played.end, Fail)


def test_the_codex_profile_shapes_the_frame_and_the_session_header_goes_last() -> None:
    the_job = job(W)
    the_job.upstream = upstream_for("https://chatgpt.com/backend-api/codex", "", "/x")
    the_job.session_headers = {"session_id": "conv"}
    opened = CallMachine(the_job, jitter=lambda: 0.0).start(lambda s: True)
    assert opened.extra == {"session_id": "conv", **CODEX.ws_headers}
    assert the_job.upstream.profile is not OPENAI


def test_a_1009_on_a_websocket_only_model_is_not_blamed_on_the_client() -> None:
    too_big = WebSocketClosed("message too big", 1009)
    needs_ws = UpstreamError("routing_unsupported: WebSocket only", status=400)
    played = play(job(W), [[too_big], [needs_ws]])
    assert isinstance(played.end, Fail)
    assert (played.end.error.status, played.end.error.code) == (502, "upstream_message_too_big")
    assert [o.attempt.route for o in played.opens] == [W, H]


# ---- the Codex backend of late 2026 ------------------------------------------------------------

RATE_LIMITS = {
    "type": "codex.rate_limits",
    "rate_limits": {"primary": {"used_percent": 7.0, "window_minutes": 300}},
}


def test_a_codex_client_gets_the_rate_limits_event_and_the_quota_is_read_too() -> None:
    the_job = job(kind=CallKind.RESPONSES)
    the_job.make_sink = lambda: ResponsesStreamSink(vendor_events=True)
    played = play(the_job, [[RATE_LIMITS, *ANSWER]])
    played.machine.note_quota()
    assert b"event: codex.rate_limits" in played.client
    assert "7 %" in played.machine.outcome.quota
    other = play(job(kind=CallKind.RESPONSES), [[RATE_LIMITS, *ANSWER]])
    assert b"codex.rate_limits" not in other.client


def test_a_refusal_is_explained_once_in_the_answer_and_the_outcome() -> None:
    the_job = job()
    the_job.explain = lambda err: (setattr(err, "message", err.message + " [why]"), err)[1]
    played = play(the_job, [[UpstreamError("Model not found x", status=404)]])
    assert isinstance(played.end, Fail) and played.end.error.message.endswith(" [why]")
    assert played.machine.outcome.error is not None
    assert played.machine.outcome.error.endswith(" [why]")


@pytest.mark.parametrize(
    ("served", "header"), [("auto", "asked=priority; got=auto"), ("priority", None)]
)
def test_the_answer_s_head_says_a_downgraded_tier(served: str, header: str | None) -> None:
    from chat2responses.upstream.notes import TIER_HEADER, UpstreamNotes

    the_job = job()
    assert the_job.quota is not None
    the_job.quota.notes = UpstreamNotes(asked_tier="priority")
    created = {"type": "response.created", "response": {**RESPONSE, "service_tier": served}}
    played = play(the_job, [[created, *ANSWER[1:]]])
    assert played.machine.answer_headers() == ({TIER_HEADER: header} if header else {})


# ---- what the machine records and logs (the mutants of scripts/mutants) -------------------------


def _well_formed(client: bytes) -> bool:
    """Every event of a chat stream is one `data:` line."""
    return all(event.startswith(b"data: ") for event in client.split(b"\n\n") if event)


def test_a_stream_is_well_formed_sse_to_its_end_and_the_outcome_says_what_happened() -> None:
    played = play(job(), [ANSWER])
    assert _well_formed(played.client)
    outcome = played.machine.outcome
    assert [(t.failure, t.status) for t in outcome.tried] == [(None, 200)]
    assert outcome.client == played.client and not outcome.continued and outcome.full_size == 0


def test_a_json_answer_keeps_no_client_copy() -> None:
    assert play(job(stream=False), [ANSWER]).machine.outcome.client == b""


def test_what_the_upstream_answered_is_recorded_for_the_leg() -> None:
    machine = CallMachine(job(), jitter=lambda: 0.0)
    machine.start(lambda s: True)
    machine.opened(200, {"x-codex-primary-used-percent": "42"})
    assert machine.outcome.upstream_status == 200
    machine.note_quota()
    assert "42 %" in machine.outcome.quota
    failed = CallMachine(job(retries=0), jitter=lambda: 0.0)
    failed.start(lambda s: True)
    failed.failure(five(503))
    assert failed.outcome.upstream_status == 503
    late = CallMachine(job(retries=0), jitter=lambda: 0.0)
    late.start(lambda s: True)
    late.opened(200)
    late.event(ADDED)
    late.failure(five(500))  # broke off after the answer began: the leg's status stays 200
    assert late.outcome.upstream_status == 200
    assert [t.status for t in failed.outcome.tried] == [503]


def test_each_http_attempt_keeps_its_own_transcript_and_each_websocket_its_own_frames() -> None:
    machine = CallMachine(job(), jitter=lambda: 0.0)
    machine.start(lambda s: True)
    machine.transcript().add(b"the first attempt's answer")
    machine.failure(five(503))
    assert machine.transcript().value() == b""
    ws = CallMachine(job(W), jitter=lambda: 0.0)
    ws.start(lambda s: True)
    ws.frame('{"type":"response.created"}')
    ws.failure(DROPPED)
    assert (ws.outcome.frames, ws.outcome.frames_size) == ([], 0)
    ws.frame('{"type":"x"}')
    assert ws.outcome.frames_size == len('{"type":"x"}')


def test_an_error_frame_is_kept_redacted_and_others_as_they_came() -> None:
    machine = CallMachine(job(W), jitter=lambda: 0.0)
    machine.start(lambda s: True)
    plain = '{"type":"response.created","response":{"id":"resp_1"}}'
    error = '{"type":"error","error":{"message":"bad token Bearer sk-secret-12345678901234"}}'
    failed = '{"type":"response.failed","response":{"error": {"message":"Bearer sk-abcdefghij"}}}'
    done = '{"type":"response.completed","response":{"error":null,"text":"Bearer sk-1234567890"}}'
    for text in (plain, error, failed, done):
        machine.frame(text)
    assert machine.outcome.frames[0] == plain
    assert "sk-secret" not in machine.outcome.frames[1] and '"error"' in machine.outcome.frames[1]
    assert "sk-abc" not in machine.outcome.frames[2] and "<redacted>" in machine.outcome.frames[2]
    assert machine.outcome.frames[3] == done  # no error in it: kept as it came


def test_the_attempt_carries_the_clients_headers_and_the_profiles_frame_extras() -> None:
    the_job = job(W)
    the_job.translation = Translation(
        the_job.body, True, True, "gpt-5.5", MATCH, (), ws_extra={"client_metadata": {"k": "v"}}
    )
    opened = CallMachine(the_job, jitter=lambda: 0.0).start(lambda s: True)
    assert opened.headers == {"authorization": "Bearer sk-test"}
    assert json.loads(opened.payload)["client_metadata"] == {"k": "v"}


def test_the_answer_head_says_a_downgraded_tier_only_when_there_is_a_quota_tap() -> None:
    the_job = job()
    the_job.quota = None
    machine = CallMachine(the_job, jitter=lambda: 0.0)
    machine.start(lambda s: True)
    assert machine.answer_headers() == {}
    machine.opened(200, {"x-any": "1"})  # no tap: nothing to read them into, no error


def test_a_miss_without_a_conversation_is_still_a_miss(caplog: pytest.LogCaptureFixture) -> None:
    missing = UpstreamError("gone", status=400, code="previous_response_not_found")
    played = play(job(), [[missing]])
    assert isinstance(played.end, Fail)
    assert [t.failure for t in played.machine.outcome.tried] == [Failure.CONTINUATION_MISS]


def test_a_refused_replay_of_the_clients_own_items_is_recorded_as_fatal() -> None:
    refused = UpstreamError("unverified", status=400, code="invalid_encrypted_content")
    turn = Turn(key="k", upstream=UPSTREAM.key, credential="c", store=None, cache=ReasoningCache())
    played = play(job(turn=turn), [[refused]])
    assert [t.failure for t in played.machine.outcome.tried] == [Failure.FATAL]


def test_a_5xx_on_a_continued_turn_is_a_miss_resent_in_full() -> None:
    store, cache = _conversation()
    user = {"role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    turn = Turn(key="k", upstream=UPSTREAM.key, credential="c", store=store, cache=cache)
    play(job(W, body={"model": "m", "input": [user]}, turn=turn), [ANSWER]).machine.keep_socket(
        "socket-1", 99.0
    )
    reply = {"role": "assistant", "content": [{"type": "output_text", "text": "Hi"}]}
    second = {"model": "m", "input": [user, reply, {"role": "user", "content": "more"}]}
    the_job = job(
        W,
        body=second,
        turn=Turn(key="k", upstream=UPSTREAM.key, credential="c", store=store, cache=cache),
    )
    the_job.request_size = 1234
    machine = CallMachine(the_job, jitter=lambda: 0.0)
    first = machine.start(lambda s: True)
    assert machine.outcome.continued and machine.outcome.full_size == 1234
    assert first.socket == "socket-1"
    following = machine.failure(five(500))
    assert isinstance(following, Open) and following.attempt.why == "in full (continuation miss)"
    assert not machine.outcome.continued and machine.outcome.full_size == 0
    assert machine.sockets_to_release() == []  # the continued socket was used, then dropped


def test_a_continuations_socket_no_attempt_used_goes_back() -> None:
    store, cache = _conversation()
    user = {"role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    turn = Turn(key="k", upstream=UPSTREAM.key, credential="c", store=store, cache=cache)
    play(job(W, body={"model": "m", "input": [user]}, turn=turn), [ANSWER]).machine.keep_socket(
        "socket-1", 99.0
    )
    reply = {"role": "assistant", "content": [{"type": "output_text", "text": "Hi"}]}
    second = {"model": "m", "input": [user, reply, {"role": "user", "content": "more"}]}
    turn = Turn(key="k", upstream=UPSTREAM.key, credential="c", store=store, cache=cache)
    machine = CallMachine(job(W, body=second, turn=turn), jitter=lambda: 0.0)
    machine.start(lambda s: True)  # the client leaves before the attempt is made
    assert machine.sockets_to_release() == ["socket-1"] and turn.continuation is None
    assert machine.sockets_to_release() == []
    assert CallMachine(job(), jitter=lambda: 0.0).sockets_to_release() == []


def test_what_the_machine_says_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="chat2responses.call.machine")
    catalog = job(W, reason=Reason.CATALOG)
    play(catalog, [[REFUSED_404], ANSWER])
    play(job(), [[five(503)], ANSWER])
    play(job(W), [[ADDED, delta("H"), ADVISORY, delta("i"), ITEM_DONE, COMPLETED]])
    said = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert said == [
        (
            "WARNING",
            "gpt-5.5: the catalog says it prefers the WebSocket, but "
            f"{UPSTREAM.key} refused the upgrade (404); trying HTTP, and keeping to it if it "
            "answers",
        ),
        ("INFO", "gpt-5.5: no websocket here (404); retrying over http"),
        ("INFO", "gpt-5.5: learned that it needs http; later requests go there directly"),
        ("INFO", "gpt-5.5: upstream failed (503); retrying in 0.8 s (1 of 2)"),
        ("WARNING", f"gpt-5.5: the upstream reported {ADVISORY}"),
    ]


def test_the_quotas_warnings_and_what_a_call_taught_are_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="chat2responses.call.machine")
    machine = CallMachine(job(), jitter=lambda: 0.0)
    machine.start(lambda s: True)
    assert machine.job.quota is not None
    machine.job.quota.warnings.append("5 h window passed 90 %")
    machine.note_quota()
    played = play(job(W, memory=Memory()), [[REFUSED_404], ANSWER])
    said = [r.getMessage() for r in caplog.records]
    assert said[0] == "5 h window passed 90 %" and machine.job.quota.warnings == []
    assert said[-1] == "gpt-5.5: learned that it needs http; later requests go there directly"
    assert played.machine.outcome.learned


def test_an_answer_that_speaks_of_a_bearer_is_kept_as_it_came() -> None:
    machine = CallMachine(job(W), jitter=lambda: 0.0)
    machine.start(lambda s: True)
    text = json.dumps(delta("set Authorization: Bearer sk-abcdefghijklmnopqrstuvwxyz"))
    machine.frame(text)
    assert machine.outcome.frames == [text]  # only error frames are redacted


def test_a_stopped_answer_whose_upstream_ends_without_a_terminal_event_ends_well() -> None:
    machine = CallMachine(job(stop=("i",)), jitter=lambda: 0.0)
    machine.start(lambda s: True)
    machine.event(ADDED)
    lingering = machine.event(delta("Hi there"))
    assert isinstance(lingering, Linger)
    ended = machine.end()  # the upstream's events ended within the wait
    assert isinstance(ended, Finish) and not ended.close
    assert ended.data == b"data: [DONE]\n\n"


def test_a_stopped_answer_ends_well_formed_whether_its_usage_came_or_not() -> None:
    cut = play(job(stop=("i",)), [[ADDED, delta("Hi there")]])  # the wait ran out
    assert isinstance(cut.end, Finish) and cut.end.close and _well_formed(cut.client)
    full = play(job(stop=("i",)), [[ADDED, delta("Hi there"), COMPLETED_WITH_USAGE]])
    assert _well_formed(full.client)


def test_only_a_refused_upgrade_of_a_catalog_route_is_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="chat2responses.call.machine")
    play(job(W, reason=Reason.CATALOG), [[five(503)], ANSWER])
    assert not any("catalog says" in r.getMessage() for r in caplog.records)


def test_a_socket_the_conversation_lets_go_of_is_released() -> None:
    store, cache = _conversation()
    user = {"role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    body = {"model": "m", "input": [user]}
    first = Turn(key="k", upstream=UPSTREAM.key, credential="c", store=store, cache=cache)
    play(job(W, body=body, turn=first), [ANSWER]).machine.keep_socket("old", 99.0)
    again = Turn(key="k", upstream=UPSTREAM.key, credential="c", store=store, cache=cache)
    played = play(job(W, body=body, turn=again), [ANSWER])  # the same first turn: in full
    assert played.machine.keep_socket("new", 99.0)  # the record moves to the new socket
    assert played.machine.sockets_to_release() == ["old"]


def test_a_transient_failure_of_a_full_send_keeps_the_conversation() -> None:
    store, cache = _conversation()
    user = {"role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    first = Turn(key="k", upstream=UPSTREAM.key, credential="c", store=store, cache=cache)
    play(job(W, body={"model": "m", "input": [user]}, turn=first), [ANSWER]).machine.keep_socket(
        "socket-1", 99.0
    )
    reply = {"role": "assistant", "content": [{"type": "output_text", "text": "Hi"}]}
    second = {"model": "m", "input": [user, reply, {"role": "user", "content": "more"}]}
    busy = Turn(key="k", upstream=UPSTREAM.key, credential="c", store=store, cache=cache)
    failed = play(job(W, body=second, turn=busy, retries=0), [[five(503)]], usable=lambda s: False)
    assert isinstance(failed.end, Fail)
    later = Turn(key="k", upstream=UPSTREAM.key, credential="c", store=store, cache=cache)
    assert later.plan(second, lambda s: True)  # the record is still there to continue on


def test_a_transient_failure_keeps_the_reasoning_replayed_for_the_retry() -> None:
    call_item = {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}
    reasoning = {"type": "reasoning", "summary": [], "encrypted_content": "kept"}
    cache = ReasoningCache(clock=lambda: 100.0)
    cache.keep("cred", [reasoning, call_item])
    body = {"model": "m", "input": [{"role": "user", "content": "hi"}, call_item]}
    turn = Turn(key="k", upstream=UPSTREAM.key, credential="cred", store=None, cache=cache)
    played = play(job(body=body, turn=turn), [[five(503)], ANSWER])
    assert [len(json.loads(o.payload)["input"]) for o in played.opens] == [3, 3]


def test_an_empty_continued_answer_is_said_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="chat2responses.call.machine")
    store, cache = _conversation()
    user = {"role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    first = Turn(key="k", upstream=UPSTREAM.key, credential="c", store=store, cache=cache)
    play(job(W, body={"model": "m", "input": [user]}, turn=first), [ANSWER]).machine.keep_socket(
        "socket-1", 99.0
    )
    reply = {"role": "assistant", "content": [{"type": "output_text", "text": "Hi"}]}
    second = {"model": "m", "input": [user, reply, {"role": "user", "content": "more"}]}
    turn = Turn(key="k", upstream=UPSTREAM.key, credential="c", store=store, cache=cache)
    empty = {"type": "response.completed", "response": {**RESPONSE, "output": []}}
    play(job(W, body=second, turn=turn), [[empty]])
    assert [r.getMessage() for r in caplog.records] == [
        f"a continued response from {UPSTREAM.key} came back empty: continuing conversations "
        "there is off until chat2responses restarts"
    ]
