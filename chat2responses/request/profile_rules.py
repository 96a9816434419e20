"""The upstream's profile applied to a translated body: what the backend refuses is taken out,
what it insists on is put in, and the service tier is checked against the catalog.

request/translate.py calls `apply_profile` on every body it builds (chat-shaped or already
Responses-shaped); the facts come from `profiles.UpstreamProfile` and the catalog entry, never
from an `if` here on a backend's name.

Rule 1: `dropped_params` (top-level keys) are dropped and listed as dropped; `refused_fields`
        are removed wherever they appear (top level, input items, their content parts, tools and
        the tools of an `additional_tools` item) and listed as removed. The client's objects are
        copied, never changed.
Rule 2: a service tier (after the profile's aliases, `fast` → `priority`) is sent when the
        catalog entry lists it; `auto` and `default` always pass (on a profile with a fixed tier
        list they are dropped: the backend's default is the same); any other is a 400 naming the
        allowed ones. A model whose entry lists no tiers (an unknown model, or an entry without
        `service_tiers`) follows the profile's own list: what it lacks is dropped.
Rule 3: `store` false and an `instructions` key as the profile requires; `stream` always true.

Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from chat2responses.protocol.errors import ClientError
from chat2responses.protocol.params import as_str, shown
from chat2responses.upstream.catalog import ModelMatch
from chat2responses.upstream.profiles import UpstreamProfile

UNSPECIFIC_TIERS = ("auto", "default")


def apply_profile(
    out: dict[str, Any], profile: UpstreamProfile, renamed: dict[str, str], match: ModelMatch
) -> tuple[list[str], list[str]]:
    """Make `out` acceptable to the backend; the client's names of what was dropped (rule 1's
    first half, rule 2) and of what was removed as refused (rule 1's second half)."""
    dropped = [renamed.get(key, key) for key in out if key in profile.dropped_params]
    for key in profile.dropped_params:
        out.pop(key, None)
    removed = remove_refused(out, profile.refused_fields)
    dropped += _service_tier(out, profile, match)
    if profile.requires_store_false:
        if out.get("store", False) is not False:
            dropped.append("store")
        out["store"] = False
    else:
        out.setdefault("store", False)
    out["stream"] = True  # every call streams upstream; a non-streaming client's is aggregated
    if profile.requires_instructions:
        out.setdefault("instructions", "")
    return dropped, [renamed.get(name, name) for name in removed]


def _service_tier(out: dict[str, Any], profile: UpstreamProfile, match: ModelMatch) -> list[str]:
    """Rule 2: what was dropped (`service_tier`, or nothing)."""
    tier = out.get("service_tier")
    if tier is None:
        return []
    tier = dict(profile.service_tier_aliases).get(as_str(tier, "service_tier"), tier)
    listed = match.info.service_tiers if match.info is not None else None
    if listed is None:
        allowed = profile.service_tiers
        if allowed is None or tier in allowed:
            out["service_tier"] = tier
            return []
        del out["service_tier"]
        return ["service_tier"]
    if tier in listed:
        out["service_tier"] = tier
        return []
    if tier in UNSPECIFIC_TIERS:
        if profile.service_tiers is None:
            out["service_tier"] = tier
            return []
        del out["service_tier"]
        return ["service_tier"]
    names = ", ".join(f"'{name}'" for name in (*UNSPECIFIC_TIERS, *listed))
    raise ClientError(
        f"Invalid value for 'service_tier': {shown(tier)}. {match.upstream_name} offers: {names}.",
        param="service_tier",
        code="invalid_value",
    )


def remove_refused(out: dict[str, Any], refused: frozenset[str]) -> list[str]:
    """Rule 1: take `refused` keys out of `out` (a few known places deep); their names, once
    each, in the order found."""
    if not refused:
        return []
    found: list[str] = []
    _pop(out, refused, found)
    if isinstance(items := out.get("input"), list):
        out["input"] = [_item(item, refused, found) for item in items]
    if isinstance(tools := out.get("tools"), list):
        out["tools"] = _objects(tools, refused, found)
    return list(dict.fromkeys(found))


def _pop(obj: dict[str, Any], refused: frozenset[str], found: list[str]) -> None:
    for key in sorted(refused & obj.keys()):
        del obj[key]
        found.append(key)


def _clean(obj: Any, refused: frozenset[str], found: list[str]) -> Any:
    """`obj` without the refused keys: a copy when it had one, else `obj` itself."""
    if not isinstance(obj, dict) or not refused & obj.keys():
        return obj
    copy = dict(obj)
    _pop(copy, refused, found)
    return copy


def _objects(values: list[Any], refused: frozenset[str], found: list[str]) -> list[Any]:
    return [_clean(value, refused, found) for value in values]


def _item(item: Any, refused: frozenset[str], found: list[str]) -> Any:
    item = _clean(item, refused, found)
    if not isinstance(item, dict):
        return item
    for key in ("content", "tools"):  # a message's parts; an additional_tools item's tools
        nested = item.get(key)
        if isinstance(nested, list):
            cleaned = _objects(nested, refused, found)
            if cleaned != nested:  # a part was copied (unchanged ones compare by identity)
                item = {**item, key: cleaned}
    return item
