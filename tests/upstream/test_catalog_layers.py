"""catalog_layers: one catalog layer read from JSON: the embedded facts, user files checked
strictly, the live answer leniently."""

from __future__ import annotations

import json

import pytest

from chat2responses.upstream.catalog import Catalog, CatalogError, ModelInfo
from chat2responses.upstream.catalog_layers import embedded_catalog
from chat2responses.upstream.identity import parse_version
from tests.upstream.test_catalog import CATALOG, EMBEDDED_FACTS, _catalog, _models

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
    "use_responses_lite",
    "service_tiers",
}


USER_ERRORS = [
    (
        _models({"slug": "a", "minimal_client_version": "new"}),
        'models[0].minimal_client_version: expected a version such as "0.153.0"',
    ),
    (
        _models({"slug": "a", "service_tiers": "priority"}),
        "models[0].service_tiers: expected a list",
    ),
    (
        _models({"slug": "a", "service_tiers": [{"name": "x"}]}),
        "models[0].service_tiers[0]: expected",
    ),
    (_models({"slug": "a", "max_context_window": 0}), "models[0].max_context_window: expected a"),
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


ALIAS_ERRORS = [
    (_catalog(models=[], aliases=["gpt-5.4"]), "aliases: expected an object"),
    (_catalog(models=[], aliases={"a": 5}), "aliases.a: expected a model slug or null"),
    (_catalog(models=[], aliases={"a": ""}), "aliases.a: expected a model slug or null"),
    (_catalog(models=[], aliases={" a": "b"}), "aliases: ' a' is not a model name"),
]


def test_embedded_catalog_lists_exactly_the_expected_models_in_order() -> None:
    assert CATALOG.slugs() == tuple(EMBEDDED_FACTS)


@pytest.mark.parametrize("slug", list(EMBEDDED_FACTS))
def test_embedded_entry_has_the_codex_models_shape_and_facts(slug: str) -> None:
    raw = {m["slug"]: m for m in json.loads(embedded_catalog())["models"]}[slug]
    facts = EMBEDDED_FACTS[slug]
    extra = {"minimal_client_version"} if facts.minimal else set()
    assert set(raw) == ENTRY_KEYS | extra
    assert raw["display_name"] == slug
    assert raw["prefer_websockets"] is True
    assert raw["supported_in_api"] is facts.in_api
    assert raw["max_context_window"] == facts.max_window
    assert raw["default_verbosity"] == facts.verbosity
    assert raw["support_verbosity"] is True
    assert raw["supports_parallel_tool_calls"] is True
    assert raw["input_modalities"] == facts.modalities
    assert all(
        set(level) == {"effort", "description"} for level in raw["supported_reasoning_levels"]
    )
    assert all(level["description"] for level in raw["supported_reasoning_levels"])
    # As the Codex CLI's model-info types read them: objects with an id, a name, a description.
    assert all(set(tier) == {"id", "name", "description"} for tier in raw["service_tiers"])
    assert raw.get("minimal_client_version") == facts.minimal
    assert CATALOG.match(slug).info == ModelInfo(
        slug=slug,
        prefer_websockets=True,
        reasoning_levels=facts.levels,
        default_reasoning_level=facts.default,
        context_window=facts.window,
        supports_reasoning_summaries=facts.summaries,
        use_responses_lite=facts.lite,
        minimal_client_version=parse_version(facts.minimal),
        service_tiers=facts.tiers,
        max_context_window=facts.max_window,
    )
    assert raw["use_responses_lite"] is facts.lite


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


def test_the_live_answer_is_read_leniently() -> None:
    live = _catalog(
        models=[
            {"slug": "new", "supported_reasoning_levels": [{"effort": "hyper"}, {"effort": "low"}]},
            {"slug": "newer", "default_reasoning_level": "hyper"},
            {"slug": 5},
            "not an entry",
            {"slug": "new"},  # a duplicate is skipped, the first stays
            {"slug": "flags", "use_responses_lite": None, "prefer_websockets": None},
        ],
        aliases={"gpt-5.4": None},
    )
    catalog = Catalog.layered(embedded_catalog(), live)
    assert catalog.slugs() == (*EMBEDDED_FACTS, "new", "newer", "flags")
    assert catalog.match("new").info == ModelInfo("new", False, ("low",), None, None, True, False)
    newer = catalog.match("newer").info
    assert newer is not None and newer.default_reasoning_level is None
    assert catalog.match("gpt-5.4").alias_of is None


@pytest.mark.parametrize("live", [b"", b"[]", b'{"data": []}'])
def test_a_live_answer_of_the_wrong_shape_is_a_catalog_error(live: bytes) -> None:
    with pytest.raises(CatalogError, match=r"^the upstream's /models answer: "):
        Catalog.layered(embedded_catalog(), live)


@pytest.mark.parametrize(("user", "message"), ALIAS_ERRORS)
def test_invalid_aliases_are_refused(user: bytes, message: str) -> None:
    with pytest.raises(CatalogError, match=r"^responses_catalog: ") as caught:
        Catalog.parse(embedded_catalog(), user)
    assert message in str(caught.value)


def test_client_versions_and_tiers_are_read_in_both_spellings() -> None:
    user = _models(
        {"slug": "a", "minimal_client_version": [0, 99, 0], "service_tiers": ["flex", "flex"]},
        {"slug": "b", "minimal_client_version": "0.153.0-alpha.2", "service_tiers": []},
        {"slug": "c", "service_tiers": [{"id": "priority", "name": "Fast", "description": "x"}]},
    )
    catalog = Catalog.parse(embedded_catalog(), user)
    infos = {slug: catalog.match(slug).info for slug in ("a", "b", "c")}
    assert infos["a"] is not None and infos["a"].minimal_client_version == (0, 99, 0)
    assert infos["a"].service_tiers == ("flex",)
    assert infos["b"] is not None and infos["b"].minimal_client_version == (0, 153, 0)
    assert infos["b"].service_tiers == ()
    assert infos["c"] is not None and infos["c"].service_tiers == ("priority",)
    assert infos["c"].minimal_client_version is None


def test_the_live_answer_s_unreadable_versions_and_tiers_are_left_out() -> None:
    live = _catalog(
        models=[
            {"slug": "x", "minimal_client_version": "soon", "service_tiers": "all"},
            {"slug": "y", "service_tiers": [{"id": "priority"}, 5, {"id": ""}]},
        ]
    )
    catalog = Catalog.layered(embedded_catalog(), live)
    x, y = catalog.match("x").info, catalog.match("y").info
    assert x is not None and x.minimal_client_version is None and x.service_tiers is None
    assert y is not None and y.service_tiers == ("priority",)
