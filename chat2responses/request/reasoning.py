"""The `reasoning` object of a Responses request and the encrypted reasoning it asks back.

Shared by both body shapes request/translate.py accepts (a chat body, a Responses-shaped one).

Must not: do I/O, or know a backend except through `profiles.UpstreamProfile`.

Rule 1: effort: the explicit field beats the model-name suffix beats the catalog default,
        clamped to the model's levels when the catalog knows it.
Rule 2: a summary is asked for ("auto") unless the catalog says the model has none, or the
        effort is "none"; also for a model the catalog does not know, which may reason (a
        refusal is the call policy's retry, not a guess made here). `drop_default_summary`
        takes back only that default, never a summary the client asked for.
Rule 3: with an effort set, or on a profile that always wants it, `include` asks for the
        encrypted reasoning, once.
"""

from __future__ import annotations

from typing import Any

from chat2responses.protocol.params import invalid_value
from chat2responses.upstream.catalog import ModelMatch, clamp_effort
from chat2responses.upstream.catalog_layers import EFFORTS, Effort
from chat2responses.upstream.profiles import UpstreamProfile

ENCRYPTED_REASONING = "reasoning.encrypted_content"


def settle_reasoning(
    explicit: object, param: str, match: ModelMatch, base: dict[str, Any]
) -> dict[str, Any] | None:
    """`reasoning` for the body: `base` (a Responses body's own object) with effort settled
    (rules 1 and 2); `explicit` is the client's effort, `param` its name for a 400."""
    if explicit is not None and (not isinstance(explicit, str) or explicit not in EFFORTS):
        raise invalid_value(param, explicit, Effort)
    info = match.info
    effort = explicit or match.effort or (info.default_reasoning_level if info else None)
    if effort is not None and info is not None:
        effort = clamp_effort(effort, info.reasoning_levels)
    if effort is None:
        if info is None:  # unknown: it may reason, and a summary is how reasoning shows
            return {**base, "summary": base.get("summary", "auto")}
        return base or None
    out = {**base, "effort": effort}
    if effort != Effort.NONE and (info is None or info.supports_reasoning_summaries):
        out.setdefault("summary", "auto")
    return out


def with_encrypted_reasoning(
    include: list[Any], reasoning: dict[str, Any] | None, profile: UpstreamProfile
) -> list[Any]:
    """`include` with the encrypted reasoning added when rule 3 asks for it."""
    wanted = (reasoning is not None and "effort" in reasoning) or profile.always_include_reasoning
    if wanted and ENCRYPTED_REASONING not in include:
        return [*include, ENCRYPTED_REASONING]
    return include


def drop_default_summary(out: dict[str, Any], body: dict[str, Any]) -> None:
    """Take the summary rule 2 added out of the translated body `out`; the client's own
    (`reasoning.summary` in its `body`) stays."""
    reasoning, asked = out.get("reasoning"), body.get("reasoning")
    if isinstance(reasoning, dict) and not (isinstance(asked, dict) and "summary" in asked):
        reasoning.pop("summary", None)
        if not reasoning:
            del out["reasoning"]
