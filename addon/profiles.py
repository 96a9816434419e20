"""Upstream profiles: the one place that says what each Responses backend accepts.

A profile is data. `translate_request` applies it to every body it builds (chat-shaped or already
Responses-shaped), so a backend quirk is a field here, never an `if` elsewhere.

Must not: do I/O, or decide routing or transport (that is the caller's business).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class UpstreamProfile:
    name: str
    # `store` is always sent false (the backend refuses anything else); otherwise false by default.
    requires_store_false: bool
    # `stream: true` upstream even for a non-streaming client (the answer is aggregated).
    force_stream: bool
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


CODEX = UpstreamProfile(
    name="codex",
    # "Store must be set to false" (ChatMock live test, cliproxyapi.md §3).
    requires_store_false=True,
    force_stream=True,
    # The backend 400s "Instructions are required" without the key (cliproxyapi.md §3).
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
            "prompt_cache_retention",
            "prompt_cache_options",
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
)

OPENAI = UpstreamProfile(
    name="openai",
    requires_store_false=False,
    force_stream=True,
    requires_instructions=False,
    dropped_params=frozenset(),
    service_tiers=None,
    service_tier_aliases=(),
    system_role_as="system",
    # A non-reasoning model (gpt-4.1 under rewrite=all) must not be asked for reasoning items.
    always_include_reasoning=False,
)


def profile_for_url(url: str) -> UpstreamProfile:
    """CODEX for the ChatGPT backend (any host serving `/backend-api/codex`, e.g. the emulator)."""
    parts = urlsplit(url if "//" in url else "//" + url)
    host = (parts.hostname or "").lower()
    if "/backend-api/codex" in parts.path.lower() or host == "chatgpt.com":
        return CODEX
    return OPENAI
