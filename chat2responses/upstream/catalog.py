"""The model catalog, and the one function that matches a client's model name against it.

Owns: the embedded catalog (`models.json`, the Codex backend's `/models` shape plus a top-level
`aliases` map), layering the upstream's own `/models` answer and the user's catalog over it
(entries replace by slug, aliases by name), and `Catalog.match`, which every caller (routing,
transport choice, request defaults) uses, so a name is never matched two ways.

Must not: read any file but the package's own `models.json` (callers pass the bytes of the live
answer and of the user's file), or know anything about requests or transports.

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
Rule 5: `minimal_client_version` ("0.153.0", or `[0, 153, 0]` as older catalogs spell it),
        `service_tiers` (objects with an `id`, as the Codex CLI reads them, or plain strings;
        absent: the entry says nothing of tiers) and `max_context_window` are read as given; a
        live entry's `minimal_client_version` or tier that cannot be read is left out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import Any

from chat2responses.upstream.identity import Version, parse_version


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
# The words OpenAI's own `reasoning_effort` knows: the only suffixes an unknown model takes.
OPENAI_EFFORTS = frozenset({"none", "minimal", "low", "medium", "high", "xhigh"})


@dataclass(frozen=True, slots=True)
class ModelInfo:
    slug: str
    prefer_websockets: bool
    reasoning_levels: tuple[str, ...]
    default_reasoning_level: str | None
    context_window: int | None
    supports_reasoning_summaries: bool
    # The backend wants the Responses-Lite request shape for it (codex-backend-2026.md §2).
    use_responses_lite: bool = False
    # Rule 5: the oldest Codex CLI the backend serves it to; the tiers it may be asked for
    # (None: the entry does not say); the largest context it takes when asked for.
    minimal_client_version: Version | None = None
    service_tiers: tuple[str, ...] | None = None
    max_context_window: int | None = None


@dataclass(frozen=True, slots=True)
class ModelMatch:
    requested: str  # the client's name as sent
    upstream_name: str  # minus provider prefix and effort suffix; a dated snapshot stays dated
    info: ModelInfo | None  # None: unknown to the catalog
    effort: str | None  # from an effort suffix, clamped to info.reasoning_levels
    alias_of: str | None = None  # the retired name the client asked for, sent as upstream_name


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
EMBEDDED_NAME = "embedded catalog models.json"
LIVE_NAME = "the upstream's /models answer"


@dataclass(frozen=True, slots=True)
class _Layer:
    models: list[ModelInfo]
    aliases: dict[str, str | None]  # lower-cased name → target slug, or None: turned off


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
        layers = [_parse_layer(embedded, EMBEDDED_NAME, strict=True)]
        if live is not None:
            layers.append(_parse_layer(live, LIVE_NAME, strict=False))
        if user is not None:
            layers.append(_parse_layer(user, user_name, strict=True))
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
        if paren and paren[2].lower() in _RANK:
            base, effort = paren[1], paren[2].lower()
        info, upstream, alias = self._resolve(base)
        if info is None and alias is None and effort is None:
            head, dash, tail = base.rpartition("-")
            if head and dash and tail.lower() in _RANK:
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


def embedded_catalog() -> bytes:
    """The bytes of the package's own `models.json`."""
    return resources.files(__package__ or "chat2responses").joinpath("models.json").read_bytes()


def embedded_catalog_dict() -> dict[str, Any]:
    """The package's own `models.json`, parsed (checked: an object with a `models` list)."""
    data = _load_json(embedded_catalog(), EMBEDDED_NAME)
    _parse_layer(embedded_catalog(), EMBEDDED_NAME, strict=True)
    return data


# --- parsing ----------------------------------------------------------------------------------


def _load_json(raw: bytes, source: str) -> dict[str, Any]:
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise CatalogError(f"{source}: not UTF-8 text ({exc})") from None
    except (ValueError, RecursionError) as exc:
        raise CatalogError(f"{source}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        raise CatalogError(f'{source}: expected a JSON object {{"models": [...]}}')
    return data


def _parse_layer(raw: bytes, source: str, *, strict: bool) -> _Layer:
    data = _load_json(raw, source)
    models: list[ModelInfo] = []
    seen: set[str] = set()
    for index, entry in enumerate(data["models"]):
        where = f"{source}: models[{index}]"
        try:
            info = _parse_entry(entry, where, strict=strict)
            if info.slug.lower() in seen:
                raise CatalogError(f"{where}: duplicate slug {info.slug!r}")
        except CatalogError:
            if strict:
                raise
            continue  # the live answer: skip what this code cannot read
        seen.add(info.slug.lower())
        models.append(info)
    return _Layer(models, _aliases(data.get("aliases"), f"{source}: aliases"))


def _aliases(value: object, where: str) -> dict[str, str | None]:
    """`{"retired-name": "slug" | null}`; null turns a lower layer's alias off."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise CatalogError(f"{where}: expected an object of name to slug (or null)")
    out: dict[str, str | None] = {}
    for name, target in value.items():
        if not name.strip() or name != name.strip():
            raise CatalogError(f"{where}: {name!r} is not a model name")
        if target is not None and (not isinstance(target, str) or not target.strip()):
            raise CatalogError(f"{where}.{name}: expected a model slug or null, not {target!r}")
        out[name.lower()] = target
    return out


def _parse_entry(entry: object, where: str, *, strict: bool = True) -> ModelInfo:
    if not isinstance(entry, dict):
        raise CatalogError(f"{where}: expected an object")
    slug = entry.get("slug")
    if not isinstance(slug, str) or not slug.strip() or slug != slug.strip():
        raise CatalogError(f"{where}.slug: expected a non-empty string without spaces")
    levels = _levels(
        entry.get("supported_reasoning_levels"),
        f"{where}.supported_reasoning_levels",
        strict=strict,
    )
    default = _optional(entry, "default_reasoning_level", str, where)
    if default is not None and default not in (levels or EFFORTS):
        if not strict:
            default = None
        else:
            allowed = ", ".join(levels or tuple(Effort))
            raise CatalogError(
                f"{where}.default_reasoning_level: {default!r} is not one of {allowed}"
            )
    window = _window(entry, "context_window", where)
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
        use_responses_lite=_flag(entry, "use_responses_lite", where, default=False),
        minimal_client_version=_minimal_version(entry, where, strict=strict),
        service_tiers=_tiers(entry.get("service_tiers"), f"{where}.service_tiers", strict=strict),
        max_context_window=_window(entry, "max_context_window", where),
    )


def _window(entry: dict[str, Any], key: str, where: str) -> int | None:
    window = _optional(entry, key, int, where)
    if window is not None and window <= 0:
        raise CatalogError(f"{where}.{key}: expected a positive integer")
    return window


def _minimal_version(entry: dict[str, Any], where: str, *, strict: bool) -> Version | None:
    value = entry.get("minimal_client_version")
    if value is None:
        return None
    version = parse_version(value)
    if version is None and strict:
        raise CatalogError(
            f'{where}.minimal_client_version: expected a version such as "0.153.0", not {value!r}'
        )
    return version


def _tiers(value: object, where: str, *, strict: bool) -> tuple[str, ...] | None:
    """`[{"id": "priority", "name": …}, …]` (the backend's shape) or `["priority", …]`."""
    if value is None:
        return None
    if not isinstance(value, list):
        if strict:
            raise CatalogError(f"{where}: expected a list")
        return None
    tiers: list[str] = []
    for index, item in enumerate(value):
        tier = item.get("id") if isinstance(item, dict) else item
        if not isinstance(tier, str) or not tier.strip():
            if strict:
                raise CatalogError(f"{where}[{index}]: expected a tier id, not {item!r}")
            continue
        if tier not in tiers:
            tiers.append(tier)
    return tuple(tiers)


def _levels(value: object, where: str, *, strict: bool) -> tuple[str, ...]:
    """`[{"effort": "low", ...}, ...]` (the backend's shape) or `["low", ...]`; known levels
    (not `strict`: unknown ones are left out)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise CatalogError(f"{where}: expected a list")
    levels: list[str] = []
    for index, item in enumerate(value):
        effort = item.get("effort") if isinstance(item, dict) else item
        if not isinstance(effort, str) or effort not in _RANK:
            if not strict:
                continue
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
    value = entry.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise CatalogError(f"{where}.{key}: expected true or false, not {value!r}")
    return value
