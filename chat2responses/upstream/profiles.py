"""Upstream profiles: the one place that says what each Responses backend accepts.

A profile is data. `translate_request` applies it to every body it builds (chat-shaped or already
Responses-shaped), so a backend quirk is a field here, never an `if` elsewhere; the driver reads
the transport facts (what a `response.create` frame leaves out, the WebSocket handshake headers,
the Responses-Lite marker) from here too, and builds the frame with `response_create_frame`.

Must not: do I/O, or decide routing or transport (that is the caller's business).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class LiteMarker:
    """How a Responses-Lite request says so (codex-backend-2026.md §2): a header over HTTP, and
    over WebSocket (no per-message headers) a `client_metadata` entry of `response.create`."""

    http_headers: Mapping[str, str]
    ws_client_metadata: Mapping[str, str]


RESPONSES_LITE = LiteMarker(
    http_headers=MappingProxyType({"X-OpenAI-Internal-Codex-Responses-Lite": "true"}),
    ws_client_metadata=MappingProxyType(
        {"ws_request_header_x_openai_internal_codex_responses_lite": "true"}
    ),
)


@dataclass(frozen=True, slots=True)
class UpstreamProfile:
    name: str
    # `store` is always sent false (the backend refuses anything else); otherwise false by default.
    requires_store_false: bool
    # `instructions` must be present, "" when the client sent no system/developer text.
    requires_instructions: bool
    # Top-level Responses keys the backend rejects; removed and reported as dropped.
    dropped_params: frozenset[str]
    # Service tiers the backend accepts (None: any). Others are removed and reported.
    service_tiers: frozenset[str] | None
    # Client tier names rewritten before the check above, e.g. Cursor's "fast".
    service_tier_aliases: tuple[tuple[str, str], ...]
    # Role given to `system` input items of an already Responses-shaped body.
    system_role_as: str
    # Ask for `reasoning.encrypted_content` even when no `reasoning` object is sent.
    always_include_reasoning: bool
    # Body keys a `response.create` frame leaves out (the frame's own `type` always goes).
    ws_drops: frozenset[str]
    # Headers of the WebSocket handshake (besides auth), e.g. the beta opt-in.
    ws_headers: Mapping[str, str] = field(compare=False)
    # Speak to it as the Codex CLI (upstream/identity.py): its `originator`, `User-Agent` and
    # `version` on every call, the client's own left behind; models gated on that version.
    client_identity: bool
    # The Responses-Lite marker, for models the catalog flags `use_responses_lite` (None: this
    # backend has no Lite shape, the classic one is always sent).
    responses_lite: LiteMarker | None
    # Keys the backend refuses wherever they appear in a body (top level, input items, content
    # parts, tools): removed before sending and reported as removed.
    refused_fields: frozenset[str] = frozenset()
    # `POST …/responses/compact` is served by a `/responses` call ending in a
    # `compaction_trigger` item (False: the upstream's own compact endpoint answers it).
    compaction_by_trigger: bool = False
    # Models this backend serves through the Responses API only (lower-case fnmatch patterns): a
    # chat call for one is rewritten under responses_rewrite=catalog like a catalog model, since
    # its own chat endpoint refuses them.
    responses_only: tuple[str, ...] = ()
    # Body keys an HTTP request leaves out: `generate` (a warm-up, `generate: false`) exists on
    # the WebSocket only (openai-protocols.md §4.2); over HTTP the request simply generates.
    http_drops: frozenset[str] = field(default=frozenset({"generate"}))

    def serves_only_responses(self, model: str) -> bool:
        """Whether `model` is one this backend serves through the Responses API only."""
        name = model.strip().lower()
        return any(fnmatchcase(name, pattern) for pattern in self.responses_only)


CODEX = UpstreamProfile(
    name="codex",
    # "Store must be set to false" (ChatMock live test, cliproxyapi.md §3).
    requires_store_false=True,
    # The backend once 400'd "Instructions are required" without the key (cliproxyapi.md §3); the
    # Codex CLI 0.171 sends none, but "" is accepted either way.
    requires_instructions=True,
    # `{"detail": "Unsupported parameter: <name>"}` for each (cliproxyapi.md §3, sub2api #3954);
    # Codex itself never sends any of them.
    dropped_params=frozenset(
        {
            "max_output_tokens",
            "max_tool_calls",
            "temperature",
            "top_p",
            "top_logprobs",
            "truncation",
            "context_management",
            "user",
            "safety_identifier",
            "metadata",
            "moderation",
            "stream_options",
            "background",
        }
    ),
    service_tiers=frozenset({"priority"}),
    # The catalog's service tier "priority" is named "Fast" (cliproxyapi.md §1a).
    service_tier_aliases=(("fast", "priority"),),
    # Codex's own translator rewrites role system to developer (cliproxyapi.md §3).
    system_role_as="developer",
    # Every model on this backend reasons; Codex always asks for the encrypted items.
    always_include_reasoning=True,
    # §4.2: "`background` is not supported over WebSocket". The backend accepts `stream: true`
    # (Codex itself sends it), so it stays.
    ws_drops=frozenset({"background"}),
    # The WebSocket transport is opted into per handshake (cliproxyapi.md §2).
    ws_headers=MappingProxyType({"openai-beta": "responses_websockets=2026-02-06"}),
    client_identity=True,
    responses_lite=RESPONSES_LITE,
    # 400 there, wherever they appear (prompt_cache_breakpoint sits on content parts,
    # cache_control on parts, items or tools); the public API takes the first three
    # (codex-backend-2026.md §8).
    refused_fields=frozenset(
        {
            "prompt_cache_options",
            "prompt_cache_breakpoint",
            "prompt_cache_retention",
            "cache_control",
        }
    ),
    # `…/responses/compact` answers 404 there since 2026-08-12: compaction is a streamed
    # `/responses` call whose input ends with a `compaction_trigger` item (§8).
    compaction_by_trigger=True,
)

OPENAI = UpstreamProfile(
    name="openai",
    requires_store_false=False,
    requires_instructions=False,
    dropped_params=frozenset(),
    service_tiers=None,
    service_tier_aliases=(),
    system_role_as="system",
    # A non-reasoning model (gpt-4.1 under rewrite=all) must not be asked for reasoning items.
    always_include_reasoning=False,
    # §4.2: "`stream` is implicit over WebSocket and should not be sent"; no `background` either.
    ws_drops=frozenset({"background", "stream"}),
    ws_headers=MappingProxyType({}),
    client_identity=False,
    responses_lite=None,
)


# The OpenAI API itself: OPENAI's body rules, and the models its chat endpoint refuses with a 404
# "This model is only supported in v1/responses and not in v1/chat/completions." Only models
# known to stream are listed, since every rewritten call streams upstream (o1-pro, o3-pro,
# gpt-5-pro and the deep-research models are left out: it is not confirmed here that they take
# `stream: true`). A fact of this host only: another upstream may serve the same names.
OPENAI_API = replace(
    OPENAI,
    name="openai-api",
    responses_only=(
        "gpt-5*-codex*",  # gpt-5-codex, gpt-5.1-codex-mini, gpt-5.1-codex-max, …
        "codex-mini*",  # codex-mini-latest
    ),
)
OPENAI_API_HOST = "api.openai.com"


def profile_for_url(url: str) -> UpstreamProfile:
    """CODEX for the ChatGPT backend (any host serving `/backend-api/codex`, e.g. the emulator),
    OPENAI_API for the OpenAI API, OPENAI for any other Responses upstream."""
    parts = urlsplit(url if "//" in url else "//" + url)
    host = (parts.hostname or "").lower()
    if "/backend-api/codex" in parts.path.lower() or host == "chatgpt.com":
        return CODEX
    return OPENAI_API if host == OPENAI_API_HOST else OPENAI


def response_create_frame(
    profile: UpstreamProfile, body: Mapping[str, Any], extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The `response.create` frame for `body`: `{"type": "response.create", **body}` minus the
    profile's `ws_drops`, with `extra` (`Translation.ws_extra`) merged in; a `client_metadata`
    object is merged key by key, never replaced."""
    frame: dict[str, Any] = {"type": "response.create"}
    frame.update(
        (key, value) for key, value in body.items() if key not in profile.ws_drops and key != "type"
    )
    for key, value in (extra or {}).items():
        current = frame.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            frame[key] = {**current, **value}
        else:
            frame[key] = value
    return frame
