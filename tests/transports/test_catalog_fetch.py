"""The upstream's own model catalog: fetched, cached by ETag, layered, and kept on failure."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web

from chat2responses.glue.catalogs import load_catalog
from chat2responses.transports.catalog_fetch import CatalogFetcher, models_url
from chat2responses.upstream.catalog_layers import embedded_catalog
from chat2responses.upstream.identity import CODEX_CLI_VERSION, user_agent
from tests.aiohttp_helpers import served
from tests.emulator_helpers import emulator_in_process

LIVE = {"models": [{"slug": "gpt-7-live", "prefer_websockets": True}]}


@asynccontextmanager
async def catalog_server(state: dict[str, Any]) -> AsyncIterator[str]:
    async def models(request: web.Request) -> web.StreamResponse:
        state.setdefault("seen", []).append(dict(request.headers))
        state.setdefault("queries", []).append(dict(request.query))
        if state.get("fail"):
            return web.Response(status=503, text="down")
        if "redirect" in state and request.path == "/backend-api/codex/models":
            return web.Response(status=307, headers={"location": state["redirect"]})
        etag = state["etag"]
        if request.headers.get("if-none-match") == etag:
            return web.Response(status=304)
        if "split" in state:  # the answer in pieces, a while apart: one read is not the whole
            raw = json.dumps(state["body"]).encode()
            answer = web.StreamResponse(
                headers={"content-type": "application/json", "x-models-etag": etag}
            )
            await answer.prepare(request)
            for at in range(0, len(raw), state["split"]):
                await answer.write(raw[at : at + state["split"]])
                await asyncio.sleep(0.005)
            await answer.write_eof()
            return answer
        return web.json_response(state["body"], headers={"x-models-etag": etag})

    app = web.Application()
    app.router.add_get("/backend-api/codex/models", models)
    app.router.add_get("/backend-api/codex/moved/models", models)
    async with served(app) as port:
        yield f"http://127.0.0.1:{port}/backend-api/codex"


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("https://chatgpt.com/backend-api/codex", "https://chatgpt.com/backend-api/codex/models?"),
        ("http://h/x/?a=1", "http://h/x/models?a=1&"),
    ],
)
def test_models_url(base: str, expected: str) -> None:
    assert models_url(base).startswith(expected + "client_version=")


async def test_fetched_then_cached_by_etag(caplog: pytest.LogCaptureFixture) -> None:
    state: dict[str, Any] = {"etag": "v1", "body": LIVE}

    async def headers() -> dict[str, str]:
        return {"authorization": "Bearer login"}

    async with catalog_server(state) as base:
        fetcher = CatalogFetcher(base, interval=0, headers=headers)
        assert await fetcher.fetch() is True
        assert fetcher.version == 1 and json.loads(fetcher.live or b"") == LIVE
        assert await fetcher.fetch() is False  # 304
        assert state["seen"][1]["If-None-Match"] == "v1"
        assert state["seen"][0]["Authorization"] == "Bearer login"
        # As the Codex CLI asks (identity.py): its name, its version, the version in the query.
        assert state["seen"][0]["version"] == CODEX_CLI_VERSION
        assert state["seen"][0]["originator"] == "codex_cli_rs"
        assert state["seen"][0]["User-Agent"] == user_agent(CODEX_CLI_VERSION)
        assert state["queries"][0] == {"client_version": CODEX_CLI_VERSION}
        state.update(etag="v2", body={"models": [{"slug": "gpt-7-newer"}]})
        assert await fetcher.fetch() is True and fetcher.version == 2
        state["fail"] = True
        with caplog.at_level(logging.WARNING):
            assert await fetcher.fetch() is False
            assert await fetcher.fetch() is False
        warnings = [r for r in caplog.records if "could not fetch" in r.getMessage()]
        assert len(warnings) == 1  # said once, not on every try
        assert b"gpt-7-newer" in (fetcher.live or b"")  # what was there is kept
        fetcher.stop()


async def test_the_emulators_catalog_is_fetched_and_layered(tmp_path: Any) -> None:
    async with emulator_in_process() as base:
        fetcher = CatalogFetcher(base, interval=0)
        assert await fetcher.fetch() is True
        fetcher.stop()
    user = tmp_path / "mine.json"
    user.write_text(json.dumps({"models": [{"slug": "gpt-7-live", "prefer_websockets": False}]}))
    live = json.dumps(LIVE).encode()
    catalog = load_catalog("", live)
    info = catalog.match("gpt-7-live").info
    assert info is not None and info.prefer_websockets  # live over embedded
    mine = load_catalog(str(user), live).match("gpt-7-live").info
    assert mine is not None and not mine.prefer_websockets  # the user's file over live
    assert set(json.loads(embedded_catalog())["models"][0]) >= {"slug"}


def test_a_live_answer_that_cannot_be_read_is_left_out(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        catalog = load_catalog("", b'{"not": "a catalog"}')
    assert catalog.match("gpt-5.5").info is not None
    assert any("left out" in r.getMessage() for r in caplog.records)


BIG = {
    "models": [
        {"slug": f"gpt-7-live-{i}", "prefer_websockets": True, "description": "x" * 200}
        for i in range(1000)
    ]
}


async def test_a_large_answer_in_pieces_is_read_whole() -> None:
    state: dict[str, Any] = {"etag": "v1", "body": BIG, "split": 50_000}
    assert len(json.dumps(BIG)) > 128 * 1024
    async with catalog_server(state) as url:
        fetcher = CatalogFetcher(url, interval=0)
        assert await fetcher.fetch()
        fetcher.stop()
    assert fetcher.live is not None and json.loads(fetcher.live) == BIG
    catalog = load_catalog("", fetcher.live)
    assert "gpt-7-live-999" in catalog.slugs()


async def test_a_redirect_is_followed_within_the_origin_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def headers() -> dict[str, str]:
        return {"authorization": "Bearer login"}

    state: dict[str, Any] = {"etag": "v1", "body": LIVE}
    async with catalog_server(state) as url:
        state["redirect"] = url + "/moved/models"
        fetcher = CatalogFetcher(url, interval=0, headers=headers)
        assert await fetcher.fetch()  # same origin: followed, the login along
        assert state["seen"][-1]["Authorization"] == "Bearer login"
        fetcher.stop()
        async with catalog_server({"etag": "v1", "body": LIVE}) as elsewhere:
            state["redirect"] = elsewhere + "/models"
            fetcher = CatalogFetcher(url, interval=0, headers=headers)
            with caplog.at_level(logging.WARNING):
                assert not await fetcher.fetch()
        fetcher.stop()
    assert fetcher.live is None
    assert "redirected (307) to another origin" in caplog.text


def test_a_100000_deep_answer_is_left_out_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    deep = b'{"models": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with caplog.at_level(logging.WARNING):
        catalog = load_catalog("", deep)
    assert "gpt-5.5" in catalog.slugs()  # the embedded one, as before
    assert "left out" in caplog.text and "Traceback" not in caplog.text


@pytest.mark.parametrize("kind", ["fifo", "large"])
def test_a_catalog_file_that_is_no_small_regular_file_is_refused_at_once(
    tmp_path: Any, kind: str
) -> None:
    import os

    from chat2responses.glue.catalogs import MAX_CATALOG_FILE_BYTES

    path = tmp_path / "catalog.json"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.write_bytes(b" " * (MAX_CATALOG_FILE_BYTES + 1))
    with pytest.raises(ValueError, match=r"not a regular file|larger than"):
        load_catalog(str(path))
