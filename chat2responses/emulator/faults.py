"""Faults on purpose: the scenarios that fail, pace or cut a response.

`error_event`, `failed`, `http_error:STATUS`, `rate_limit`, `usage_limit` (429
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

Must not choose the scenario (triggers.py). Pure: no I/O, no clock (pauses are steps).
"""

from __future__ import annotations

from chat2responses.emulator.builder import ItemEnd, ResponseWriter
from chat2responses.emulator.quota import Quota
from chat2responses.emulator.replies import Ask, Reply, greeting, plain_text, short_summary, words
from chat2responses.emulator.rules import Rejection
from chat2responses.protocol.errors import type_for_status


def failed(w: ResponseWriter, ask: Ask) -> None:
    w.start()
    w.message(words("This answer is interrupted by a server"), end=ItemEnd.OPEN)
    w.fail("server_error", "The emulator failed this response on purpose ([scenario:failed]).")


def error_event(w: ResponseWriter, ask: Ask) -> None:
    w.start()
    # The wording codex parses a retry delay from (openai-protocols.md §1.5).
    w.error("rate_limit_exceeded", "Rate limit reached (emulated). Please try again in 1s.")


def http_error(w: ResponseWriter, ask: Ask) -> None:
    status = ask.number
    kind = type_for_status(status)
    message = f"Emulated HTTP {status} error ([scenario:http_error:{status}])."
    w.reject(Rejection(status, message, type=kind, code=f"emulated_{status}"))


def rate_limit(w: ResponseWriter, ask: Ask) -> None:
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


def close_mid_stream(w: ResponseWriter, ask: Ask) -> None:
    w.start()
    w.message(words("This stream is cut off before it"), end=ItemEnd.OPEN)
    w.drop()


def slow(w: ResponseWriter, ask: Ask) -> None:
    w.pace(ask.number / 1000)
    plain_text(w, ask)


OVERLOADED = "server_is_overloaded"
OVERLOADED_MESSAGE = "Our servers are currently overloaded. Please try again later."


def overload(w: ResponseWriter, ask: Ask) -> None:
    w.start()
    w.error(OVERLOADED, OVERLOADED_MESSAGE, type="service_unavailable_error")


def once(fault: Reply) -> Reply:
    def scenario(w: ResponseWriter, ask: Ask) -> None:
        (fault if ask.turn.first_seen else plain_text)(w, ask)

    return scenario


def overload_after_output(w: ResponseWriter, ask: Ask) -> None:
    w.start()
    w.message(words("This answer is overtaken by an overloaded"), end=ItemEnd.OPEN)
    w.error(OVERLOADED, OVERLOADED_MESSAGE, type="service_unavailable_error")


def first_token_delay(w: ResponseWriter, ask: Ask) -> None:
    w.start()
    w.silence(ask.number / 1000)
    w.reasoning(short_summary(ask))
    w.message(words(greeting(ask)))
    w.complete()


def usage_limit(w: ResponseWriter, ask: Ask) -> None:
    w.reject(ask.turn.usage_limit or Quota().usage_limit(0))


def close(code: int) -> Reply:
    def scenario(w: ResponseWriter, ask: Ask) -> None:
        if code == 1006:  # an abnormal closure has no close frame: the TCP connection just ends
            w.drop()
        else:
            w.close(code, "message too big")

    return scenario
