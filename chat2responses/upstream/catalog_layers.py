"""One layer of the model catalog, read from JSON: the embedded `models.json`, the upstream's own
`/models` answer, or the user's `responses_catalog` file (catalog.py layers them and matches names).

Owns the vocabulary of a catalog entry (`ModelInfo`, the effort levels) and reading a layer: its
`models` (the Codex backend's `/models` shape) and its `aliases`.

Must not: read any file but the package's own `models.json` (callers pass the bytes of the live
answer and of the user's file), or know anything about requests or transports.

Rule 1: an embedded or user layer is read strictly (a bad entry is a `CatalogError` naming it);
        the live answer leniently (what cannot be read is left out: the upstream adds fields).
Rule 2: `minimal_client_version` ("0.153.0", or `[0, 153, 0]` as older catalogs spell it),
        `service_tiers` (objects with an `id`, as the Codex CLI reads them, or plain strings;
        absent: the entry says nothing of tiers) and `max_context_window` are read as given; a
        live entry's `minimal_client_version` or tier that cannot be read is left out.
Pure: no I/O but the package's own data file.
"""

from __future__ import annotations

import json
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


EFFORT_RANK = {effort.value: rank for rank, effort in enumerate(Effort)}
EFFORTS = frozenset(EFFORT_RANK)
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


class CatalogError(ValueError):
    """A catalog file that is not valid JSON or not the `{"models": [...]}` shape."""


EMBEDDED_NAME = "embedded catalog models.json"
LIVE_NAME = "the upstream's /models answer"


@dataclass(frozen=True, slots=True)
class Layer:
    models: list[ModelInfo]
    aliases: dict[str, str | None]  # lower-cased name → target slug, or None: turned off


def embedded_catalog() -> bytes:
    """The bytes of the package's own `models.json`."""
    return resources.files(__package__ or "chat2responses").joinpath("models.json").read_bytes()


def embedded_catalog_dict() -> dict[str, Any]:
    """The package's own `models.json`, parsed (checked: an object with a `models` list)."""
    data = _load_json(embedded_catalog(), EMBEDDED_NAME)
    parse_layer(embedded_catalog(), EMBEDDED_NAME, strict=True)
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


def parse_layer(raw: bytes, source: str, *, strict: bool) -> Layer:
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
    return Layer(models, _aliases(data.get("aliases"), f"{source}: aliases"))


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
        if not isinstance(effort, str) or effort not in EFFORT_RANK:
            if not strict:
                continue
            allowed = ", ".join(Effort)
            raise CatalogError(
                f"{where}[{index}].effort: expected one of {allowed}, not {effort!r}"
            )
        if effort not in levels:
            levels.append(effort)
    return tuple(sorted(levels, key=EFFORT_RANK.__getitem__))


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
