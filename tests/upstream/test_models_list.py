"""The model list: which paths are ours, and the OpenAI shape of the catalog."""

from __future__ import annotations

import json

import pytest

from chat2responses.protocol.errors import ClientError
from chat2responses.upstream.catalog import Catalog
from chat2responses.upstream.models_list import model_list, models_path, one_model

CATALOG = Catalog.default()


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/models", (True, None)),
        ("/v1/models/", (True, None)),
        ("/v1/models/gpt-5.5", (True, "gpt-5.5")),
        ("/openai/v1/models?x=1", (True, None)),
        ("/models", (True, None)),
        ("/v1/models/a/b", (False, None)),
        ("/v1/chat/completions", (False, None)),
        ("/backend-api/codex/models", (False, None)),
    ],
)
def test_models_paths(path: str, expected: tuple[bool, str | None]) -> None:
    assert models_path(path) == expected


def test_the_list_has_every_catalog_model_in_openai_shape() -> None:
    listed = json.loads(model_list(CATALOG))
    assert listed["object"] == "list"
    assert [m["id"] for m in listed["data"]] == list(CATALOG.slugs())
    for entry in listed["data"]:
        assert {"id", "object", "created", "owned_by"} <= set(entry)
        assert entry["object"] == "model"


def test_one_model_is_matched_like_a_request_and_an_unknown_one_is_a_404() -> None:
    assert json.loads(one_model(CATALOG, "openai/GPT-5.5"))["id"] == "gpt-5.5"
    with pytest.raises(ClientError) as caught:
        one_model(CATALOG, "nope")
    assert caught.value.status == 404 and caught.value.code == "model_not_found"


@pytest.mark.parametrize(
    ("model", "window", "largest", "tiers"),
    [
        ("gpt-5.5", 272000, 272000, ["priority", "flex"]),
        ("gpt-6-astra", 272000, 872000, ["priority"]),
        ("gpt-5.6-sol", 272000, 872000, ["priority", "flex", "ultrafast"]),
        ("gpt-5.6-terra", 272000, 872000, ["priority", "flex"]),
        ("gpt-5.6-luna", 272000, 872000, ["priority", "flex"]),
    ],
)
def test_each_entry_says_its_context_windows_and_tiers(
    model: str, window: int, largest: int, tiers: list[str]
) -> None:
    entry = json.loads(one_model(CATALOG, model))
    assert (entry["context_window"], entry["max_context_window"]) == (window, largest)
    assert entry["service_tiers"] == tiers
