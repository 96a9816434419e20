"""The model catalog, and the one function that matches a client's model name against it.

Owns: layering the embedded catalog, the upstream's own `/models` answer and the user's catalog
(catalog_layers.py reads each; entries replace by slug, aliases by name), and `Catalog.match`,
which every caller (routing, transport choice, request defaults) uses, so a name is never matched
two ways.

Must not: read a file, or know anything about requests or transports.

Rule 1: matching is case-insensitive and strips a provider prefix (`openai/gpt-5.5`).
Rule 2: an effort suffix becomes `effort`: `name(high)` or `name-high`, for any model. A catalog
        model accepts every level and clamps it to its own; an unknown model only OpenAI's effort
        words (none, minimal, low, medium, high, xhigh), unclamped (`foo-max` stays a name).
Rule 3: a dated snapshot `slug-YYYY-MM-DD` maps to `slug`; nothing else may follow a slug
        (`gpt-5.5-pro` is not `gpt-5.5`). The upstream still receives the dated name.
Rule 4: an alias (a retired name, `"aliases": {"gpt-5.4": "gpt-5.6-terra"}`) applies only to a
        name no layer lists as a model; the request goes upstream under the alias's target
        (undated: a retired snapshot is retired too) and `ModelMatch.alias_of` names the alias.
        A layer turns an alias off with `null`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from chat2responses.upstream.catalog_layers import (
    EFFORT_RANK,
    EMBEDDED_NAME,
    LIVE_NAME,
    OPENAI_EFFORTS,
    CatalogError,
    ModelInfo,
    embedded_catalog,
    parse_layer,
)

__all__ = ["LIVE_NAME", "Catalog", "CatalogError", "ModelInfo", "ModelMatch", "clamp_effort"]


@dataclass(frozen=True, slots=True)
class ModelMatch:
    requested: str  # the client's name as sent
    upstream_name: str  # minus provider prefix and effort suffix; a dated snapshot stays dated
    info: ModelInfo | None  # None: unknown to the catalog
    effort: str | None  # from an effort suffix, clamped to info.reasoning_levels
    alias_of: str | None = None  # the retired name the client asked for, sent as upstream_name


def clamp_effort(effort: str, supported: tuple[str, ...]) -> str | None:
    """The supported level nearest to `effort` (ties go to the stronger one); None if none."""
    if effort in supported:
        return effort
    if not supported or effort not in EFFORT_RANK:
        return None
    rank = EFFORT_RANK[effort]
    return min(supported, key=lambda level: (abs(EFFORT_RANK[level] - rank), -EFFORT_RANK[level]))


_DATED = re.compile(r"-\d{4}-\d{2}-\d{2}$")
_PAREN_EFFORT = re.compile(r"^(.*?)\s*\(\s*([A-Za-z]+)\s*\)$")
_CACHE_LIMIT = 4096  # distinct names remembered; client-chosen, so bounded


class Catalog:
    """Known models by lower-cased slug, aliases, and a bounded cache of `match` results."""

    __slots__ = ("_aliases", "_by_key", "_cache")

    def __init__(
        self, models: Iterable[ModelInfo], aliases: Mapping[str, str] | None = None
    ) -> None:
        self._by_key: dict[str, ModelInfo] = {m.slug.lower(): m for m in models}
        self._aliases: dict[str, str] = {k.lower(): v for k, v in (aliases or {}).items()}
        self._cache: dict[str, ModelMatch] = {}

    @classmethod
    def layered(
        cls,
        embedded: bytes,
        live: bytes | None = None,
        user: bytes | None = None,
        *,
        user_name: str = "responses_catalog",
    ) -> Catalog:
        """embedded < live (the upstream's `/models` answer) < user: later layers replace
        entries by slug and aliases by name. The live answer is read leniently (an entry this
        code cannot read is skipped, unknown levels are ignored): the backend adds fields and
        levels, and a new one must not cost the whole catalog."""
        layers = [parse_layer(embedded, EMBEDDED_NAME, strict=True)]
        if live is not None:
            layers.append(parse_layer(live, LIVE_NAME, strict=False))
        if user is not None:
            layers.append(parse_layer(user, user_name, strict=True))
        models: dict[str, ModelInfo] = {}
        aliases: dict[str, str | None] = {}
        for layer in layers:
            models.update((m.slug.lower(), m) for m in layer.models)
            aliases.update(layer.aliases)
        on = {name: target for name, target in aliases.items() if target is not None}
        return cls(models.values(), on)

    @classmethod
    def parse(
        cls, embedded: bytes, user: bytes | None = None, *, user_name: str = "responses_catalog"
    ) -> Catalog:
        """The embedded catalog with the user's layer over it (no live answer)."""
        return cls.layered(embedded, None, user, user_name=user_name)

    @classmethod
    def default(cls) -> Catalog:
        return cls.layered(embedded_catalog())

    def slugs(self) -> tuple[str, ...]:
        return tuple(info.slug for info in self._by_key.values())

    def aliases(self) -> dict[str, str]:
        """Alias name → the slug it is sent as (only those turned on)."""
        return dict(self._aliases)

    def match(self, name: str) -> ModelMatch:
        found = self._cache.get(name)
        if found is None:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            found = self._cache[name] = self._match(name)
        return found

    def _match(self, name: str) -> ModelMatch:
        base = name.strip().rpartition("/")[2]
        effort: str | None = None
        paren = _PAREN_EFFORT.match(base)
        if paren and paren[2].lower() in EFFORT_RANK:
            base, effort = paren[1], paren[2].lower()
        info, upstream, alias = self._resolve(base)
        if info is None and alias is None and effort is None:
            head, dash, tail = base.rpartition("-")
            if head and dash and tail.lower() in EFFORT_RANK:
                found = self._resolve(head)
                if found[0] is not None or found[2] is not None or tail.lower() in OPENAI_EFFORTS:
                    (info, upstream, alias), effort = found, tail.lower()
        if effort is not None:
            if info is not None:
                effort = clamp_effort(effort, info.reasoning_levels)
            elif effort not in OPENAI_EFFORTS:
                # Rule 2: an unknown model takes only OpenAI's words; the suffix is its name.
                info, upstream, alias = self._resolve(name.strip().rpartition("/")[2])
                effort = None
        return ModelMatch(name, upstream, info, effort, alias)

    def _resolve(self, base: str) -> tuple[ModelInfo | None, str, str | None]:
        """The entry for `base` (exact slug, dated snapshot, or alias), the name to send
        upstream, and the alias used (if any)."""
        key = base.lower()
        info = self._by_key.get(key)
        undated = key
        if info is None and (dated := _DATED.search(key)):
            undated = key[: dated.start()]
            info = self._by_key.get(undated)
        if info is not None:
            # A known model goes upstream lower-cased (slugs are); an unknown one exactly as sent.
            return info, key, None
        target = self._aliases.get(key) or self._aliases.get(undated)
        if target is not None:
            alias = key if key in self._aliases else undated
            return self._by_key.get(target.lower()), target, alias
        return None, base, None
