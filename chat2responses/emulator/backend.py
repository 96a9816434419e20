"""The emulated Codex backend, transport-free: request in, steps out.

`Emulator.respond(body, transport, caller)` applies, in order, the backend's rules (rules.py),
Responses-Lite's shape for Lite models (lite.py), the check of reasoning items sent back
(signing.py) and a reached usage limit (quota.py); then it numbers the response, asks the prompt
cache what the prompt costs (tokens.py) and plays the scripted scenario (scenarios.py). Before
the first step it puts one `Sleep` for the latency model (latency.py), when that is not zero.
Both front ends call it: the HTTP handler frames each emitted event as SSE, a WebSocket handler
sends it as one text frame; a `Reject` step becomes an HTTP error response or an `error` frame.

The model catalog is the package's embedded `models.json` (`embedded_catalog_dict`, the Codex
backend's `/models` shape) unless the config names another; its `prefer_websockets` slugs
are the families refused over HTTP (plus the test prefix `ws-only-`, a model unknown to every
catalog that still needs WebSocket), its `use_responses_lite` slugs the Lite families, its
`aliases` the retired names (refused "…not supported when using Codex with a ChatGPT account").

The catalog also gates models on the caller's client version (`minimal_client_version`), sets
the tiers a request may be served at (catalog_rules.py) and what `/models` lists to a version.
Models of `EmulatorConfig.unstable_websocket` (and `[scenario:unstable_websocket]`) have their
WebSocket answers cut right after `response.in_progress`, as gpt-6-astra's were.

The emulator also owns the login (login.py: `/oauth/token`, `--require-login`) and the quota
(quota.py) every front end reports, and counts what reached it (`Stats`). State (response
counter, prompt cache, the `_once` faults' memory, spent refresh tokens) is bounded. No I/O
beyond reading the embedded catalog; the clock is injected.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chat2responses.emulator.catalog_rules import (
    Version,
    identity_refusal,
    minimal_versions,
    served_tier,
    tiers_of,
)
from chat2responses.emulator.latency import Latency
from chat2responses.emulator.lite import check_lite, lite_slugs, slugs_with
from chat2responses.emulator.login import DEFAULT_TOKEN_TTL, LoginAuthority
from chat2responses.emulator.quota import Quota
from chat2responses.emulator.replies import Turn
from chat2responses.emulator.rules import (
    NOT_AN_OBJECT,
    Rejection,
    Transport,
    check_request,
    detail,
    model_family,
)
from chat2responses.emulator.scenarios import play
from chat2responses.emulator.signing import ReasoningSealer, check_reasoning_items, secret_for
from chat2responses.emulator.steps import Drop, Emit, Reject, Sleep, Step
from chat2responses.emulator.tokens import PromptCache, canonical_json
from chat2responses.emulator.triggers import Scenario, user_text
from chat2responses.upstream.catalog_layers import embedded_catalog_dict

# Models whose name starts with this are refused over HTTP whatever the catalog says.
WS_ONLY_TEST_PREFIX = "ws-only-"
# The real limit on one WebSocket connection's life (openai-protocols.md §4.5).
WS_MAX_AGE = 3600.0
# Prompts the `_once` faults remember having seen.
MAX_SEEN_PROMPTS = 4096


def websocket_slugs(catalog: Mapping[str, Any]) -> frozenset[str]:
    """The catalog's slugs whose entry sets `prefer_websockets`."""
    return slugs_with(catalog, "prefer_websockets")


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    """What a run of the emulator is configured with.

    `ws_only`: model families refused over HTTP (see `rules.model_family`); `http_ok`: families
    served over HTTP even if `ws_only` names them; `lite`: families that take Responses-Lite
    requests only (lite.py); `refuse_websocket`: answer every WebSocket handshake with 426, like
    an upstream without the WebSocket transport (the handshake names no model, so this is per
    server; per handshake, see session.py); `seed`: makes response ids differ between runs that
    want them to, and derives the secret that signs tokens and reasoning items (signing.py);
    `latency`: latency.py; `quota`: quota.py; `rate_limits_event`: start each WebSocket
    response with `codex.rate_limits` (off by default); `ws_max_age`: seconds a WebSocket
    connection serves before `websocket_connection_limit_reached`; `token_ttl`: lifetime of
    the access tokens `/oauth/token` issues; `require_login`: login.py Rule 3; `account_tiers`:
    the service tiers the account has; `unstable_websocket`: model families whose WebSocket
    answers are cut before any output; `retired`: model families refused as retired for
    ChatGPT sign-in.
    """

    catalog: Mapping[str, Any] = field(default_factory=lambda: {"models": []})
    ws_only: frozenset[str] = frozenset({WS_ONLY_TEST_PREFIX})
    http_ok: frozenset[str] = frozenset()
    lite: frozenset[str] = frozenset()
    refuse_websocket: bool = False
    seed: str = "emulator"
    latency: Latency = field(default_factory=Latency)
    quota: Quota = field(default_factory=Quota)
    rate_limits_event: bool = False
    ws_max_age: float = WS_MAX_AGE
    token_ttl: int = DEFAULT_TOKEN_TTL
    require_login: bool = False
    # The tiers the account may use (catalog_rules.py rule 3); `ultrafast` it lacks by default.
    account_tiers: frozenset[str] = frozenset({"priority", "flex"})
    # Model families whose WebSocket answers are cut before any output (`--unstable-websocket`).
    unstable_websocket: frozenset[str] = frozenset()
    # Models retired for ChatGPT sign-in (the catalog's aliases): refused as the backend does.
    retired: frozenset[str] = frozenset()

    @classmethod
    def default(cls, **overrides: Any) -> EmulatorConfig:
        """The catalog given as `catalog` (else the embedded one), its WebSocket-preferring
        slugs as `ws_only` and its Responses-Lite slugs as `lite`, then the other overrides."""
        catalog = overrides.pop("catalog", None) or embedded_catalog_dict()
        derived: dict[str, Any] = {
            "catalog": catalog,
            "ws_only": websocket_slugs(catalog) | {WS_ONLY_TEST_PREFIX},
            "lite": lite_slugs(catalog),
            "retired": frozenset(catalog.get("aliases") or ()),
        }
        return cls(**(derived | overrides))


@dataclass(frozen=True, slots=True)
class Caller:
    """What a request's transport says about it beyond the body: the digest of its credential
    (signing.py Rule 2), whether it carries the Responses-Lite marker, its size in bytes, and the
    client version its headers name (catalog_rules.py rule 1; None: none)."""

    credential: str = ""
    lite_marker: bool = False
    request_bytes: int = 0
    client_version: Version | None = None


@dataclass(slots=True)
class Stats:
    """What reached the emulator: HTTP `/responses` requests, WebSocket connections accepted,
    `response.create` frames, and WebSocket answers cut as unstable."""

    http_requests: int = 0
    websocket_connections: int = 0
    websocket_requests: int = 0
    unstable_cuts: int = 0


class Emulator:
    """Answers Responses requests with steps. One instance serves every connection."""

    def __init__(self, config: EmulatorConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self._clock = clock
        self._counter = itertools.count()
        self._secret = secret_for(config.seed)
        self.cache = PromptCache()
        self.login = LoginAuthority(self._secret, token_ttl=config.token_ttl)
        self._seen: OrderedDict[str, None] = OrderedDict()
        catalog = canonical_json(dict(config.catalog))
        self.catalog_bytes = catalog
        self.models_etag = hashlib.sha256(catalog).hexdigest()[:32]
        self._minimal = minimal_versions(config.catalog)
        self._tiers = tiers_of(config.catalog)
        self.stats = Stats()

    def now(self) -> float:
        return self._clock()

    def next_response_id(self) -> str:
        digest = hashlib.sha256(f"{self.config.seed}:{next(self._counter)}".encode()).hexdigest()
        return f"resp_{digest[:32]}"

    def quota_headers(self) -> dict[str, str]:
        return self.config.quota.headers(self.now())

    def rate_limits_event(self) -> dict[str, Any]:
        return self.config.quota.event(self.now())

    def check_login(self, authorization: str | None) -> Rejection | None:
        """The 401 for a `/responses` request under `require_login`, or None to serve it."""
        if not self.config.require_login:
            return None
        return self.login.check_bearer(authorization, self.now())

    def respond(self, body: object, transport: Transport, caller: Caller = Caller()) -> list[Step]:
        """The steps answering `body` over `transport`: one `Reject`, or a scripted stream;
        either after one `Sleep` when the latency model asks for one."""
        latency = self.config.latency
        if not isinstance(body, dict):
            return [Reject(NOT_AN_OBJECT)]
        sealer = ReasoningSealer(self._secret, caller.credential)
        tier = served_tier(
            str(body.get("model")), body.get("service_tier"), self._tiers, self.config.account_tiers
        )
        rejection = self._refusal(body, transport, caller, sealer) or (
            tier if isinstance(tier, Rejection) else None
        )
        if rejection is not None:
            delay = latency.before_first_event(
                request_bytes=caller.request_bytes, input_tokens=0, cached_tokens=0
            )
            return _after(delay, [Reject(rejection)])
        usage = self.cache.serve(body)
        turn = Turn(
            usage,
            sealer,
            self._first_seen(body),
            self.config.quota.usage_limit(self.now()),
            service_tier=tier if isinstance(tier, str) else "default",
        )
        now = int(self.now())
        steps = play(body, response_id=self.next_response_id(), created_at=now, turn=turn)
        if transport is Transport.WEBSOCKET and self._unstable(body):
            self.stats.unstable_cuts += 1
            steps = _cut_before_output(steps)
        delay = latency.before_first_event(
            request_bytes=caller.request_bytes,
            input_tokens=usage.input_tokens,
            cached_tokens=usage.cached_tokens,
        )
        return _after(delay, steps)

    def _refusal(
        self, body: dict[str, Any], transport: Transport, caller: Caller, sealer: ReasoningSealer
    ) -> Rejection | None:
        model = body.get("model")
        lite = isinstance(model, str) and model_family(model, self.config.lite) is not None
        config = self.config
        rejection = check_request(
            body, transport, ws_only=config.ws_only, http_ok=config.http_ok, lite=lite
        )
        if rejection is None and model_family(body["model"], config.retired) is not None:
            rejection = detail(
                f"The '{body['model']}' model is not supported when using Codex with a ChatGPT "
                "account."
            )
        if rejection is None:
            rejection = identity_refusal(body["model"], caller.client_version, self._minimal)
        if rejection is None and lite:
            rejection = check_lite(body, marked=caller.lite_marker)
        if rejection is None:
            rejection = check_reasoning_items(body["input"], sealer)
        if rejection is None and config.quota.limit_reached:
            rejection = config.quota.usage_limit(self.now())
        return rejection

    def _unstable(self, body: Mapping[str, Any]) -> bool:
        marker = f"[scenario:{Scenario.UNSTABLE_WEBSOCKET.value}]"
        model = body.get("model")
        return marker in user_text(body) or (
            isinstance(model, str)
            and model_family(model, self.config.unstable_websocket) is not None
        )

    def _first_seen(self, body: Mapping[str, Any]) -> bool:
        """Whether no earlier request had this input under this `prompt_cache_key`."""
        key = canonical_json([body.get("prompt_cache_key"), body.get("input")])
        digest = hashlib.sha256(key).hexdigest()
        if digest in self._seen:
            return False
        self._seen[digest] = None
        while len(self._seen) > MAX_SEEN_PROMPTS:
            self._seen.popitem(last=False)
        return True


_PREAMBLE = frozenset({"response.created", "response.in_progress"})


def _cut_before_output(steps: list[Step]) -> list[Step]:
    """The steps up to `response.in_progress`, then the connection dropped: no output, no
    terminal event (a refusal is left as it is)."""
    kept: list[Step] = []
    for step in steps:
        if isinstance(step, Reject):
            return steps
        if isinstance(step, Emit) and step.event["type"] not in _PREAMBLE:
            break
        kept.append(step)
    return [*kept, Drop()]


def _after(delay: float, steps: list[Step]) -> list[Step]:
    return [Sleep(delay), *steps] if delay > 0 else steps
