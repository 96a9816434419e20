"""What the emulated backend decides from its catalog: which client may use a model, which models
`GET /models` lists to a client version, and which service tier a request is served at
(reference/codex-backend-2026.md §8).

- Rule 1 (identity): a request names its client version in its `version` header, else in its
  `User-Agent` (`codex_cli_rs/<version> (…)`); a WebSocket request in its handshake. A model
  whose entry has a `minimal_client_version` is refused to a request that names none (404
  `Model not found <model>`, as the backend answers an identity it cannot read) or an older one
  (400 "The '<model>' model requires a newer version of Codex…"). Models without one serve
  anybody.
- Rule 2 (`/models`): `client_version` is required (400 "Field required" without it), and the
  list leaves out the models that version is too old for.
- Rule 3 (tiers): `service_tier` must be one the API knows (else a 400 listing them); a tier the
  model's entry lists and the account has (`EmulatorConfig.account_tiers`) is served as asked;
  any other specific tier is answered silently at `auto`; none, `auto` or `default` at
  `default`.

Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from chat2responses.emulator.rules import Rejection, detail, model_family

Version = tuple[int, int, int]
_VERSION = re.compile(r"\s*(\d{1,6})\.(\d{1,6})\.(\d{1,6})(?:-[0-9A-Za-z.]+)?\s*")
_AGENT = re.compile(r"^[A-Za-z0-9_ .-]{1,64}/(\d{1,6}\.\d{1,6}\.\d{1,6})")

KNOWN_TIERS = ("auto", "default", "flex", "priority", "scale", "ultrafast")
UNSPECIFIC = frozenset({"auto", "default"})


def parse_version(value: object) -> Version | None:
    """`"0.153.0"` or `[0, 153, 0]` (older catalogs) as a triple; None for anything else."""
    if isinstance(value, str):
        found = _VERSION.fullmatch(value)
        return (int(found[1]), int(found[2]), int(found[3])) if found else None
    if isinstance(value, list) and len(value) == 3 and all(type(v) is int for v in value):
        return (value[0], value[1], value[2])
    return None


def version_text(version: Version) -> str:
    return ".".join(map(str, version))


def client_version(headers: Mapping[str, str]) -> Version | None:
    """Rule 1: the version a request's headers name (`version`, else the `User-Agent`'s)."""
    given = parse_version(headers.get("version", ""))
    if given is not None:
        return given
    found = _AGENT.match(headers.get("user-agent", "").strip())
    return parse_version(found[1]) if found else None


def minimal_versions(catalog: Mapping[str, Any]) -> dict[str, Version]:
    """Slug → its `minimal_client_version`, for the entries that have one."""
    out: dict[str, Version] = {}
    for model in catalog.get("models", ()):
        if isinstance(model, dict) and isinstance(slug := model.get("slug"), str):
            version = parse_version(model.get("minimal_client_version"))
            if version is not None:
                out[slug] = version
    return out


def tiers_of(catalog: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    """Slug → the tier ids its `service_tiers` lists (entries without the field are left out)."""
    out: dict[str, frozenset[str]] = {}
    for model in catalog.get("models", ()):
        tiers = model.get("service_tiers") if isinstance(model, dict) else None
        if isinstance(slug := model.get("slug"), str) and isinstance(tiers, list):
            ids = (t.get("id") if isinstance(t, dict) else t for t in tiers)
            out[slug] = frozenset(tier for tier in ids if isinstance(tier, str))
    return out


def identity_refusal(
    model: str, client: Version | None, minimal: Mapping[str, Version]
) -> Rejection | None:
    """Rule 1: the refusal of `model` to a client of version `client` (None: it named none)."""
    family = model_family(model, minimal)
    if family is None:
        return None
    needed = minimal[family]
    if client is None:
        return detail(f"Model not found {model}", status=404)
    if client < needed:
        return Rejection(
            400,
            f"The '{model}' model requires a newer version of Codex. Please upgrade to the "
            f"latest app or CLI (at least {version_text(needed)}) and try again.",
            code="model_requires_newer_client",
            param="model",
        )
    return None


def listed_models(
    catalog: Mapping[str, Any], client_version: str | None
) -> tuple[int, dict[str, Any]]:
    """Rule 2: the status and body of `/models?client_version=…`."""
    if client_version is None:
        where = ["query", "client_version"]
        return 400, {"detail": [{"type": "missing", "loc": where, "msg": "Field required"}]}
    version = parse_version(client_version)
    if version is None:
        return 400, {"detail": f"Invalid client_version: {client_version[:40]!r}"}
    minimal = minimal_versions(catalog)
    models = [
        model
        for model in catalog.get("models", ())
        if not isinstance(model, dict) or minimal.get(str(model.get("slug")), (0, 0, 0)) <= version
    ]
    return 200, {**catalog, "models": models}


def served_tier(
    model: str,
    asked: object,
    listed: Mapping[str, frozenset[str]],
    account: Collection[str],
) -> str | Rejection:
    """Rule 3: the tier `model` is served at when `asked`, or the 400 of an unknown tier."""
    if asked is None or asked in UNSPECIFIC:
        return "default"
    if not isinstance(asked, str) or asked not in KNOWN_TIERS:
        names = ", ".join(f"'{tier}'" for tier in KNOWN_TIERS)
        return Rejection(
            400,
            f"Invalid value: {str(asked)[:40]!r}. Supported values are: {names}.",
            code="invalid_value",
            param="service_tier",
        )
    family = model_family(model, listed)
    offered = listed[family] if family is not None else frozenset()
    return asked if asked in offered and asked in account else "auto"
