"""The addon's own upstream calls through a proxy, and what stops them: a real mitmdump, the
emulator, and a logging forward proxy (tests/forward_proxy.py), all on 127.0.0.1.

- `HTTP_PROXY` in mitmdump's environment carries every upstream call (HTTP, WebSocket, the
  catalog fetch, the login refresh), each with the hop mark; `NO_PROXY` exempts the upstream;
- `--mode upstream:URL` carries them too;
- an upstream whose certificate is not trusted is a 502 naming it, on both routes, not retried;
- a loop (the addon's own call sent back into the same mitmproxy) is one 508 in bounded time;
- the Basic credentials of mitmproxy's `upstream_auth` never reach a saved flow the addon
  answered (rewritten, refused, or its model list), in upstream mode or in reverse mode.
"""

from __future__ import annotations

import base64
import io
import json
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from mitmproxy.io import FlowReader

from tests.e2e.test_http import GREETING, ask
from tests.emulator_helpers import token_url, write_auth_json
from tests.forward_proxy import ForwardProxy, forward_proxy
from tests.mitmweb_helpers import free_port
from tests.proxy_helpers import run_mitmdump

MODELS = ("gpt-5-codex", "gpt-5.5")  # the HTTP route and the WebSocket route


def origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    with forward_proxy() as running:
        yield running


def test_http_proxy_carries_every_upstream_call(
    emulator_url: str, proxy: ForwardProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = tmp_path / "auth.json"
    write_auth_json(auth, expires_at=int(time.time()) + 60)  # due: refreshed before the call
    options = {
        "responses_url": emulator_url,
        "responses_rewrite": "all",
        "responses_auth": "codex",
        "responses_codex_auth_file": str(auth),
        "responses_codex_refresh_url": token_url(emulator_url),
    }
    for name in ("NO_PROXY", "no_proxy", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    with run_mitmdump(f"reverse:{origin(emulator_url)}", tmp_path, options) as mitm:
        monkeypatch.delenv("HTTP_PROXY")  # mitmdump has it; the test's own client must not
        client = openai.OpenAI(base_url=mitm.base_url, api_key="sk-local", max_retries=0)
        for model in MODELS:
            answer = client.chat.completions.create(model=model, messages=ask("hey"))
            assert answer.choices[0].message.content == GREETING + "hey"
    emulator = origin(emulator_url)
    # One mark on every request (a CONNECT carries it inside the tunnel, in the handshake).
    hops = {hop for method, _, hop in proxy.seen if method != "CONNECT"}
    assert len(hops) == 1 and len(next(iter(hops))) == 24
    seen = {(method, target.partition("?")[0]) for method, target, _ in proxy.seen}
    assert ("POST", f"{emulator}/oauth/token") in seen  # the login refresh
    assert ("GET", f"{emulator_url}/models") in seen  # the catalog
    assert ("POST", f"{emulator_url}/responses") in seen  # the HTTP route
    assert ("CONNECT", emulator.removeprefix("http://")) in seen  # the WebSocket route


def test_no_proxy_exempts_the_upstream(
    emulator_url: str, proxy: ForwardProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.0/8")
    options = {"responses_url": emulator_url, "responses_rewrite": "all"}
    with run_mitmdump(f"reverse:{origin(emulator_url)}", tmp_path, options) as mitm:
        monkeypatch.delenv("HTTP_PROXY")
        client = openai.OpenAI(base_url=mitm.base_url, api_key="sk-local", max_retries=0)
        for model in MODELS:
            client.chat.completions.create(model=model, messages=ask("hey"))
    assert proxy.seen == []


def test_the_upstream_mode_carries_the_rewritten_calls(
    emulator_url: str, proxy: ForwardProxy, tmp_path: Path
) -> None:
    options = {
        "responses_url": emulator_url,
        "responses_rewrite": "all",
        "responses_catalog_refresh": "0",
    }
    with run_mitmdump(f"upstream:{proxy.url}", tmp_path, options) as mitm:
        # A client that only knows api.openai.com, through mitmproxy as its proxy.
        http_client = openai.DefaultHttpxClient(proxy=f"http://127.0.0.1:{mitm.port}")
        client = openai.OpenAI(
            base_url="http://api.openai.com/v1",
            api_key="sk-x",
            http_client=http_client,
            max_retries=0,
        )
        for model in MODELS:
            answer = client.chat.completions.create(model=model, messages=ask("hi"))
            assert answer.choices[0].message.content == GREETING + "hi"
        http_client.close()
    targets = {(method, target.partition("?")[0]) for method, target, _ in proxy.seen}
    assert ("POST", f"{emulator_url}/responses") in targets
    assert ("CONNECT", origin(emulator_url).removeprefix("http://")) in targets


@pytest.mark.parametrize("mode", ["upstream", "reverse"])
def test_saved_flows_the_addon_answered_hold_no_upstream_auth(
    emulator_url: str, proxy: ForwardProxy, tmp_path: Path, mode: str
) -> None:
    # mitmproxy puts upstream_auth on each request for the next hop (Proxy-Authorization for the
    # upstream proxy, Authorization for the reverse target); the flows the addon answers take
    # no such hop, and neither the saved file nor mitmdump's own view of it may show them.
    secret = "UPSTREAM-AUTH-s3cret-7"
    basic = base64.b64encode(f"user:{secret}".encode())
    saved = tmp_path / "flows.mitm"
    options = {
        "responses_url": emulator_url,
        "responses_rewrite": "all",
        "responses_catalog_refresh": "0",
        "upstream_auth": f"user:{secret}",
        "connection_strategy": "lazy",
    }
    spec = f"upstream:{proxy.url}" if mode == "upstream" else f"reverse:{origin(emulator_url)}"
    with run_mitmdump(spec, tmp_path, options, "-w", str(saved)) as mitm:
        if mode == "upstream":  # a client that only knows api.openai.com, through mitmproxy
            http_client = httpx.Client(proxy=f"http://127.0.0.1:{mitm.port}")
            base = "http://api.openai.com/v1"
        else:
            http_client = httpx.Client()
            base = mitm.base_url
        with http_client:
            headers = {"authorization": "Bearer sk-local"}
            for model in MODELS:
                chat = {"model": model, "messages": ask("hi")}
                answer = http_client.post(f"{base}/chat/completions", json=chat, headers=headers)
                assert answer.json()["choices"][0]["message"]["content"] == GREETING + "hi"
            assert http_client.get(f"{base}/models", headers=headers).status_code == 200
            assert http_client.get(f"{base}/chat/completions").status_code == 405  # refused
    data = saved.read_bytes()
    flows = list(FlowReader(io.BytesIO(data)).stream())
    assert len(flows) == 4
    assert basic not in data and secret.encode() not in data
    for flow in flows:
        assert "proxy-authorization" not in flow.request.headers
        assert not flow.request.headers.get("authorization", "").startswith("Basic")


def test_a_proxy_that_is_this_very_mitmproxy_is_one_508(
    emulator_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTPS_PROXY pointing at the proxy itself: the addon's call comes back marked, and the
    client gets one 508 at once (the policy does not retry a loop)."""
    port = free_port()
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    options = {
        "responses_url": "https://api.openai.com/v1",
        "responses_rewrite": "all",
        "ssl_insecure": "true",  # the worst case: its own certificate would pass
        "connection_strategy": "lazy",
    }
    with run_mitmdump(f"regular@{port}", tmp_path, options) as mitm:
        monkeypatch.delenv("HTTPS_PROXY")
        verify = ssl.create_default_context(cafile=str(tmp_path / "mitmproxy-ca-cert.pem"))
        with httpx.Client(proxy=f"http://127.0.0.1:{mitm.port}", verify=verify) as http:
            for model in MODELS:
                started = time.monotonic()
                answer = http.post(
                    "https://api.openai.com/v1/chat/completions",
                    json={"model": model, "messages": ask("hi")},
                    headers={"authorization": "Bearer sk-x"},
                    timeout=30,
                )
                assert time.monotonic() - started < 10
                assert answer.status_code == 508, answer.text
                error = answer.json()["error"]
                assert error["code"] == "loop_detected" and "loop" in error["message"]
        # one looped hop per call, no more (not retried, never rewritten again)
        stopped = "] chat2responses: the upstream call for this request came back"
        looped = [line for line in mitm.lines if stopped in line]
        assert len(looped) == len(MODELS)
        assert "sk-x" not in json.dumps(mitm.lines)
