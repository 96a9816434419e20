"""How a call that gives up tells its client not to retry, in the form the client honours.

Clients retry errors on their own, and each retry would cost the upstream again (and wait out a
long `Retry-After` in silence). What the clients this project is tried with do (their source,
and tests/e2e/test_agents.py):
- the openai SDKs (and everything built on them) retry 408, 409, 429 and 5xx twice, honour
  `x-should-retry` above all, and wait a `Retry-After` of up to 60 s;
- the Codex CLI 0.171 ignores `x-should-retry` and `Retry-After`: it retries a 5xx up to 5 times
  per request and a failed stream up to 6 times, but gives up at once on a streamed
  `response.failed` whose code is `server_is_overloaded` (it then says "Selected model is at
  capacity"), and on a 429 `usage_limit_reached` (it shows when the limit resets, from the
  error's `resets_at`);
- opencode 1.18 (the Vercel AI SDK) ignores `x-should-retry` and retries every 429 and 5xx five
  times (2 to 32 s apart, a minute in all, shown as it goes), waiting out any `Retry-After`
  however long. Nothing short of a 4xx it takes for the client's own fault stops it; the proxy
  answers it honestly and makes each of its retries cost one upstream call (call/budget.py).

Rule 1: a `Retry-After` (or `retry-after-ms`) over MAX_CLIENT_WAIT seconds is not passed on (the
        message says when a usage limit resets), and the answer says `x-should-retry: false`.
Rule 2: the chain's budget is spent when the call's transient failures used up its retries:
        the answer says `x-should-retry: false`; so does a usage limit without a known reset.
Rule 3: the Codex CLI's spent Responses stream is answered 200 with one `response.failed` event
        (code `server_is_overloaded`), the one transient failure it does not retry.
Rule 4: anything else keeps the headers it has (an upstream's own `x-should-retry` included),
        but a `Retry-After` (or `retry-after-ms`) that is not a number of at least 0 (`banana`,
        `-5`, a date: an upstream that lies) is not passed on.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from chat2responses.call.policy import Failure, Plan, Tried, retry_after, wait_of
from chat2responses.protocol.errors import ProxyError

MAX_CLIENT_WAIT = 60.0  # seconds: the longest Retry-After passed on (openai-python's own cap)
SHOULD_RETRY = "x-should-retry"
USAGE_LIMIT = "usage_limit_reached"
_RETRY_AFTER = frozenset({"retry-after", "retry-after-ms"})


class Client(StrEnum):
    """Who is calling, as far as how it retries matters (the Codex CLI: upstream/identity.py
    `is_codex_client`)."""

    CODEX = "codex"
    OTHER = "other"


# The failures the policy retries against `responses_retries` (call/policy.py rules 5 and 9).
_RETRIED = frozenset({Failure.TRANSIENT, Failure.DROPPED})


def retries_spent(plan: Plan, history: tuple[Tried, ...]) -> bool:
    """Whether the last attempt failed transiently (a drop included) with every retry the plan
    allowed used (rule 2; none allowed counts too): what the policy's `_retry` declines."""
    if not history or history[-1].failure not in _RETRIED:
        return False
    return sum(t.failure in _RETRIED for t in history) > plan.retries


@dataclass(frozen=True, slots=True)
class GivingUp:
    """How the call's error reaches its client."""

    headers: dict[str, str]  # the error answer's headers
    overloaded_stream: bool = False  # rule 3: a 200 stream ending in `response.failed`


def giving_up(err: ProxyError, *, spent: bool, client: Client, responses_stream: bool) -> GivingUp:
    """Rules 1-4 for `err`; `spent`: transient failures used up the call's retries;
    `responses_stream`: the client reads a Responses stream (SSE or WebSocket frames)."""
    headers = {
        k: v
        for k, v in err.headers.items()
        if k.lower() not in _RETRY_AFTER or wait_of(v) is not None
    }
    wait = retry_after(err)
    refuse = spent or (err.code == USAGE_LIMIT and wait is None)
    if wait is not None and wait > MAX_CLIENT_WAIT:
        headers = {k: v for k, v in headers.items() if k.lower() not in _RETRY_AFTER}
        refuse = True
    if refuse:
        headers = {k: v for k, v in headers.items() if k.lower() != SHOULD_RETRY}
        headers[SHOULD_RETRY] = "false"
    codex = spent and client is Client.CODEX and responses_stream
    return GivingUp(headers, overloaded_stream=codex)
