"""catalog: the embedded facts, user catalogs merged over them, and the one name matcher."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from chat2responses.upstream.catalog import (
    Catalog,
    ModelInfo,
    ModelMatch,
    clamp_effort,
)
from chat2responses.upstream.catalog_layers import embedded_catalog, embedded_catalog_dict

CATALOG = Catalog.default()

# --- the embedded catalog (cliproxyapi.md §1a/§1b; newer §1b values where both list a model) ----

L4 = ("low", "medium", "high", "xhigh")
PF = ("priority", "flex")


@dataclass(frozen=True)
class Facts:
    levels: tuple[str, ...]
    default: str
    window: int
    max_window: int
    in_api: bool
    summaries: bool
    verbosity: str
    modalities: list[str]
    lite: bool
    minimal: str | None  # minimal_client_version (codex-backend-2026.md §8)
    tiers: tuple[str, ...]  # service_tiers' ids


TI = ["text", "image"]
# Retired (codex-backend-2026.md §1): gpt-5.2, gpt-5.3-codex (2026-06-02), gpt-5.4, gpt-5.4-mini
# (2026-08-31): aliases now, see ALIASES. The gpt-5.6 family and gpt-6-astra: 272K by default,
# 872K at most; astra needs Codex 0.153, the gpt-5.6 family 0.144 (§8).
EMBEDDED_FACTS = {
    "gpt-5.5": Facts(L4, "medium", 272000, 272000, True, True, "low", TI, False, None, PF),
    "gpt-6-astra": Facts(
        L4, "medium", 272000, 872000, True, True, "low", TI, False, "0.153.0", ("priority",)
    ),
    "codex-auto-review": Facts(
        (*L4, "max"), "medium", 272000, 872000, True, True, "low", TI, True, None, ()
    ),
    "gpt-5.6-sol": Facts(
        (*L4, "max", "ultra"),
        "low",
        272000,
        872000,
        True,
        True,
        "low",
        TI,
        True,
        "0.144.0",
        (*PF, "ultrafast"),
    ),
    "gpt-5.6-terra": Facts(
        (*L4, "max", "ultra"), "medium", 272000, 872000, True, True, "low", TI, True, "0.144.0", PF
    ),
    "gpt-5.6-luna": Facts(
        (*L4, "max"), "medium", 272000, 872000, True, True, "low", TI, True, "0.144.0", PF
    ),
    "gpt-5.3-codex-spark": Facts(
        L4, "high", 128000, 128000, False, False, "low", ["text"], False, None, ()
    ),
}
ALIASES = {
    "gpt-5.4": "gpt-5.6-terra",
    "gpt-5.4-mini": "gpt-5.6-luna",
    "gpt-5.4-nano": "gpt-5.6-luna",
    "gpt-5.3-codex": "gpt-5.5",
    "gpt-5.2": "gpt-5.5",
}


def test_embedded_aliases_send_retired_models_as_current_ones() -> None:
    assert json.loads(embedded_catalog())["aliases"] == ALIASES
    assert CATALOG.aliases() == ALIASES
    assert embedded_catalog_dict() == json.loads(embedded_catalog())
    for alias, target in ALIASES.items():
        assert alias not in CATALOG.slugs() and target in CATALOG.slugs()


# --- matching ----------------------------------------------------------------------------------

# name as sent → (upstream_name, catalog slug or None, effort)
MATCHES = [
    ("gpt-5.5", "gpt-5.5", "gpt-5.5", None),
    ("GPT-5.5", "gpt-5.5", "gpt-5.5", None),
    ("  gpt-5.5 ", "gpt-5.5", "gpt-5.5", None),
    ("openai/gpt-5.5", "gpt-5.5", "gpt-5.5", None),
    ("openrouter/openai/gpt-5.5", "gpt-5.5", "gpt-5.5", None),
    # effort suffix, both forms
    ("gpt-5.5(high)", "gpt-5.5", "gpt-5.5", "high"),
    ("gpt-5.5 (HIGH)", "gpt-5.5", "gpt-5.5", "high"),
    ("openai/GPT-5.5(low)", "gpt-5.5", "gpt-5.5", "low"),
    ("gpt-5.5-high", "gpt-5.5", "gpt-5.5", "high"),
    ("gpt-5.5-xhigh", "gpt-5.5", "gpt-5.5", "xhigh"),
    ("gpt-5.6-luna-high", "gpt-5.6-luna", "gpt-5.6-luna", "high"),
    # clamped to the model's levels: nearest, ties to the stronger
    ("gpt-5.5(minimal)", "gpt-5.5", "gpt-5.5", "low"),
    ("gpt-5.5(none)", "gpt-5.5", "gpt-5.5", "low"),
    ("gpt-5.5(max)", "gpt-5.5", "gpt-5.5", "xhigh"),
    ("gpt-5.5-ultra", "gpt-5.5", "gpt-5.5", "xhigh"),
    ("gpt-5.6-sol(ultra)", "gpt-5.6-sol", "gpt-5.6-sol", "ultra"),
    ("gpt-5.6-luna-ultra", "gpt-5.6-luna", "gpt-5.6-luna", "max"),
    ("codex-auto-review-max", "codex-auto-review", "codex-auto-review", "max"),
    # dated snapshots keep their date upstream
    ("gpt-5.5-2026-04-23", "gpt-5.5-2026-04-23", "gpt-5.5", None),
    ("openai/GPT-5.5-2026-04-23(low)", "gpt-5.5-2026-04-23", "gpt-5.5", "low"),
    ("gpt-5.5-2026-04-23-high", "gpt-5.5-2026-04-23", "gpt-5.5", "high"),
    ("gpt-5.6-luna-2026-01-01", "gpt-5.6-luna-2026-01-01", "gpt-5.6-luna", None),
    ("gpt-5.3-codex-spark", "gpt-5.3-codex-spark", "gpt-5.3-codex-spark", None),
    ("gpt-5.3-codex-spark-low", "gpt-5.3-codex-spark", "gpt-5.3-codex-spark", "low"),
    # not catalog models: only a date or an effort may follow a slug
    ("gpt-5.5-pro", "gpt-5.5-pro", None, None),
    ("gpt-5.5-mini", "gpt-5.5-mini", None, None),
    ("gpt-5.5-fast", "gpt-5.5-fast", None, None),
    ("gpt-5.5-2026-04", "gpt-5.5-2026-04", None, None),
    ("gpt-5.5-20260423", "gpt-5.5-20260423", None, None),
    ("gpt-5.5(auto)", "gpt-5.5(auto)", None, None),
    ("gpt-5", "gpt-5", None, None),
    # unknown models: case kept; either suffix form is an effort, but only OpenAI's words, and
    # it is not clamped
    ("Foo-Model", "Foo-Model", None, None),
    ("foo-high", "foo", None, "high"),
    ("Foo-Bar-none", "Foo-Bar", None, "none"),
    ("gpt-5-codex-high", "gpt-5-codex", None, "high"),
    ("openai/o3-mini-minimal", "o3-mini", None, "minimal"),
    ("foo(high)", "foo", None, "high"),
    ("foo-xhigh-2026-01-01", "foo-xhigh-2026-01-01", None, None),
    ("foo-max", "foo-max", None, None),
    ("foo-ultra", "foo-ultra", None, None),
    ("acme/foo(ultra)", "foo(ultra)", None, None),
    ("high", "high", None, None),
    ("-high", "-high", None, None),
    ("", "", None, None),
]


@pytest.mark.parametrize(("name", "upstream", "slug", "effort"), MATCHES)
def test_match(name: str, upstream: str, slug: str | None, effort: str | None) -> None:
    found = CATALOG.match(name)
    assert found.requested == name
    assert found.upstream_name == upstream
    assert (found.info.slug if found.info else None) == slug
    assert found.effort == effort


def test_match_is_cached() -> None:
    catalog = Catalog.default()
    first = catalog.match("openai/gpt-5.5(high)")
    assert catalog.match("openai/gpt-5.5(high)") is first
    assert first == ModelMatch("openai/gpt-5.5(high)", "gpt-5.5", first.info, "high")


def test_match_cache_stays_correct_past_its_bound() -> None:
    catalog = Catalog.default()
    names = [f"unknown-{i}" for i in range(10_000)]
    for name in names:
        catalog.match(name)
    assert catalog.match("gpt-5.5-high").effort == "high"
    assert catalog.match(names[0]).upstream_name == "unknown-0"


CLAMPS = [
    ("high", ("low", "medium", "high"), "high"),
    ("xhigh", ("low", "medium", "high"), "high"),
    ("none", ("low", "medium"), "low"),
    ("minimal", ("none", "low", "medium"), "low"),  # tie between none and low: stronger
    ("minimal", ("none", "medium"), "none"),
    ("max", ("low", "ultra"), "ultra"),  # tie again
    ("medium", ("none",), "none"),
    ("medium", (), None),
    ("bogus", ("low",), None),
]


@pytest.mark.parametrize(("effort", "supported", "expected"), CLAMPS)
def test_clamp_effort(effort: str, supported: tuple[str, ...], expected: str | None) -> None:
    assert clamp_effort(effort, supported) == expected


def test_known_model_without_levels_gets_no_effort() -> None:
    user = b'{"models": [{"slug": "plain"}]}'
    catalog = Catalog.parse(embedded_catalog(), user)
    assert catalog.match("plain(high)") == ModelMatch(
        "plain(high)",
        "plain",
        ModelInfo("plain", False, (), None, None, True),
        None,
    )


# --- user catalogs -----------------------------------------------------------------------------


def test_user_entries_replace_by_slug_and_add_new_ones() -> None:
    user = json.dumps(
        {
            "models": [
                {
                    "slug": "GPT-5.5",
                    "prefer_websockets": False,
                    "supported_reasoning_levels": [{"effort": "high"}, {"effort": "low"}],
                    "default_reasoning_level": "high",
                    "context_window": 1000,
                    "extra_key_from_the_backend": {"ignored": True},
                },
                {"slug": "my-model", "supported_reasoning_levels": ["none", "low"]},
            ]
        }
    ).encode()
    catalog = Catalog.parse(embedded_catalog(), user)
    # Replaced in place (the user's spelling), new ones appended.
    assert catalog.slugs() == ("GPT-5.5", *tuple(EMBEDDED_FACTS)[1:], "my-model")
    assert catalog.match("gpt-5.5").info == ModelInfo(
        "GPT-5.5", False, ("low", "high"), "high", 1000, True
    )  # the user's entry replaces the whole embedded one: no tiers, no max window
    assert catalog.match("my-model-2025-01-01(minimal)") == ModelMatch(
        "my-model-2025-01-01(minimal)",
        "my-model-2025-01-01",
        ModelInfo("my-model", False, ("none", "low"), None, None, True, False),
        "low",
    )
    assert catalog.match("gpt-5.6-luna").info == CATALOG.match("gpt-5.6-luna").info


def test_user_catalog_with_no_models_changes_nothing() -> None:
    catalog = Catalog.parse(embedded_catalog(), b'{"models": []}')
    assert catalog.slugs() == CATALOG.slugs()


def _models(*entries: object) -> bytes:
    return json.dumps({"models": list(entries)}).encode()


# user bytes → the message (always naming the file)
# --- aliases (rule 4) --------------------------------------------------------------------------

# name as sent → (upstream_name, catalog slug, effort, alias_of)
ALIAS_MATCHES = [
    ("gpt-5.4", "gpt-5.6-terra", "gpt-5.6-terra", None, "gpt-5.4"),
    ("GPT-5.4", "gpt-5.6-terra", "gpt-5.6-terra", None, "gpt-5.4"),
    ("openai/gpt-5.4-mini", "gpt-5.6-luna", "gpt-5.6-luna", None, "gpt-5.4-mini"),
    ("gpt-5.4-mini-high", "gpt-5.6-luna", "gpt-5.6-luna", "high", "gpt-5.4-mini"),
    ("gpt-5.4(ultra)", "gpt-5.6-terra", "gpt-5.6-terra", "ultra", "gpt-5.4"),
    ("gpt-5.4-mini(ultra)", "gpt-5.6-luna", "gpt-5.6-luna", "max", "gpt-5.4-mini"),
    ("gpt-5.3-codex", "gpt-5.5", "gpt-5.5", None, "gpt-5.3-codex"),
    ("gpt-5.3-codex-xhigh", "gpt-5.5", "gpt-5.5", "xhigh", "gpt-5.3-codex"),
    ("gpt-5.2(none)", "gpt-5.5", "gpt-5.5", "low", "gpt-5.2"),
    # a retired snapshot is retired too: sent as the undated target
    ("gpt-5.4-2026-03-05", "gpt-5.6-terra", "gpt-5.6-terra", None, "gpt-5.4"),
    # a current slug that begins like an alias is itself
    ("gpt-5.3-codex-spark", "gpt-5.3-codex-spark", "gpt-5.3-codex-spark", None, None),
    ("gpt-5.4-pro", "gpt-5.4-pro", None, None, None),
]


@pytest.mark.parametrize(("name", "upstream", "slug", "effort", "alias"), ALIAS_MATCHES)
def test_alias_match(
    name: str, upstream: str, slug: str, effort: str | None, alias: str | None
) -> None:
    found = CATALOG.match(name)
    assert (found.upstream_name, found.info.slug if found.info else None) == (upstream, slug)
    assert (found.effort, found.alias_of) == (effort, alias)


def test_a_user_turns_an_alias_off_or_points_it_elsewhere() -> None:
    user = b'{"models": [], "aliases": {"gpt-5.4": null, "gpt-5.2": "gpt-5.6-sol", "old": "x"}}'
    catalog = Catalog.parse(embedded_catalog(), user)
    assert catalog.match("gpt-5.4") == ModelMatch("gpt-5.4", "gpt-5.4", None, None, None)
    assert catalog.match("gpt-5.2").upstream_name == "gpt-5.6-sol"
    # an alias to a model no layer knows: sent under that name, unknown
    assert catalog.match("old") == ModelMatch("old", "x", None, None, "old")
    expected = {k: v for k, v in ALIASES.items() if k != "gpt-5.4"}
    assert catalog.aliases() == {**expected, "gpt-5.2": "gpt-5.6-sol", "old": "x"}


def test_a_model_any_layer_lists_beats_an_alias_of_the_same_name() -> None:
    entry = {"slug": "gpt-5.4", "prefer_websockets": True, "supported_reasoning_levels": ["high"]}
    user = _catalog(models=[entry])
    found = Catalog.parse(embedded_catalog(), user).match("gpt-5.4-high")
    assert (found.upstream_name, found.alias_of, found.effort) == ("gpt-5.4", None, "high")
    assert found.info is not None and found.info.prefer_websockets


# --- layering: embedded < live < user ----------------------------------------------------------


def _catalog(**layers: Any) -> bytes:
    return json.dumps(layers).encode()


def test_live_answer_replaces_embedded_entries_and_the_user_file_replaces_both() -> None:
    live = _catalog(
        models=[
            {"slug": "gpt-5.5", "context_window": 1000, "use_responses_lite": True},
            {
                "slug": "gpt-6-astra",
                "prefer_websockets": True,
                "supported_reasoning_levels": ["low"],
            },
            {"slug": "gpt-5.6-sol", "context_window": 2000},
        ]
    )
    user = _catalog(models=[{"slug": "gpt-5.6-sol", "context_window": 3000}])
    catalog = Catalog.layered(embedded_catalog(), live, user, user_name="mine.json")
    assert catalog.slugs() == tuple(EMBEDDED_FACTS)  # astra's live entry replaced in place
    assert catalog.match("gpt-5.5").info == ModelInfo("gpt-5.5", False, (), None, 1000, True, True)
    assert catalog.match("gpt-6-astra-low").info == ModelInfo(
        "gpt-6-astra", True, ("low",), None, None, True, False
    )
    info = catalog.match("gpt-5.6-sol").info
    assert info is not None and info.context_window == 3000
    assert catalog.aliases() == ALIASES  # the live answer has none: the embedded ones stay
