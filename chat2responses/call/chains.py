"""`previous_response_id` for Responses clients, on an upstream that stores nothing.

A Responses client may chain its turns by id (the OpenAI Agents SDK's server-state mode, the AI
SDK's `previousResponseId`, the Codex CLI on its own WebSocket): it sends only the new items and
the id of the answer they follow. The Codex backend keeps nothing (`store: false`), so the addon
keeps what it needs of each answer it served a Responses client and turns a chained request back
into a whole one (`expand`): the earlier response's input, its output, then the new items. The
whole request then travels like any other: continued on the conversation's kept socket when the
answer lives there (call/conversation.py), sent in full otherwise.

Rule 1: kept per credential (a digest), for answers the addon served a Responses client; an id is
        found only under the credential that got it.
Rule 2: a link holds the request's whole input (the client's items, shared with the link before
        it, never copied) and the answer's output as a client sends it back: without ids and
        statuses, reasoning only with its `encrypted_content`.
Rule 3: bounded: `per_credential` links per credential and `cap` in all, least recently used
        first out; a link unused for `ttl` seconds is forgotten. An id not found is a 400
        `previous_response_not_found` that says how long the proxy keeps responses.
Rule 4: a request whose upstream keeps its responses itself (a client's `store: true` on an API
        that honours it) is left as it is.

Pure: no I/O; the clock is injected (monotonic seconds).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chat2responses.call.units import REASONING, item_type
from chat2responses.protocol.errors import ClientError

PREVIOUS = "previous_response_id"
CHAIN_TTL = 3600.0  # seconds
PER_CREDENTIAL = 256
CHAIN_CAP = 4096
_METADATA = frozenset({"id", "status"})


def not_found(
    previous: str, ttl: float = CHAIN_TTL, per_credential: int = PER_CREDENTIAL
) -> ClientError:
    return ClientError(
        f"Previous response with id '{previous[:100]}' not found. chat2responses keeps the "
        f"responses it served for {ttl / 60:g} minutes after their last use (the last "
        f"{per_credential} per API key or login), and the upstream stores none: send the whole "
        "conversation as input instead.",
        code="previous_response_not_found",
        param=PREVIOUS,
    )


def chained(body: Mapping[str, Any], *, upstream_stores: bool) -> str | None:
    """The id `body` chains from when the addon must resolve it (rule 4), else None."""
    previous = body.get(PREVIOUS)
    if previous is None:
        return None
    if not isinstance(previous, str) or not previous:
        raise ClientError(f"{PREVIOUS} must be a response id (a string)", param=PREVIOUS)
    if upstream_stores and body.get("store") is True:
        return None
    return previous


def as_items(value: object) -> list[Any]:
    """A Responses `input` as a list of items (a string is one user message)."""
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    return list(value) if isinstance(value, list) else []


def sent_back(output: Sequence[Any]) -> list[Any]:
    """The answer's output items as a client sends them back (rule 2)."""
    out: list[Any] = []
    for item in output:
        if not isinstance(item, dict):
            continue
        if item_type(item) == REASONING:
            encrypted = item.get("encrypted_content")
            if isinstance(encrypted, str) and encrypted:
                summary = item.get("summary")
                out.append(
                    {
                        "type": REASONING,
                        "summary": summary if isinstance(summary, list) else [],
                        "encrypted_content": encrypted,
                    }
                )
            continue
        out.append({key: value for key, value in item.items() if key not in _METADATA})
    return out


@dataclass(slots=True)
class _Link:
    input: list[Any]  # the whole input of the request answered, shared (rule 2)
    output: list[Any]  # as a client sends it back
    at: float  # when kept or last chained from


class ResponseChains:
    """The answers served to Responses clients, by credential and response id (rules 1-3)."""

    def __init__(
        self,
        *,
        ttl: float = CHAIN_TTL,
        per_credential: int = PER_CREDENTIAL,
        cap: int = CHAIN_CAP,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._per_credential = per_credential
        self._cap = cap
        self._clock = clock
        self._links: OrderedDict[tuple[str, str], _Link] = OrderedDict()
        self._counts: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._links)

    def expand(self, credential: str, body: Mapping[str, Any], previous: str) -> dict[str, Any]:
        """`body` as a whole request: the input of `previous`, its output, then `body`'s input;
        raises the 400 of rule 3 when `previous` is not kept for `credential`."""
        now = self._clock()
        self._expire(now)
        link = self._links.get((credential, previous))
        if link is None:
            raise not_found(previous, self._ttl, self._per_credential)
        link.at = now
        self._links.move_to_end((credential, previous))
        whole = {key: value for key, value in body.items() if key != PREVIOUS}
        whole["input"] = [*link.input, *link.output, *as_items(body.get("input"))]
        return whole

    def keep(
        self, credential: str, response_id: str, input_items: list[Any], output: Sequence[Any]
    ) -> None:
        """After an answer to a Responses client: `input_items` is the whole input it answered
        (as `expand` made it), `output` the upstream's output items."""
        now = self._clock()
        where = (credential, response_id)
        if self._links.pop(where, None) is None:
            self._counts[credential] = self._counts.get(credential, 0) + 1
        self._links[where] = _Link(input_items, sent_back(output), now)
        self._expire(now)
        while self._counts.get(credential, 0) > self._per_credential:
            self._drop(next(w for w in self._links if w[0] == credential))
        while len(self._links) > self._cap:
            self._drop(next(iter(self._links)))

    def _expire(self, now: float) -> None:
        # In the order they were last used: the stale ones are at the front.
        while self._links:
            where, link = next(iter(self._links.items()))
            if now - link.at < self._ttl:
                return
            self._drop(where)

    def _drop(self, where: tuple[str, str]) -> None:
        if self._links.pop(where, None) is not None:
            self._counts[where[0]] -= 1
            if not self._counts[where[0]]:
                del self._counts[where[0]]


@dataclass(frozen=True, slots=True)
class ChainLink:
    """One Responses call's place in its chain: kept when it is answered (call/turn.py)."""

    chains: ResponseChains
    credential: str
    input: list[Any]  # the whole input of the request, as the client meant it

    def keep(self, response_id: str, output: Sequence[Any]) -> None:
        self.chains.keep(self.credential, response_id, self.input, output)
