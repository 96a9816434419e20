"""catalog: the embedded facts, user catalogs merged over them, and the one name matcher."""

from __future__ import annotations

import json

import pytest

from addon.catalog import (
    Catalog,
    CatalogError,
    ModelInfo,
    ModelMatch,
    clamp_effort,
    embedded_catalog,
)

CATALOG = Catalog.default()

# --- the embedded catalog (cliproxyapi.md §1a/§1b; newer §1b values where both list a model) ----

L4 = ("low", "medium", "high", "xhigh")

# slug: (levels, default level, context_window, max_context_window, supported_in_api,
#        summaries, default_verbosity, input_modalities)
EMBEDDED_FACTS = {
    "gpt-5.5": (L4, "medium", 272000, 272000, True, True, "low", ["text", "image"]),
    "gpt-5.4": (L4, "medium", 272000, 1000000, True, True, "low", ["text", "image"]),
    "gpt-5.4-mini": (L4, "medium", 272000, 272000, True, True, "medium", ["text", "image"]),
    "gpt-5.3-codex": (L4, "medium", 272000, 272000, True, True, "low", ["text", "image"]),
    "gpt-5.2": (L4, "medium", 272000, 272000, True, True, "low", ["text", "image"]),
    "codex-auto-review": (
        (*L4, "max"),
        "medium",
        272000,
        921000,
        True,
        True,
        "low",
        ["text", "image"],
    ),
    "gpt-5.6-sol": (
        (*L4, "max", "ultra"),
        "low",
        272000,
        921000,
        True,
        True,
        "low",
        ["text", "image"],
    ),
    "gpt-5.6-terra": (
        (*L4, "max", "ultra"),
        "medium",
        272000,
        921000,
        True,
        True,
        "low",
        ["text", "image"],
    ),
    "gpt-5.6-luna": ((*L4, "max"), "medium", 272000, 921000, True, True, "low", ["text", "image"]),
    "gpt-5.3-codex-spark": (L4, "high", 128000, 128000, False, False, "low", ["text"]),
}

ENTRY_KEYS = {
    "slug",
    "display_name",
    "prefer_websockets",
    "supported_in_api",
    "context_window",
    "max_context_window",
    "default_reasoning_level",
    "supported_reasoning_levels",
    "supports_reasoning_summaries",
    "support_verbosity",
    "default_verbosity",
    "supports_parallel_tool_calls",
    "input_modalities",
}


def test_embedded_catalog_lists_exactly_the_expected_models_in_order() -> None:
    assert CATALOG.slugs() == tuple(EMBEDDED_FACTS)


@pytest.mark.parametrize("slug", list(EMBEDDED_FACTS))
def test_embedded_entry_has_the_codex_models_shape_and_facts(slug: str) -> None:
    raw = {m["slug"]: m for m in json.loads(embedded_catalog())["models"]}[slug]
    levels, default, window, max_window, in_api, summaries, verbosity, modalities = EMBEDDED_FACTS[
        slug
    ]
    assert set(raw) == ENTRY_KEYS
    assert raw["display_name"] == slug
    assert raw["prefer_websockets"] is True
    assert raw["supported_in_api"] is in_api
    assert raw["max_context_window"] == max_window
    assert raw["default_verbosity"] == verbosity
    assert raw["support_verbosity"] is True
    assert raw["supports_parallel_tool_calls"] is True
    assert raw["input_modalities"] == modalities
    assert all(
        set(level) == {"effort", "description"} for level in raw["supported_reasoning_levels"]
    )
    assert all(level["description"] for level in raw["supported_reasoning_levels"])
    assert CATALOG.match(slug).info == ModelInfo(
        slug=slug,
        prefer_websockets=True,
        reasoning_levels=levels,
        default_reasoning_level=default,
        context_window=window,
        supports_reasoning_summaries=summaries,
    )


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
    ("gpt-5.4-mini-high", "gpt-5.4-mini", "gpt-5.4-mini", "high"),
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
    ("gpt-5.4-mini", "gpt-5.4-mini", "gpt-5.4-mini", None),
    ("gpt-5.4-mini-2026-01-01", "gpt-5.4-mini-2026-01-01", "gpt-5.4-mini", None),
    ("gpt-5.3-codex", "gpt-5.3-codex", "gpt-5.3-codex", None),
    ("gpt-5.3-codex-spark", "gpt-5.3-codex-spark", "gpt-5.3-codex-spark", None),
    # not catalog models: only a date or an effort may follow a slug
    ("gpt-5.5-pro", "gpt-5.5-pro", None, None),
    ("gpt-5.5-mini", "gpt-5.5-mini", None, None),
    ("gpt-5.5-fast", "gpt-5.5-fast", None, None),
    ("gpt-5.5-2026-04", "gpt-5.5-2026-04", None, None),
    ("gpt-5.5-20260423", "gpt-5.5-20260423", None, None),
    ("gpt-5.5(auto)", "gpt-5.5(auto)", None, None),
    ("gpt-5", "gpt-5", None, None),
    # unknown models: case kept, only the (level) form is an effort, and it is not clamped
    ("Foo-Model", "Foo-Model", None, None),
    ("foo-high", "foo-high", None, None),
    ("foo(high)", "foo", None, "high"),
    ("acme/foo(ultra)", "foo", None, "ultra"),
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
    )
    assert catalog.match("my-model-2025-01-01(minimal)") == ModelMatch(
        "my-model-2025-01-01(minimal)",
        "my-model-2025-01-01",
        ModelInfo("my-model", False, ("none", "low"), None, None, True),
        "low",
    )
    assert catalog.match("gpt-5.4").info == CATALOG.match("gpt-5.4").info


def test_user_catalog_with_no_models_changes_nothing() -> None:
    catalog = Catalog.parse(embedded_catalog(), b'{"models": []}')
    assert catalog.slugs() == CATALOG.slugs()


def _models(*entries: object) -> bytes:
    return json.dumps({"models": list(entries)}).encode()


# user bytes → the message (always naming the file)
USER_ERRORS = [
    (b"", "responses_catalog: not valid JSON"),
    (b"{models: []}", "responses_catalog: not valid JSON"),
    (b"\xff\xfe\x00", "responses_catalog: not UTF-8"),
    (b"[]", 'responses_catalog: expected a JSON object {"models": [...]}'),
    (b'{"models": {}}', 'expected a JSON object {"models": [...]}'),
    (b'{"data": []}', 'expected a JSON object {"models": [...]}'),
    (_models(1), "responses_catalog: models[0]: expected an object"),
    (_models({"slug": "a"}, {}), "models[1].slug: expected a non-empty string"),
    (_models({"slug": ""}), "models[0].slug: expected a non-empty string"),
    (_models({"slug": " a"}), "models[0].slug: expected a non-empty string without spaces"),
    (_models({"slug": 5}), "models[0].slug"),
    (_models({"slug": "a", "prefer_websockets": "yes"}), "models[0].prefer_websockets: expected"),
    (
        _models({"slug": "a", "supports_reasoning_summaries": 1}),
        "models[0].supports_reasoning_summaries: expected true or false",
    ),
    (
        _models({"slug": "a", "supported_reasoning_levels": "low"}),
        "models[0].supported_reasoning_levels: expected a list",
    ),
    (
        _models({"slug": "a", "supported_reasoning_levels": [{"effort": "turbo"}]}),
        "models[0].supported_reasoning_levels[0].effort: expected one of none, minimal, low",
    ),
    (
        _models({"slug": "a", "supported_reasoning_levels": [{"description": "x"}]}),
        "supported_reasoning_levels[0].effort",
    ),
    (
        _models(
            {"slug": "a", "supported_reasoning_levels": ["low"], "default_reasoning_level": "high"}
        ),
        "models[0].default_reasoning_level: 'high' is not one of low",
    ),
    (
        _models({"slug": "a", "default_reasoning_level": "turbo"}),
        "models[0].default_reasoning_level: 'turbo' is not one of",
    ),
    (_models({"slug": "a", "context_window": "big"}), "models[0].context_window: expected int"),
    (_models({"slug": "a", "context_window": True}), "models[0].context_window: expected int"),
    (_models({"slug": "a", "context_window": 0}), "models[0].context_window: expected a positive"),
    (_models({"slug": "a"}, {"slug": "A"}), "models[1]: duplicate slug 'A'"),
]


@pytest.mark.parametrize(("user", "message"), USER_ERRORS)
def test_invalid_user_catalog_is_refused_with_a_clear_message(user: bytes, message: str) -> None:
    with pytest.raises(CatalogError) as caught:
        Catalog.parse(embedded_catalog(), user)
    assert message in str(caught.value)
    assert str(caught.value).startswith("responses_catalog: ")


def test_error_names_the_user_file() -> None:
    with pytest.raises(CatalogError, match=r"^/etc/my-models\.json: not valid JSON"):
        Catalog.parse(embedded_catalog(), b"nope", user_name="/etc/my-models.json")


def test_a_broken_embedded_catalog_names_itself() -> None:
    with pytest.raises(CatalogError, match=r"^embedded catalog models\.json: models\[0\]"):
        Catalog.parse(_models({"slug": 1}))


def test_catalog_error_is_a_value_error() -> None:
    # The settings glue turns ValueError into mitmproxy's OptionsError.
    assert issubclass(CatalogError, ValueError)
