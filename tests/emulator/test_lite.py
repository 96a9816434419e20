"""Responses-Lite (lite.py) as the emulator enforces it, alone and over both transports; and the
catalog endpoint (`GET /models`) with its ETag and `--models-file`."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from chat2responses.emulator import Emit, EmulatorConfig
from chat2responses.emulator.__main__ import config_from, parse_args
from chat2responses.emulator.lite import (
    HOSTED_MESSAGE,
    LITE_HEADER,
    LITE_METADATA,
    check_lite,
    lite_slugs,
)
from chat2responses.emulator.tools import tool_calls
from chat2responses.upstream.catalog_layers import embedded_catalog_dict
from tests.emulator.test_emulator import TOOLS, check_stream
from tests.emulator.test_websocket import connected, over_http, read_response, send
from tests.emulator_helpers import emulator_in_process, emulator_subprocess

CATALOG = {
    "models": [
        {"slug": "gpt-lite", "use_responses_lite": True},
        {"slug": "gpt-classic", "prefer_websockets": False},
    ]
}
HEADERS = {LITE_HEADER: "true"}
WEB_SEARCH = {"type": "web_search"}
CUSTOM = {"type": "custom", "name": "x"}


def lite(text: str = "hi", declared: list[Any] = TOOLS, **fields: Any) -> dict[str, Any]:
    """A well-formed Lite request declaring `declared` in its additional_tools item."""
    body: dict[str, Any] = {
        "model": "gpt-lite",
        "input": [
            {"type": "additional_tools", "role": "developer", "tools": declared},
            {"role": "developer", "content": [{"type": "input_text", "text": "be brief"}]},
            {"role": "user", "content": [{"type": "input_text", "text": text}]},
        ],
        "store": False,
        "stream": True,
        "parallel_tool_calls": False,
    }
    return body | fields


def test_the_catalogs_lite_slugs_are_the_default_lite_set() -> None:
    assert lite_slugs(CATALOG) == {"gpt-lite"}
    assert EmulatorConfig.default(catalog=CATALOG).lite == {"gpt-lite"}
    embedded = embedded_catalog_dict()
    assert EmulatorConfig.default().lite == lite_slugs(embedded)


@pytest.mark.parametrize(
    ("body", "marked", "code", "param"),
    [
        (lite(), True, None, None),
        (lite(tool_choice="auto"), True, None, None),
        (lite(instructions=""), True, None, None),
        (lite(), False, "responses_lite_required", None),
        (lite(tools=TOOLS), True, "unsupported_parameter", "tools"),
        (lite(instructions="be brief"), True, "unsupported_parameter", "instructions"),
        (lite(parallel_tool_calls=True), True, "invalid_value", "parallel_tool_calls"),
        ({k: v for k, v in lite().items() if k != "parallel_tool_calls"}, True, "invalid_value",
         "parallel_tool_calls"),
        (lite(tool_choice="required"), True, "invalid_value", "tool_choice"),
        (lite(tool_choice={"type": "function", "name": "ping"}), True, "invalid_value",
         "tool_choice"),
        (lite(declared=[*TOOLS, WEB_SEARCH]), True, "unsupported_value", "tools"),
        # Client-executed tool search, alone or grouped as the Codex CLI groups its tools.
        (lite(declared=[CUSTOM, {"type": "tool_search", "execution": "client"}]), True, None,
         None),
        (lite(declared=[{"type": "namespace", "name": "n", "tools": [*TOOLS, CUSTOM]}]), True,
         None, None),
        (lite(declared=[{"type": "tool_search"}]), True, "unsupported_value", "tools"),
        (lite(declared=[{"type": "tool_search", "execution": "server"}]), True,
         "unsupported_value", "tools"),
        (lite(declared=[{"type": "namespace", "name": "n", "tools": [WEB_SEARCH]}]), True,
         "unsupported_value", "tools"),
    ],
)  # fmt: skip
def test_lite_rules(body: dict[str, Any], marked: bool, code: str | None, param: Any) -> None:
    rejection = check_lite(body, marked=marked)
    assert (rejection.code if rejection else None) == code
    if rejection is not None:
        assert (rejection.status, rejection.param) == (400, param)


def test_additional_tools_must_come_first_and_feed_the_tool_scenarios() -> None:
    body = lite()
    body["input"] = [*body["input"][1:], body["input"][0]]
    rejection = check_lite(body, marked=True)
    assert rejection is not None and rejection.param == "input"
    assert tool_calls(lite(), 2) == [("lookup", {"query": "emulator", "unit": "c"}), ("ping", {})]


async def test_http_lite_needs_the_header_and_serves_additional_tools() -> None:
    config = EmulatorConfig.default(catalog=CATALOG)
    async with emulator_in_process(config) as base_url, aiohttp.ClientSession() as client:
        async with client.post(f"{base_url}/responses", json=lite()) as response:
            assert response.status == 400
            assert (await response.json())["error"]["code"] == "responses_lite_required"
        hosted = lite(declared=[WEB_SEARCH])
        async with client.post(f"{base_url}/responses", json=hosted, headers=HEADERS) as response:
            assert response.status == 400
            assert (await response.json())["error"] == {
                "type": "invalid_request_error",
                "code": "unsupported_value",
                "message": HOSTED_MESSAGE,
                "param": "tools",
            }
        async with client.post(
            f"{base_url}/responses", json=lite("[scenario:tools]"), headers=HEADERS
        ) as response:
            assert response.status == 200
            text = await response.text()
        # A classic model ignores the marker and keeps the classic rules.
        classic = {"model": "gpt-classic", "instructions": "", "input": [], "store": False}
        async with client.post(
            f"{base_url}/responses", json=classic | {"stream": True}, headers=HEADERS
        ) as response:
            assert response.status == 200
    events = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]
    check_stream(lite(), [Emit(event) for event in events])
    done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    assert [item.get("name") for item in done] == [None, "lookup", "ping"]
    assert HOSTED_MESSAGE.endswith(
        "Responses-Lite only supports function tools, custom tools, and client-executed tool "
        "search."
    )


async def test_websocket_lite_takes_the_marker_from_client_metadata() -> None:
    marker = {"client_metadata": {LITE_METADATA: "true"}}
    async with (
        emulator_in_process(EmulatorConfig.default(catalog=CATALOG)) as base_url,
        connected(base_url) as ws,
    ):
        await send(ws, {"type": "response.create"} | lite())
        (refused,), _ = await read_response(ws)
        await send(ws, {"type": "response.create"} | lite("[scenario:tool]") | marker)
        frames, _ = await read_response(ws)
    assert (refused["status"], refused["error"]["code"]) == (400, "responses_lite_required")
    assert frames[-1]["type"] == "response.completed"
    calls = [f["item"] for f in frames if f["type"] == "response.output_item.done"]
    assert [item["type"] for item in calls] == ["reasoning", "function_call"]
    assert calls[-1]["name"] == "lookup"


# -- the catalog endpoint -----------------------------------------------------------------------


async def test_models_has_an_etag_and_answers_304_to_a_match() -> None:
    async with (
        emulator_in_process(EmulatorConfig.default(catalog=CATALOG)) as base_url,
        aiohttp.ClientSession() as client,
    ):
        async with client.get(f"{base_url}/models?client_version=0.150.0") as response:
            assert response.status == 200
            assert await response.json() == CATALOG
            etag = response.headers["x-models-etag"]
            assert response.headers["etag"] == f'"{etag}"'
        for asked in (f'"{etag}"', etag, f'W/"{etag}"', f'"other", "{etag}"'):
            async with client.get(
                f"{base_url}/models?client_version=0.150.0", headers={"if-none-match": asked}
            ) as response:
                assert response.status == 304
                assert response.headers["x-models-etag"] == etag
        async with client.get(
            f"{base_url}/models?client_version=0.150.0", headers={"if-none-match": '"x"'}
        ) as response:
            assert response.status == 200


def test_models_file_replaces_the_catalog(tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    path.write_text(json.dumps(CATALOG))
    config = config_from(parse_args(["--models-file", str(path)]))
    assert (config.catalog, config.lite) == (CATALOG, {"gpt-lite"})
    with (
        emulator_subprocess("--models-file", str(path)) as base_url,
        urllib.request.urlopen(f"{base_url}/models?client_version=0.171.0", timeout=5) as response,
    ):
        assert json.loads(response.read()) == CATALOG
    path.write_text("{nope")
    with pytest.raises(SystemExit, match="cannot read --models-file"):
        config_from(parse_args(["--models-file", str(path)]))


async def test_a_lite_model_over_http_still_follows_routing() -> None:
    catalog = {
        "models": [{"slug": "gpt-lite", "use_responses_lite": True, "prefer_websockets": True}]
    }
    async with emulator_in_process(EmulatorConfig.default(catalog=catalog)) as base_url:
        status, _, body = await over_http(base_url, lite())
    assert (status, body["error"]["code"]) == (400, "routing_unsupported")
