"""The model catalog, and the one function that matches a client's model name against it.

Owns: the embedded catalog (`models.json`, the Codex backend's `/models` shape), merging a user's
catalog over it (entries replace by slug), and `Catalog.match`, which every caller (routing,
transport choice, request defaults) uses, so a name is never matched two ways.

Must not: read any file but the package's own `models.json` (the caller reads the user's catalog
and passes its bytes), or know anything about requests or transports.

Rule 1: matching is case-insensitive and strips a provider prefix (`openai/gpt-5.5`).
Rule 2: an effort suffix becomes `effort`, clamped to the model's levels: `gpt-5.5(high)` for any
        model, `gpt-5.5-high` only when the rest is a catalog model (an unknown `foo-high` may be a
        real name).
Rule 3: a dated snapshot `slug-YYYY-MM-DD` maps to `slug`; nothing else may follow a slug
        (`gpt-5.5-pro` is not `gpt-5.5`). The upstream still receives the dated name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import Any


class Effort(StrEnum):
    """Reasoning effort levels, weakest first: the order clamping measures distance in."""

    NONE = "none"
    MINIMAL = "minimal"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    XHIGH = "xhigh"
    MAX = "max"
    ULTRA = "ultra"


_RANK = {effort.value: rank for rank, effort in enumerate(Effort)}
EFFORTS = frozenset(_RANK)


@dataclass(frozen=True, slots=True)
class ModelInfo:
    slug: str
    prefer_websockets: bool
    reasoning_levels: tuple[str, ...]
    default_reasoning_level: str | None
    context_window: int | None
    supports_reasoning_summaries: bool


@dataclass(frozen=True, slots=True)
class ModelMatch:
    requested: str  # the client's name as sent
    upstream_name: str  # minus provider prefix and effort suffix; a dated snapshot stays dated
    info: ModelInfo | None  # None: unknown to the catalog
    effort: str | None  # from an effort suffix, clamped to info.reasoning_levels


class CatalogError(ValueError):
    """A catalog file that is not valid JSON or not the `{"models": [...]}` shape."""


def clamp_effort(effort: str, supported: tuple[str, ...]) -> str | None:
    """The supported level nearest to `effort` (ties go to the stronger one); None if none."""
    if effort in supported:
        return effort
    if not supported or effort not in _RANK:
        return None
    rank = _RANK[effort]
    return min(supported, key=lambda level: (abs(_RANK[level] - rank), -_RANK[level]))


_DATED = re.compile(r"-\d{4}-\d{2}-\d{2}$")
_PAREN_EFFORT = re.compile(r"^(.*?)\s*\(\s*([A-Za-z]+)\s*\)$")
_CACHE_LIMIT = 4096  # distinct names remembered; client-chosen, so bounded


class Catalog:
    """Known models by lower-cased slug, plus a bounded cache of `match` results."""

    __slots__ = ("_by_key", "_cache")

    def __init__(self, models: Iterable[ModelInfo]) -> None:
        self._by_key: dict[str, ModelInfo] = {m.slug.lower(): m for m in models}
        self._cache: dict[str, ModelMatch] = {}

    @classmethod
    def parse(
        cls, embedded: bytes, user: bytes | None = None, *, user_name: str = "responses_catalog"
    ) -> Catalog:
        """The embedded catalog with the user's entries replacing (or adding to) it by slug."""
        merged = {m.slug.lower(): m for m in _parse_file(embedded, "embedded catalog models.json")}
        if user is not None:
            for info in _parse_file(user, user_name):
                merged[info.slug.lower()] = info
        return cls(merged.values())

    @classmethod
    def default(cls) -> Catalog:
        return cls.parse(embedded_catalog())

    def slugs(self) -> tuple[str, ...]:
        return tuple(info.slug for info in self._by_key.values())

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
        if paren and paren[2].lower() in _RANK:
            base, effort = paren[1], paren[2].lower()
        info, upstream = self._resolve(base)
        if info is None and effort is None:
            head, dash, tail = base.rpartition("-")
            if dash and tail.lower() in _RANK:
                info, upstream_head = self._resolve(head)
                if info is not None:
                    upstream, effort = upstream_head, tail.lower()
        if info is not None and effort is not None:
            effort = clamp_effort(effort, info.reasoning_levels)
        return ModelMatch(requested=name, upstream_name=upstream, info=info, effort=effort)

    def _resolve(self, base: str) -> tuple[ModelInfo | None, str]:
        """The entry for `base` (exact slug or dated snapshot) and the name to send upstream."""
        key = base.lower()
        info = self._by_key.get(key)
        if info is None and (dated := _DATED.search(key)):
            info = self._by_key.get(key[: dated.start()])
        # A known model goes upstream lower-cased (slugs are); an unknown one exactly as sent.
        return info, (key if info is not None else base)


def embedded_catalog() -> bytes:
    """The bytes of the package's own `models.json`."""
    return resources.files(__package__ or "addon").joinpath("models.json").read_bytes()


# --- parsing ----------------------------------------------------------------------------------


def _parse_file(raw: bytes, source: str) -> list[ModelInfo]:
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise CatalogError(f"{source}: not UTF-8 text ({exc})") from None
    except ValueError as exc:
        raise CatalogError(f"{source}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        raise CatalogError(f'{source}: expected a JSON object {{"models": [...]}}')
    models: list[ModelInfo] = []
    seen: set[str] = set()
    for index, entry in enumerate(data["models"]):
        info = _parse_entry(entry, f"{source}: models[{index}]")
        if info.slug.lower() in seen:
            raise CatalogError(f"{source}: models[{index}]: duplicate slug {info.slug!r}")
        seen.add(info.slug.lower())
        models.append(info)
    return models


def _parse_entry(entry: object, where: str) -> ModelInfo:
    if not isinstance(entry, dict):
        raise CatalogError(f"{where}: expected an object")
    slug = entry.get("slug")
    if not isinstance(slug, str) or not slug.strip() or slug != slug.strip():
        raise CatalogError(f"{where}.slug: expected a non-empty string without spaces")
    levels = _levels(entry.get("supported_reasoning_levels"), f"{where}.supported_reasoning_levels")
    default = _optional(entry, "default_reasoning_level", str, where)
    if default is not None and default not in (levels or EFFORTS):
        allowed = ", ".join(levels or tuple(Effort))
        raise CatalogError(f"{where}.default_reasoning_level: {default!r} is not one of {allowed}")
    window = _optional(entry, "context_window", int, where)
    if window is not None and window <= 0:
        raise CatalogError(f"{where}.context_window: expected a positive integer")
    return ModelInfo(
        slug=slug,
        prefer_websockets=_flag(entry, "prefer_websockets", where, default=False),
        reasoning_levels=levels,
        default_reasoning_level=default,
        context_window=window,
        # Only an explicit false stops the translator asking for summaries.
        supports_reasoning_summaries=_flag(
            entry, "supports_reasoning_summaries", where, default=True
        ),
    )


def _levels(value: object, where: str) -> tuple[str, ...]:
    """`[{"effort": "low", ...}, ...]` (the backend's shape) or `["low", ...]`; known levels."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise CatalogError(f"{where}: expected a list")
    levels: list[str] = []
    for index, item in enumerate(value):
        effort = item.get("effort") if isinstance(item, dict) else item
        if not isinstance(effort, str) or effort not in _RANK:
            allowed = ", ".join(Effort)
            raise CatalogError(
                f"{where}[{index}].effort: expected one of {allowed}, not {effort!r}"
            )
        if effort not in levels:
            levels.append(effort)
    return tuple(sorted(levels, key=_RANK.__getitem__))


def _optional[T](entry: dict[str, Any], key: str, kind: type[T], where: str) -> T | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise CatalogError(f"{where}.{key}: expected {kind.__name__} or null, not {value!r}")
    return value


def _flag(entry: dict[str, Any], key: str, where: str, *, default: bool) -> bool:
    value = entry.get(key, default)
    if not isinstance(value, bool):
        raise CatalogError(f"{where}.{key}: expected true or false, not {value!r}")
    return value
