"""The emulator as the Codex backend of late 2026 (reference/codex-backend-2026.md §8): models gated
on the client's version, `/models?client_version=`, `/responses/compact` gone, compaction through
`compaction_trigger`, tiers with silent downgrade, the refused cache fields, sequential-cutoff
summaries, safety buffering, the unstable WebSocket; and what the Codex CLI 0.171.0 really sent
(tests/fixtures/codex_cli_0.171.0.json) served as the CLI saw it served."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from chat2responses.emulator import (
    Caller,
    Drop,
    Emit,
    Emulator,
    EmulatorConfig,
    Reject,
    Transport,
    WebSocketSession,
)
from chat2responses.emulator.catalog_rules import client_version, listed_models, served_tier
from chat2responses.emulator.signing import credential_digest
from chat2responses.emulator.steps import Headers
from tests.emulator_helpers import emulator_in_process

CAPTURE = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "codex_cli_0.171.0.json").read_text("utf-8")
)
NEW = (0, 171, 0)
ASTRA = "gpt-6-astra"


def body(text: str = "hi", model: str = "gpt-5.5", **fields: Any) -> dict[str, Any]:
    user = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    return {"model": model, "input": [user], "store": False, "stream": True, **fields}


def answer(
    emulator: Emulator,
    request: dict[str, Any],
    version: Any = NEW,
    transport: Any = None,
) -> list[Any]:
    """Over WebSocket by default; a Lite model's request is marked and shaped as Lite."""
    lite = str(request.get("model")).startswith("gpt-5.6")
    if lite:
        request = {**request, "parallel_tool_calls": False}
    caller = Caller(lite_marker=lite, client_version=version)
    return emulator.respond(request, transport or Transport.WEBSOCKET, caller)


def events(steps: list[Any]) -> list[dict[str, Any]]:
    return [step.event for step in steps if isinstance(step, Emit)]


def refusal(steps: list[Any]) -> Any:
    (step,) = steps
    assert isinstance(step, Reject)
    return step.rejection


EMULATOR = Emulator(EmulatorConfig.default())


# ---- the client's identity -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"version": "0.153.0"}, (0, 153, 0)),
        ({"user-agent": "codex_cli_rs/0.171.0 (Linux 6.8.0; x86_64) unknown"}, NEW),
        ({"user-agent": "OpenAI/Python 2.9.0"}, None),
        ({}, None),
    ],
)
def test_the_client_version_comes_from_its_headers(
    headers: dict[str, str], expected: tuple[int, int, int] | None
) -> None:
    assert client_version(headers) == expected


def test_a_model_is_served_only_to_a_client_new_enough() -> None:
    unnamed = refusal(answer(EMULATOR, body(model=ASTRA), version=None))
    assert (unnamed.status, unnamed.http_body()) == (404, {"detail": f"Model not found {ASTRA}"})
    old = refusal(answer(EMULATOR, body(model=ASTRA), version=(0, 150, 0)))
    assert old.status == 400 and "requires a newer version of Codex" in old.message
    assert "0.153.0" in old.message
    for version in [(0, 153, 0), NEW]:
        assert events(answer(EMULATOR, body(model=ASTRA), version=version))[-1]["type"] == (
            "response.completed"
        )
    # A model without a minimal_client_version serves any client, even one that names none.
    assert events(answer(EMULATOR, body(), version=None))[-1]["type"] == "response.completed"
    luna = refusal(answer(EMULATOR, body(model="gpt-5.6-luna"), version=(0, 143, 9)))
    assert "0.144.0" in luna.message


def test_the_catalog_is_listed_per_client_version() -> None:
    catalog = EMULATOR.config.catalog
    assert listed_models(catalog, None) == (
        400,
        {
            "detail": [
                {"type": "missing", "loc": ["query", "client_version"], "msg": "Field required"}
            ]
        },
    )
    assert listed_models(catalog, "nope")[0] == 400
    slugs = {
        v: [m["slug"] for m in listed_models(catalog, v)[1]["models"]]
        for v in ("0.100.0", "0.150.0", "0.171.0")
    }
    assert ASTRA not in slugs["0.150.0"] and ASTRA in slugs["0.171.0"]
    assert "gpt-5.6-sol" not in slugs["0.100.0"] and "gpt-5.6-sol" in slugs["0.150.0"]
    assert len(slugs["0.100.0"]) < len(slugs["0.150.0"]) < len(slugs["0.171.0"])


async def test_models_needs_client_version_and_compact_is_gone() -> None:
    async with emulator_in_process() as base_url, aiohttp.ClientSession() as client:
        async with client.get(f"{base_url}/models") as response:
            assert response.status == 400
            assert (await response.json())["detail"][0]["msg"] == "Field required"
        etags = []
        for version in ("0.150.0", "0.171.0"):
            async with client.get(f"{base_url}/models?client_version={version}") as response:
                assert response.status == 200
                etags.append(response.headers["x-models-etag"])
        assert etags[0] != etags[1]  # a different list, a different ETag
        async with client.post(f"{base_url}/responses/compact", json=body()) as response:
            assert (response.status, await response.json()) == (404, {"detail": "Not Found"})


# ---- compaction --------------------------------------------------------------------------------


def test_a_compaction_trigger_gets_one_compaction_item_and_an_empty_completed_output() -> None:
    request = body(include=["reasoning.encrypted_content"])
    request["input"].append({"type": "compaction_trigger"})
    got = events(answer(EMULATOR, request))
    items = [e["item"] for e in got if e["type"] == "response.output_item.done"]
    (item,) = items
    assert item["type"] == "compaction" and item["id"].startswith("cmp_")
    assert isinstance(item["encrypted_content"], str) and item["encrypted_content"]
    assert got[-1]["type"] == "response.completed" and got[-1]["response"]["output"] == []
    # Carried in a later turn, it verifies; edited, or without its content, it does not.
    later = body("next", input_extra=None)
    later["input"] = [item, *later["input"]]
    assert events(answer(EMULATOR, later))[-1]["type"] == "response.completed"
    for broken in (
        {**item, "encrypted_content": "x" + item["encrypted_content"]},
        {"type": "compaction", "id": item["id"]},
    ):
        later["input"][0] = broken
        assert refusal(answer(EMULATOR, later)).status == 400


def test_the_trigger_must_be_the_last_item() -> None:
    request = body()
    request["input"].insert(0, {"type": "compaction_trigger"})
    rejected = refusal(answer(EMULATOR, request))
    assert (rejected.status, rejected.param) == (400, "input[0]")
    assert "must be the final input item" in rejected.message


# ---- tiers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "asked", "served"),
    [
        ("gpt-5.5", None, "default"),
        ("gpt-5.5", "auto", "default"),
        ("gpt-5.5", "priority", "priority"),
        ("gpt-5.5", "flex", "flex"),
        ("gpt-5.6-sol", "ultrafast", "auto"),  # listed, but the account lacks it
        (ASTRA, "flex", "auto"),  # the account has it, astra does not list it
        ("unknown-model", "priority", "auto"),
    ],
)
def test_a_tier_is_served_as_asked_or_silently_at_auto(
    model: str, asked: str | None, served: str
) -> None:
    request = body(model=model, **({"service_tier": asked} if asked else {}))
    got = events(answer(EMULATOR, request))
    assert {e["response"]["service_tier"] for e in got if "response" in e} == {served}


def test_an_unknown_tier_is_a_400_and_an_account_with_ultrafast_gets_it() -> None:
    rejected = refusal(answer(EMULATOR, body(service_tier="turbo")))
    assert (rejected.status, rejected.param) == (400, "service_tier")
    rich = Emulator(EmulatorConfig.default(account_tiers=frozenset({"ultrafast"})))
    got = events(answer(rich, body(model="gpt-5.6-sol", service_tier="ultrafast")))
    assert got[-1]["response"]["service_tier"] == "ultrafast"
    assert served_tier("m", 5, {}, ()) != "auto"  # not a string: a refusal


# ---- the refused cache fields ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"prompt_cache_options": {"mode": "explicit"}}, "prompt_cache_options"),
        ({"prompt_cache_retention": "24h"}, "prompt_cache_retention"),
        ({"cache_control": {"type": "ephemeral"}}, "cache_control"),
        ({"part": {"prompt_cache_breakpoint": {}}}, "input[0].content[0].prompt_cache_breakpoint"),
        ({"item": {"cache_control": {}}}, "input[0].cache_control"),
        (
            {"tools": [{"type": "function", "name": "f", "cache_control": {}}]},
            "tools[0].cache_control",
        ),
    ],
)
def test_the_cache_fields_of_the_public_api_are_refused_wherever_they_are(
    change: dict[str, Any], named: str
) -> None:
    request = body()
    if "part" in change:
        request["input"][0]["content"][0].update(change.pop("part"))
    if "item" in change:
        request["input"][0].update(change.pop("item"))
    request.update(change)
    rejected = refusal(answer(EMULATOR, request))
    assert (rejected.status, rejected.http_body()) == (
        400,
        {"detail": f"Unsupported parameter: {named}"},
    )


# ---- sequential cutoff, safety buffering, the unstable WebSocket ------------------------------


def test_sequential_cutoff_summaries_come_only_whole() -> None:
    got = events(answer(EMULATOR, body("[scenario:sequential_cutoff]")))
    kinds = [e["type"] for e in got]
    assert "response.reasoning_summary_text.delta" not in kinds
    assert kinds.count("response.reasoning_summary_text.done") == 2


def test_safety_buffering_is_headers_over_http_and_a_metadata_event() -> None:
    request = body("[scenario:safety_buffering]", model="gpt-test")
    steps = answer(EMULATOR, request, transport=Transport.HTTP)
    (headers,) = [step for step in steps if isinstance(step, Headers)]
    assert dict(headers.headers)["x-codex-safety-buffering-enabled"] == "true"
    assert dict(headers.headers)["x-codex-safety-buffering-faster-model"] == "gpt-5.6-luna"
    metadata = [e for e in events(steps) if e["type"] == "response.metadata"]
    assert metadata == [
        {
            "type": "response.metadata",
            "metadata": {"type": "safety_buffering", "retry_model": "gpt-5.6-luna"},
            "sequence_number": 2,
        }
    ]


async def test_safety_buffering_headers_reach_an_http_client() -> None:
    request = body("[scenario:safety_buffering]", model="gpt-test")
    async with (
        emulator_in_process() as base_url,
        aiohttp.ClientSession() as client,
        client.post(f"{base_url}/responses", json=request) as response,
    ):
        assert response.status == 200
        assert response.headers["x-codex-safety-buffering-enabled"] == "true"
        assert b"response.metadata" in await response.read()


def test_an_unstable_websocket_is_cut_before_any_output_and_http_is_not() -> None:
    emulator = Emulator(
        EmulatorConfig.default(unstable_websocket=frozenset({ASTRA}), http_ok=frozenset({ASTRA}))
    )
    cut = answer(emulator, body(model=ASTRA))
    assert [e["type"] for e in events(cut)] == ["response.created", "response.in_progress"]
    assert isinstance(cut[-1], Drop)
    served = answer(emulator, body(model=ASTRA), transport=Transport.HTTP)
    assert events(served)[-1]["type"] == "response.completed"
    by_marker = answer(EMULATOR, body("[scenario:unstable_websocket]"))
    assert isinstance(by_marker[-1], Drop)
    assert emulator.stats.unstable_cuts == 1


# ---- what the Codex CLI 0.171.0 sent, served as the CLI saw it -------------------------------


def test_the_clis_websocket_conversation_with_its_compaction_is_served() -> None:
    """The recorded frames (a prewarm, a turn continued from it, a compaction continued from the
    turn, the turn after it in full) on one connection of a fresh emulator with the recording's
    seed: every one completes, the compaction gives one item, the turn after it carries it."""
    handshake = {name.lower(): value for name, value in CAPTURE["websocket"]["headers"]}
    session = WebSocketSession(
        Emulator(EmulatorConfig.default()),
        credential=credential_digest(handshake),
        client_version=client_version(handshake),
    )
    prewarm, turn, compaction, after = CAPTURE["websocket"]["frames"]
    assert prewarm["generate"] is False and turn["previous_response_id"]
    assert compaction["input"][-1] == {"type": "compaction_trigger"}
    assert compaction["previous_response_id"] and "previous_response_id" not in after
    assert after["input"][-1]["type"] == "compaction"
    for frame in CAPTURE["websocket"]["frames"]:
        got = events(session.receive_text(json.dumps(frame)).steps)
        assert got[-1]["type"] == "response.completed", got[-1]
        session.settle()
        if frame is compaction:
            done = [e["item"] for e in got if e["type"] == "response.output_item.done"]
            assert [item["type"] for item in done] == ["compaction"]
            assert done[0]["id"] == after["input"][-1]["id"]  # the very item the CLI carried on


@pytest.mark.parametrize("model", ["gpt-5.4", "gpt-5.2-2025-12-11", "gpt-5.3-codex"])
def test_a_retired_model_is_not_supported_for_a_chatgpt_account(model: str) -> None:
    rejected = refusal(answer(EMULATOR, body(model=model)))
    said = f"The '{model}' model is not supported when using Codex with a ChatGPT account."
    assert (rejected.status, rejected.http_body()) == (400, {"detail": said})
