"""One client request → the planned call (`plan_call`), or why not.

The glue reads a flow into a `ClientRequest` and hands it here with what the process knows
(`CallState`); this module decides everything else, once: whether the call is ours, the body,
the model match (once, here: routing and translation share it), the upstream, reasoning
summaries, the translation, the first plan, the conversation key and the job the driver runs.

Rule 1: `responses_rewrite=catalog` rewrites only what `upstream.routing.ours_under_catalog`
        says; a body that cannot be read is then not ours to judge either (`None`: the upstream's
        own endpoint answers it). Under `all` a bad body is a 400.
Rule 2: a conversation that may continue (the WebSocket route, continuation on) carries its
        instructions as input (call/turn.py rule 4); every call gets a `prompt_cache_key`, the
        conversation's, when the client sent none; on the Codex backend the key is the
        `session_id` header too.
Rule 3: reasoning summaries are asked for unless the option says none or this upstream refused
        them for this model before (call/memory.py).
Rule 4: `…/responses/compact` is served through a `compaction_trigger` call where the profile
        says the upstream compacts so (the Codex backend); elsewhere it passes through. What the
        upstream adds beyond the translation (the Codex identity and model gating, the notes a
        call keeps, a refusal's explanation) is call/backend.py's.
Rule 5: a client that names a Codex originator gets the backend's vendor events on its
        Responses stream; a compact request gets the compact endpoint's answer.
Rule 6: a call makes `responses_retries` retries, none when the same request just used them up
        (its client retries it: call/budget.py): one retry budget for the whole chain.
Rule 7: a Responses request that chains by `previous_response_id` on an upstream that stores
        nothing is made whole from the answers kept for its credential (call/chains.py; an id
        not kept is a 400), and every Responses call whose answer such an upstream would not
        keep is kept for the next one.
Rule 8: a `response.create` frame of a client's Responses WebSocket is planned like a
        `POST …/responses` with the handshake's headers; its answer goes back as frames, with no
        keep-alive comments (the WebSocket has its own pings).
Rule 9: a caller the keys file named (`person`) has conversations of their own: their name is
        part of the credential digest that keys conversations and kept reasoning, even when
        everyone's calls go out on one login; the quota stays the account's.
Pure: no I/O; the clock and the ids are injected, and the login is opaque.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chat2responses.call.backend import CallExtras, call_extras, compact_body
from chat2responses.call.budget import RetryBudgets, request_key
from chat2responses.call.chains import ChainLink, ResponseChains, as_items, chained
from chat2responses.call.conversation import ConversationStore, conversation_key
from chat2responses.call.giving_up import Client
from chat2responses.call.job import CallJob, Login
from chat2responses.call.memory import Memory
from chat2responses.call.people import People
from chat2responses.call.policy import Route, asks_summaries
from chat2responses.call.replay import ReasoningCache
from chat2responses.call.turn import Turn, instructions_as_input
from chat2responses.protocol.body import parse_json_body
from chat2responses.protocol.errors import ClientError
from chat2responses.protocol.wire import ReasoningMode
from chat2responses.request.client_headers import client_headers
from chat2responses.request.translate import Translation, translate_request
from chat2responses.response.chat_sinks import ChatJsonSink, ChatStreamSink, Sink
from chat2responses.response.compaction import CompactionSink
from chat2responses.response.responses_sinks import (
    ResponsesFrameSink,
    ResponsesJsonSink,
    ResponsesStreamSink,
)
from chat2responses.settings import AuthMode, RewriteMode, Settings
from chat2responses.upstream.catalog import Catalog, ModelMatch
from chat2responses.upstream.profiles import CODEX
from chat2responses.upstream.quota_book import QuotaBook
from chat2responses.upstream.quota_tap import QuotaTap
from chat2responses.upstream.routing import CallKind, Upstream, ours_under_catalog, upstream_for


@dataclass(frozen=True, slots=True)
class ClientRequest:
    """What the glue read of one intercepted request."""

    kind: CallKind
    path: str
    origin: str  # scheme://host[:port] the client addressed
    body: bytes | None  # its content-encoding undone
    header_fields: tuple[tuple[bytes, bytes], ...]
    # A `response.create` of the client's Responses WebSocket: its body, read already
    # (protocol/client_frames.py); the answer goes back as frames (rule 8).
    frame: dict[str, Any] | None = None
    person: str = ""  # the caller's name from responses_client_keys (never a key)


@dataclass(slots=True)
class CallState:
    """What outlives a call, per process: bounded caches, each losable."""

    memory: Memory = field(default_factory=Memory)
    conversations: ConversationStore = field(default_factory=ConversationStore)
    reasoning: ReasoningCache = field(default_factory=ReasoningCache)
    chains: ResponseChains = field(default_factory=ResponseChains)
    quota: QuotaBook = field(default_factory=QuotaBook)
    budgets: RetryBudgets = field(default_factory=RetryBudgets)
    people: People = field(default_factory=People)


@dataclass(frozen=True, slots=True)
class Context:
    """What the glue injects: the login (opaque), whose quota a call counts against, the clock
    and the ids."""

    login: Login | None
    account: Callable[[dict[str, str]], str]  # forwarded client headers → account digest
    now: Callable[[], datetime]
    chunk_id: str
    created: int
    ssl: Any = None


def plan_call(
    request: ClientRequest,
    *,
    settings: Settings,
    catalog: Catalog,
    state: CallState,
    context: Context,
) -> CallJob | None:
    """The call for `request`, or None when it is not ours (it passes through untouched).
    Raises `ClientError` for a request that is ours but cannot be served as sent."""
    rewrite_all = settings.rewrite is RewriteMode.ALL
    try:
        body = request.frame if request.frame is not None else parse_json_body(request.body)
    except ClientError:
        if rewrite_all:
            raise
        return None  # rule 1
    model = body.get("model")
    match = catalog.match(model) if isinstance(model, str) and model.strip() else None
    origin = "" if settings.responses_url else request.origin
    upstream = upstream_for(settings.responses_url, origin, request.path)
    chat = request.kind is CallKind.CHAT
    if not rewrite_all and not ours_under_catalog(match, upstream.profile, chat=chat):
        return None  # rule 1
    if request.kind is CallKind.COMPACT and not upstream.profile.compaction_by_trigger:
        return None  # rule 4: the upstream's own compact endpoint answers it
    body, kept = compact_body(body) if request.kind is CallKind.COMPACT else (body, None)
    chain = None
    if request.kind is CallKind.RESPONSES:  # rule 7
        credential = context.account(client_headers(request.header_fields, settings.auth))
        stores = not upstream.profile.requires_store_false
        previous = chained(body, upstream_stores=stores)
        if previous is not None:
            body = state.chains.expand(credential, body, previous)
        if not stores or body.get("store") is not True:  # the upstream keeps nothing of it
            chain = ChainLink(state.chains, credential, as_items(body.get("input")))
    translation = translate_request(
        body,
        catalog=catalog,
        profile=upstream.profile,
        summaries=_summaries(settings, state.memory, upstream, match),
        responses_api=not chat,
        match=match,
    )
    now = context.now().timestamp()
    extras = call_extras(
        translation, upstream.profile, request.header_fields, settings, context.login
    )
    headers = extras.headers
    credential = context.account(headers)
    budget_key = request_key(upstream.key, credential, request.body or b"")
    plan = state.memory.plan(
        settings.transport,
        upstream.key,
        translation.match,
        summaries=asks_summaries(translation.body),
        login=settings.auth is AuthMode.CODEX,
        retries=state.budgets.retries(budget_key, settings.retries),  # rule 6
        now=now,
    )
    body, turn, session = _conversation(
        translation.body,
        upstream=upstream,
        credential=_conversation_credential(credential, request.person),
        store=state.conversations if settings.continuation else None,
        cache=state.reasoning,
        chain=chain,
        websocket=plan.route is Route.WEBSOCKET,
    )
    return CallJob(
        kind=request.kind,
        upstream=upstream,
        translation=translation,
        body=body,
        headers=headers,
        plan=plan,
        memory=state.memory,
        make_sink=_sink_factory(
            request, translation, settings.reasoning, context, extras=extras, kept=kept
        ),
        idle_timeout=float(settings.idle_timeout),
        keepalive=0.0 if request.frame is not None else float(settings.keepalive),
        planned_at=now,
        request_size=len(request.body or b""),
        quota=QuotaTap(state.quota, credential, clock=context.now, notes=extras.notes),
        turn=turn,
        client=Client.CODEX if extras.codex_client else Client.OTHER,
        budget=state.budgets,
        budget_key=budget_key,
        session_headers=session,
        login=context.login,
        ssl=context.ssl,
        explain=extras.explain,
        person=request.person,
    )


def _conversation_credential(account: str, person: str) -> str:
    """Rule 6: whose conversations these are: the account's digest, with the person's name."""
    if not person:
        return account
    return hashlib.sha256(f"{account}\x1f{person}".encode()).hexdigest()[:12]


def _summaries(
    settings: Settings, memory: Memory, upstream: Upstream, match: ModelMatch | None
) -> bool:
    """Rule 3."""
    if settings.reasoning is ReasoningMode.NONE:
        return False
    return match is None or memory.summaries_allowed(upstream.key, match)


def _conversation(
    body: dict[str, Any],
    *,
    upstream: Upstream,
    credential: str,
    store: ConversationStore | None,
    cache: ReasoningCache,
    chain: ChainLink | None,
    websocket: bool,
) -> tuple[dict[str, Any], Turn, dict[str, str]]:
    """Rule 2: the body to send, the call's `Turn`, and the Codex backend's session header."""
    body = cache.restore_custom_calls(credential, body)  # call/replay.py rule 4
    key = conversation_key(body, upstream=upstream.key, credential=credential)
    profile = upstream.profile
    if store is not None and websocket:
        body = instructions_as_input(
            body, role=profile.system_role_as, keep_field=profile.requires_instructions
        )
    if "prompt_cache_key" not in body:
        body = {**body, "prompt_cache_key": key}
    turn = Turn(
        key=key, upstream=upstream.key, credential=credential, store=store, cache=cache, chain=chain
    )
    return body, turn, ({"session_id": key} if profile is CODEX else {})


def _sink_factory(
    request: ClientRequest,
    translation: Translation,
    reasoning: ReasoningMode,
    context: Context,
    *,
    extras: CallExtras,
    kept: list[Any] | None,
) -> Callable[[], Sink]:
    """Rule 5: a Codex client reads the vendor events; a compact answer repeats `kept`."""
    chunks = translation.chunk_context(
        chunk_id=context.chunk_id, created=context.created, reasoning=reasoning
    )
    kind, frames = request.kind, request.frame is not None

    def make() -> Sink:
        if frames:
            return ResponsesFrameSink(vendor_events=extras.codex_client)  # rule 8
        if kind is CallKind.COMPACT:
            return CompactionSink(kept or [])
        if kind is CallKind.RESPONSES:
            if translation.stream:
                return ResponsesStreamSink(vendor_events=extras.codex_client)
            return ResponsesJsonSink()
        if translation.stream:
            return ChatStreamSink(chunks, include_usage=translation.include_usage)
        return ChatJsonSink(chunks)

    return make
