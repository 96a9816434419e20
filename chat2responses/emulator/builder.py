"""One response's event stream: sequence numbers, indexes, ids and the `Response` object.

A scenario drives a `ResponseWriter` with high-level actions ("start", "a reasoning item with
these summary parts", "a message streamed in these deltas", "complete") and the writer records
the `Step`s a transport performs: emit an event, sleep, drop the connection, or reject the
request before any byte. The events follow reference/openai-protocols.md §1.4:

- Rule 1: `response.created` then `response.in_progress` come first; one terminal event ends the
  stream (`completed`, `incomplete`, `failed` or `error`), unless the scenario drops it.
- Rule 2: `sequence_number` counts every event from 0; `output_index` counts items from 0.
- Rule 3: an item is announced by `output_item.added` before any of its deltas, and the deltas
  concatenate to the text of the matching `.done` event.

The steps are steps.py's; the `Response` object and its usage are response_object.py's.
Usage: `input_tokens` and `cached_tokens` come from the prompt cache (tokens.py) when the
backend passes a `PromptUsage`, else from counting the body. A reasoning item gets
`encrypted_content` (when the request includes `reasoning.encrypted_content`) sealed for the
caller (signing.py).

Ids derive from the response id (`resp_<tag>` → `rs_<tag>00`, `msg_<tag>01`, `fc_<tag>02`,
`call_<tag>02`), so a stream is a pure function of the request, the id and `created_at`.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from chat2responses.emulator.response_object import response_object, response_usage
from chat2responses.emulator.rules import Rejection
from chat2responses.emulator.signing import ReasoningSealer, secret_for
from chat2responses.emulator.steps import Close, Drop, Emit, Headers, Reject, Sleep, Step
from chat2responses.emulator.tokens import PromptUsage, count_tokens
from chat2responses.protocol.events import EventType

_NO_FIELDS: Mapping[str, Any] = {}
# Seals reasoning items when the backend passes no sealer (a scenario played on its own).
_ANONYMOUS = ReasoningSealer(secret_for("emulator"), "")


class ItemEnd(StrEnum):
    """How a streamed item ends: its `.done` events with a final status, or none at all."""

    COMPLETED = "completed"
    INCOMPLETE = "incomplete"
    OPEN = "open"  # the stream stops mid-item (response.failed, or a dropped connection)


class PartKind(StrEnum):
    OUTPUT_TEXT = "output_text"
    REFUSAL = "refusal"


@dataclass(frozen=True, slots=True)
class _PartSpec:
    delta: EventType
    done: EventType
    field: str  # the part's text field, also the `.done` event's
    logprobs: bool  # whether the part and its delta/done events carry `logprobs: []`

    def extra(self) -> dict[str, Any]:
        return {"logprobs": []} if self.logprobs else {}


_PARTS: Mapping[PartKind, _PartSpec] = {
    PartKind.OUTPUT_TEXT: _PartSpec(
        EventType.OUTPUT_TEXT_DELTA, EventType.OUTPUT_TEXT_DONE, "text", logprobs=True
    ),
    PartKind.REFUSAL: _PartSpec(
        EventType.REFUSAL_DELTA, EventType.REFUSAL_DONE, "refusal", logprobs=False
    ),
}


def _part(kind: PartKind, text: str) -> dict[str, Any]:
    spec = _PARTS[kind]
    annotations: dict[str, Any] = {"annotations": []} if kind is PartKind.OUTPUT_TEXT else {}
    return {"type": kind.value, spec.field: text, **annotations, **spec.extra()}


class ResponseWriter:
    """Records the steps of one response. Call `start` first and one terminal method last."""

    def __init__(
        self,
        body: Mapping[str, Any],
        *,
        response_id: str,
        created_at: int,
        usage: PromptUsage | None = None,
        sealer: ReasoningSealer | None = None,
        service_tier: str = "default",
    ) -> None:
        self.body = body
        self.service_tier = service_tier  # the tier the response is served at
        self.prompt = usage or PromptUsage(count_tokens(body))
        self._sealer = sealer or _ANONYMOUS
        self.response_id = response_id
        self.created_at = created_at
        self.steps: list[Step] = []
        self._tag = response_id.removeprefix("resp_")
        self._sequence = 0
        self._delay = 0.0
        self._output: list[dict[str, Any]] = []
        self._output_chars = 0
        self._reasoning_chars = 0

    # -- pacing and faults -------------------------------------------------------------------

    def pace(self, seconds: float) -> None:
        """Sleep `seconds` before every later event but the first."""
        self._delay = seconds

    def silence(self, seconds: float) -> None:
        """Say nothing for `seconds` at this point of the stream."""
        self.steps.append(Sleep(seconds))

    def close(self, code: int, reason: str = "") -> None:
        self.steps.append(Close(code, reason))

    def reject(self, rejection: Rejection) -> None:
        if self.steps:
            raise RuntimeError("a rejection must come before any event")
        self.steps.append(Reject(rejection))

    def drop(self) -> None:
        self.steps.append(Drop())

    def headers(self, **headers: str) -> None:
        """HTTP response headers (names with `_` for `-`): must come before any event."""
        if any(isinstance(step, Emit) for step in self.steps):
            raise RuntimeError("headers must come before any event")
        self.steps.append(Headers(tuple((k.replace("_", "-"), v) for k, v in headers.items())))

    def vendor(self, kind: str, **fields: Any) -> None:
        """An event outside the Responses API (`response.metadata`, `codex.*`)."""
        self.steps.append(Emit({"type": kind, **fields, "sequence_number": self._sequence}))
        self._sequence += 1

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._emit(EventType.CREATED, response=self._response("in_progress"))
        self._emit(EventType.IN_PROGRESS, response=self._response("in_progress"))

    def complete(self, *, empty_output: bool = False) -> None:
        """`response.completed`; with `empty_output`, its `output` is `[]` as the Codex backend
        sends it (the items then only come in `output_item.done`, cliproxyapi.md §3)."""
        response = self._response("completed", finished=True)
        if empty_output:
            response["output"] = []
        self._emit(EventType.COMPLETED, response=response)

    def incomplete(self, reason: str) -> None:
        response = self._response("incomplete", finished=True)
        response["incomplete_details"] = {"reason": reason}
        self._emit(EventType.INCOMPLETE, response=response)

    def fail(self, code: str, message: str) -> None:
        response = self._response("failed", finished=True)
        response["error"] = {"code": code, "message": message}
        self._emit(EventType.FAILED, response=response)

    def error(self, code: str, message: str, *, type: str | None = None) -> None:
        """A top-level `error` event (the SSE shape, openai-protocols.md §1.3): terminal. With
        `type`, the event also carries the backend's nested `error` object
        (`{"type", "code", "message"}`), as the Codex backend sends `server_is_overloaded`."""
        nested = {"error": {"type": type, "code": code, "message": message}} if type else {}
        self._emit(EventType.ERROR, code=code, message=message, param=None, **nested)

    # -- output items ------------------------------------------------------------------------

    def reasoning(self, parts: Sequence[Sequence[str]], *, deltas: bool = True) -> None:
        """A reasoning item whose summary parts are each streamed in the given deltas; without
        `deltas`, each part's text comes only in its `.done` event (the backend's
        `reasoning_summary_delivery: "sequential_cutoff"`)."""
        index, item_id = self._next_item("rs")
        self._emit(
            EventType.OUTPUT_ITEM_ADDED,
            output_index=index,
            item={"id": item_id, "type": "reasoning", "summary": []},
        )
        summary = [
            self._summary_part(item_id, index, si, part, streamed=deltas)
            for si, part in enumerate(parts)
        ]
        item: dict[str, Any] = {"id": item_id, "type": "reasoning", "summary": summary}
        if "reasoning.encrypted_content" in (self.body.get("include") or ()):
            item["encrypted_content"] = self._sealer.seal(item_id, summary)
        self._finish_item(index, item)

    def _summary_part(
        self,
        item_id: str,
        index: int,
        summary_index: int,
        deltas: Sequence[str],
        *,
        streamed: bool = True,
    ) -> dict[str, Any]:
        where = {"item_id": item_id, "output_index": index, "summary_index": summary_index}
        text = "".join(deltas)
        self._reasoning_chars += len(text)
        empty, full = {"type": "summary_text", "text": ""}, {"type": "summary_text", "text": text}
        self._emit(EventType.REASONING_SUMMARY_PART_ADDED, **where, part=empty)
        if streamed:
            self._deltas(EventType.REASONING_SUMMARY_TEXT_DELTA, where, deltas)
        self._emit(EventType.REASONING_SUMMARY_TEXT_DONE, **where, text=text)
        self._emit(EventType.REASONING_SUMMARY_PART_DONE, **where, part=full)
        return full

    def message(
        self,
        deltas: Sequence[str],
        *,
        kind: PartKind = PartKind.OUTPUT_TEXT,
        end: ItemEnd = ItemEnd.COMPLETED,
    ) -> None:
        """An assistant message with one content part (text or refusal) streamed in `deltas`."""
        index, item_id = self._next_item("msg")
        spec, text = _PARTS[kind], "".join(deltas)
        self._output_chars += len(text)
        item = {"id": item_id, "type": "message", "role": "assistant", "content": []}
        self._emit(
            EventType.OUTPUT_ITEM_ADDED, output_index=index, item=item | _status("in_progress")
        )
        where = {"item_id": item_id, "output_index": index, "content_index": 0}
        self._emit(EventType.CONTENT_PART_ADDED, **where, part=_part(kind, ""))
        self._deltas(spec.delta, where, deltas, spec.extra())
        if end is ItemEnd.OPEN:
            self._output.append(item | _status("incomplete") | {"content": [_part(kind, text)]})
            return
        self._emit(spec.done, **where, **{spec.field: text}, **spec.extra())
        self._emit(EventType.CONTENT_PART_DONE, **where, part=_part(kind, text))
        self._finish_item(index, item | _status(end.value) | {"content": [_part(kind, text)]})

    def function_call(self, name: str, argument_deltas: Sequence[str]) -> None:
        """A function_call item whose JSON arguments are streamed in the given deltas."""
        index, item_id = self._next_item("fc")
        arguments = "".join(argument_deltas)
        self._output_chars += len(arguments)
        item = {"id": item_id, "type": "function_call", "call_id": f"call_{self._tag}{index:02d}"}
        item |= {"name": name, "arguments": ""}
        self._emit(
            EventType.OUTPUT_ITEM_ADDED, output_index=index, item=item | _status("in_progress")
        )
        where = {"item_id": item_id, "output_index": index}
        self._deltas(EventType.FUNCTION_CALL_ARGUMENTS_DELTA, where, argument_deltas)
        self._emit(EventType.FUNCTION_CALL_ARGUMENTS_DONE, **where, name=name, arguments=arguments)
        self._finish_item(index, item | _status("completed") | {"arguments": arguments})

    def custom_tool_call(self, name: str, input_deltas: Sequence[str]) -> None:
        """A custom_tool_call item (a freeform tool, such as an apply-patch tool) whose raw input
        is streamed in the given deltas."""
        index, item_id = self._next_item("ctc")
        text = "".join(input_deltas)
        self._output_chars += len(text)
        item = {
            "id": item_id,
            "type": "custom_tool_call",
            "call_id": f"call_{self._tag}{index:02d}",
        }
        item |= {"name": name, "input": ""}
        self._emit(
            EventType.OUTPUT_ITEM_ADDED, output_index=index, item=item | _status("in_progress")
        )
        where = {"item_id": item_id, "output_index": index}
        self._deltas(EventType.CUSTOM_TOOL_CALL_INPUT_DELTA, where, input_deltas)
        self._emit(EventType.CUSTOM_TOOL_CALL_INPUT_DONE, **where, input=text)
        self._finish_item(index, item | _status("completed") | {"input": text})

    def compaction(self) -> None:
        """The one `compaction` item a `compaction_trigger` asks for: announced and done, with
        `encrypted_content` sealed for the caller (a later request that carries it verifies)."""
        index, item_id = self._next_item("cmp")
        self._emit(
            EventType.OUTPUT_ITEM_ADDED,
            output_index=index,
            item={"id": item_id, "type": "compaction"},
        )
        sealed = self._sealer.seal(item_id, [])
        self._finish_item(index, {"id": item_id, "type": "compaction", "encrypted_content": sealed})

    # -- internals ---------------------------------------------------------------------------

    def _next_item(self, prefix: str) -> tuple[int, str]:
        index = len(self._output)
        return index, f"{prefix}_{self._tag}{index:02d}"

    def _finish_item(self, index: int, item: dict[str, Any]) -> None:
        self._emit(EventType.OUTPUT_ITEM_DONE, output_index=index, item=item)
        self._output.append(item)

    def _deltas(
        self,
        type: EventType,
        where: Mapping[str, Any],
        deltas: Sequence[str],
        extra: Mapping[str, Any] = _NO_FIELDS,
    ) -> None:
        """One `type` event per delta, as `_emit` would record them, in one tight loop: a long
        stream has thousands, all computed before its first byte."""
        if self._delay:
            for delta in deltas:
                self._emit(type, **where, delta=delta, **extra)
            return
        head, first = {"type": type.value, **where}, self._sequence
        self.steps.extend(
            Emit({**head, "delta": delta, **extra, "sequence_number": sequence})
            for sequence, delta in enumerate(deltas, first)
        )
        self._sequence = first + len(deltas)

    def _emit(self, type: EventType, **fields: Any) -> None:
        if self._delay and self._sequence:
            self.steps.append(Sleep(self._delay))
        self.steps.append(Emit({"type": type.value, **fields, "sequence_number": self._sequence}))
        self._sequence += 1

    def _response(self, status: str, *, finished: bool = False) -> dict[str, Any]:
        """The full `Response` object (response_object.py) as it stands now."""
        return response_object(
            self.body,
            response_id=self.response_id,
            created_at=self.created_at,
            status=status,
            service_tier=self.service_tier,
            output=self._output if finished else None,
            usage=(
                response_usage(self.prompt, self._output_chars, self._reasoning_chars)
                if finished
                else None
            ),
        )


def _status(status: str) -> dict[str, Any]:
    return {"status": status}
