"""Which flows the addon touches at all: the hosts it serves, native Codex paths, its own calls."""

from __future__ import annotations

import json

import pytest
from mitmproxy import exceptions
from mitmproxy.proxy.mode_specs import ProxyMode
from mitmproxy.test import taddons, tflow, tutils

from chat2responses.glue.egress import HOP
from chat2responses.glue.hooks import Chat2Responses
from chat2responses.upstream.routing import HOP_HEADER

BODY = {"model": "gpt-5.5", "messages": [{"role": "user", "content": "hi"}]}


def flow_to(
    host: str, path: str, *headers: tuple[str, str], method: bytes = b"POST"
) -> tflow.HTTPFlow:
    request = tutils.treq(
        host=host,
        port=443,
        scheme=b"https",
        method=method,
        path=path.encode(),
        content=json.dumps(BODY).encode(),
        headers=[(b"content-type", b"application/json")]
        + [(k.encode(), v.encode()) for k, v in headers],
    )
    return tflow.tflow(req=request)


@pytest.mark.parametrize(
    ("host", "path", "key"),
    [
        ("openrouter.ai", "/api/v1/chat/completions", ("authorization", "Bearer sk-or-secret")),
        ("openrouter.ai", "/api/v1/responses", ("authorization", "Bearer sk-or-secret")),
        ("api.anthropic.com", "/v1/models", ("x-api-key", "sk-ant-secret")),
        ("api.anthropic.com", "/v1/chat/completions", ("x-api-key", "sk-ant-secret")),
        ("chatgpt.com", "/backend-api/codex/responses", ("authorization", "Bearer codex")),
        ("chatgpt.com", "/backend-api/codex/models", ("authorization", "Bearer codex")),
    ],
)
def test_another_hosts_calls_and_native_codex_traffic_pass_untouched(
    host: str, path: str, key: tuple[str, str]
) -> None:
    addon = Chat2Responses()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, responses_rewrite="all", responses_url="http://127.0.0.1:9/v1")
        flow = flow_to(host, path, key, method=b"GET" if path.endswith("models") else b"POST")
        before = flow.request.copy()
        addon.request(flow)
        assert flow.response is None and not addon.calls  # nothing answered, nothing planned
        assert flow.request.data == before.data  # its own host, path, body and key, as sent


def test_the_hosts_of_responses_hosts_are_rewritten_and_the_option_changes_them() -> None:
    addon = Chat2Responses()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, responses_rewrite="all", responses_url="http://127.0.0.1:9/v1")
        flow = flow_to("api.openai.com", "/v1/chat/completions")
        addon.request(flow)
        assert flow.id in addon.calls
        tctx.configure(addon, responses_hosts="llm.internal.test")
        for host, ours in (("api.openai.com", False), ("llm.internal.test", True)):
            flow = flow_to(host, "/v1/chat/completions")
            addon.request(flow)
            assert (flow.id in addon.calls) is ours


def test_in_reverse_mode_the_target_counts_whatever_its_name() -> None:
    addon = Chat2Responses()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, responses_rewrite="all", responses_url="http://127.0.0.1:9/v1")
        flow = flow_to("127.0.0.1", "/v1/chat/completions")
        flow.client_conn.proxy_mode = ProxyMode.parse("reverse:http://127.0.0.1:9")
        addon.request(flow)
        assert flow.id in addon.calls


def test_the_addons_own_call_come_back_is_one_508_and_keeps_no_credential() -> None:
    addon = Chat2Responses()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, responses_rewrite="all", responses_url="http://127.0.0.1:9/v1")
        flow = flow_to(
            "api.openai.com",
            "/v1/responses",
            (HOP_HEADER, HOP),
            ("authorization", "Bearer sk-login-secret"),
        )
        addon.request(flow)
        assert flow.response is not None and flow.response.status_code == 508
        error = json.loads(flow.response.content or b"")["error"]
        assert error["code"] == "loop_detected" and "loop" in error["message"]
        assert "HTTPS_PROXY" in error["message"] and not addon.calls
        assert flow.request.headers["authorization"] == "<redacted>"
        assert flow.request.content == b""
        # Another instance's mark (or a forged one) is not this process's: served as usual.
        other = flow_to("api.openai.com", "/v1/chat/completions", (HOP_HEADER, "0" * 24))
        addon.request(other)
        assert other.response is None and other.id in addon.calls


def test_an_unusable_proxy_is_refused_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    addon = Chat2Responses()
    with taddons.context(addon) as tctx:
        with pytest.raises(exceptions.OptionsError, match="--mode upstream:socks5"):
            tctx.configure(addon, mode=["upstream:socks5://corp.test:1080"])
        monkeypatch.setenv("HTTPS_PROXY", "socks5://corp.test:1080")
        with pytest.raises(exceptions.OptionsError, match="HTTPS_PROXY names a proxy"):
            tctx.configure(addon, mode=["regular"])
