"""The banner's "Try it" lines, for every upstream `run` knows and both `--rewrite` values: the
addon, configured as `run` configures it, rewrites the call the banner's curl line makes (a
call it passed through would not show the addon at all, and an upstream without a chat endpoint
would answer it 404)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from mitmproxy.proxy.mode_specs import ProxyMode
from mitmproxy.test import taddons, tflow, tutils

from chat2responses.cli.commands import banner, resolve_upstream
from chat2responses.glue.hooks import Chat2Responses

EMU = "http://127.0.0.1:4321/backend-api/codex"
CURL_BODY = re.compile(r"-d '(\{.*\})'")
UPSTREAMS = ["emulator", "codex", "openai", "https://h.test/v1", "https://h.test/backend-api/codex"]


def _flow(body: bytes, key: str) -> tflow.HTTPFlow:
    """The call as `run`'s reverse proxy takes it (its target counts as a host of ours)."""
    request = tutils.treq(
        method=b"POST",
        path=b"/v1/chat/completions",
        content=body,
        headers=[(b"content-type", b"application/json"), (b"authorization", key.encode())],
    )
    flow = tflow.tflow(req=request)
    flow.client_conn.proxy_mode = ProxyMode.parse("reverse:http://127.0.0.1:4321")
    return flow


@pytest.mark.parametrize("rewrite", ["", "catalog", "all"])
@pytest.mark.parametrize("name", UPSTREAMS)
def test_the_try_it_call_is_rewritten(name: str, rewrite: str, tmp_path: Path) -> None:
    upstream = resolve_upstream(name, EMU, "", rewrite)
    text = banner("mitmdump", 8080, upstream)
    body = CURL_BODY.search(text)
    assert body is not None, text
    model = json.loads(body[1])["model"]
    assert f'model="{model}"' in text  # the python line asks for the same model
    addon = Chat2Responses()
    with taddons.context(addon) as tctx:
        tctx.configure(
            addon,
            responses_url=upstream.url,
            responses_rewrite=upstream.rewrite,
            responses_auth=upstream.auth,
            responses_codex_auth_file=str(tmp_path / "no-login.json"),
            responses_catalog_refresh=0,
        )
        addon.driver.port = 40000  # not started: only where the call goes is checked here
        flow = _flow(body[1].encode(), "Bearer sk-local")
        addon.request(flow)
        if upstream.auth == "codex":  # ours: refused before anything goes upstream
            assert flow.response is not None and flow.response.status_code == 401
            assert b"codex_login_missing" in (flow.response.content or b"")
        else:
            assert flow.id in addon.calls, f"{model} passes through to {upstream.url}"
            assert addon.calls[flow.id].job.upstream.http_url == upstream.url + "/responses"


@pytest.mark.parametrize("name", ["openai", "https://h.test/v1"])
def test_a_model_the_catalog_lacks_would_pass_through(name: str) -> None:
    """The check above can fail: under catalog a model it does not list is not rewritten."""
    upstream = resolve_upstream(name, EMU, "", "catalog")
    addon = Chat2Responses()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, responses_url=upstream.url, responses_rewrite="catalog")
        body = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
        flow = _flow(body.encode(), "Bearer sk-local")
        addon.request(flow)
        assert flow.id not in addon.calls and flow.response is None
