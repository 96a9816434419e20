"""The mitmproxy glue in-process (mitmproxy.test.taddons): options, matching, rewriting, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mitmproxy import exceptions
from mitmproxy.test import taddons, tflow, tutils

from addon.proxy import Chat2Responses
from addon.routing import Route


def chat_flow(body: object, path: str = "/v1/chat/completions", **headers: str) -> tflow.HTTPFlow:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = tutils.treq(
        method=b"POST",
        path=path.encode(),
        content=content,
        headers=[(b"content-type", b"application/json")]
        + [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
    )
    return tflow.tflow(req=request)


BODY = {"model": "gpt-5.5", "messages": [{"role": "user", "content": "hi"}], "stream": True}


@pytest.fixture
def addon() -> Chat2Responses:
    return Chat2Responses()


def test_options_are_declared_with_their_defaults(addon: Chat2Responses) -> None:
    with taddons.context(addon) as tctx:
        options = tctx.options
        assert options.responses_url == ""
        assert options.responses_auth == "client"
        assert options.responses_codex_auth_file == "~/.codex/auth.json"
        assert options.responses_catalog == ""
        assert options.responses_rewrite == "catalog"
        assert options.responses_transport == "auto"
        assert options.responses_reasoning == "reasoning_content"


@pytest.mark.parametrize(
    ("option", "value", "needle"),
    [
        ("responses_transport", "carrier-pigeon", "responses_transport"),
        ("responses_rewrite", "some", "responses_rewrite"),
        ("responses_reasoning", "loud", "responses_reasoning"),
        ("responses_auth", "magic", "responses_auth"),
        ("responses_url", "ftp://example.com", "responses_url"),
        ("responses_catalog", "/nonexistent/catalog.json", "cannot read"),
    ],
)
def test_invalid_option_values_are_refused_and_the_old_value_stays(
    addon: Chat2Responses, option: str, value: str, needle: str
) -> None:
    with taddons.context(addon) as tctx:
        before = addon.settings
        with pytest.raises(exceptions.OptionsError, match=needle):
            tctx.configure(addon, **{option: value})
        assert addon.settings == before


def test_an_invalid_user_catalog_is_an_options_error(addon: Chat2Responses, tmp_path: Path) -> None:
    bad = tmp_path / "catalog.json"
    bad.write_text('{"models": [{"slug": 42}]}')
    with taddons.context(addon) as tctx, pytest.raises(exceptions.OptionsError):
        tctx.configure(addon, responses_catalog=str(bad))


def test_a_user_catalog_adds_models(addon: Chat2Responses, tmp_path: Path) -> None:
    extra = tmp_path / "catalog.json"
    extra.write_text(json.dumps({"models": [{"slug": "my-model", "prefer_websockets": False}]}))
    with taddons.context(addon) as tctx:
        tctx.configure(addon, responses_catalog=str(extra))
        assert addon.catalog.match("my-model").info is not None
        assert addon.catalog.match("gpt-5.5").info is not None


def test_a_model_outside_the_catalog_passes_through_byte_for_byte(addon: Chat2Responses) -> None:
    raw = b'{"model": "gpt-4o",  "messages": [{"role": "user", "content": "hi"}]}'
    with taddons.context(addon):
        flow = chat_flow(raw)
        before = (flow.request.url, bytes(flow.request.headers.fields[0][1]))
        addon.request(flow)
        assert flow.request.raw_content == raw
        assert flow.request.url == before[0]
        assert flow.response is None
        assert flow.id not in addon.flows


@pytest.mark.parametrize("path", ["/v1/models", "/v1/responses", "/v1/chat/completions/x"])
def test_other_paths_are_not_touched(addon: Chat2Responses, path: str) -> None:
    with taddons.context(addon):
        flow = chat_flow(BODY, path=path)
        addon.request(flow)
        assert flow.request.path == path
        assert flow.response is None


def test_bad_json_in_rewrite_all_mode_is_a_400_without_upstream(addon: Chat2Responses) -> None:
    with taddons.context(addon) as tctx:
        tctx.configure(addon, responses_rewrite="all")
        flow = chat_flow(b"{not json")
        addon.request(flow)
        assert flow.response is not None
        assert flow.response.status_code == 400
        assert json.loads(flow.response.content or b"")["error"]["type"] == "invalid_request_error"


def test_a_forced_http_stream_goes_straight_to_the_responses_path(addon: Chat2Responses) -> None:
    with taddons.context(addon) as tctx:
        tctx.configure(addon, responses_transport="http")
        flow = chat_flow(BODY, authorization="Bearer sk-abc")
        addon.request(flow)
        assert flow.request.path == "/v1/responses"
        assert flow.request.headers["accept-encoding"] == "identity"
        assert flow.request.headers["authorization"] == "Bearer sk-abc"
        sent = json.loads(flow.request.content or b"")
        assert sent["model"] == "gpt-5.5" and "messages" not in sent and sent["input"]
        assert addon.flows[flow.id].decision.route is Route.HTTP


def test_responses_url_repoints_the_request(addon: Chat2Responses) -> None:
    with taddons.context(addon) as tctx:
        tctx.configure(
            addon, responses_transport="http", responses_url="https://up.example/backend-api/codex"
        )
        flow = chat_flow(BODY)
        addon.request(flow)
        assert flow.request.url == "https://up.example/backend-api/codex/responses"
        sent = json.loads(flow.request.content or b"")
        assert sent["store"] is False and sent["stream"] is True and "instructions" in sent


def test_a_websocket_model_is_sent_through_the_bridge(addon: Chat2Responses) -> None:
    with taddons.context(addon):
        addon.bridge.port = 40000  # not started: only the re-pointing is checked here
        flow = chat_flow(BODY, authorization="Bearer sk-abc", host="api.example.com")
        addon.request(flow)
        assert (flow.request.host, flow.request.port) == ("127.0.0.1", 40000)
        token = flow.request.path.rsplit("/", 1)[1]
        job = addon.bridge.jobs[token]
        assert job.route is Route.WEBSOCKET
        assert job.ws_url.startswith("ws://") and job.ws_url.endswith("/v1/responses")
        assert job.headers["authorization"] == "Bearer sk-abc"
        assert flow.request.pretty_host == "api.example.com"  # as the client asked


def test_codex_auth_without_a_login_is_a_401_naming_codex_login(
    addon: Chat2Responses, tmp_path: Path
) -> None:
    with taddons.context(addon) as tctx:
        tctx.configure(
            addon,
            responses_auth="codex",
            responses_codex_auth_file=str(tmp_path / "missing.json"),
            responses_transport="http",
        )
        flow = chat_flow(BODY)
        addon.request(flow)
        assert flow.response is not None and flow.response.status_code == 401
        assert "codex login" in json.loads(flow.response.content or b"")["error"]["message"]


def test_codex_auth_sends_the_login_and_rereads_it(addon: Chat2Responses, tmp_path: Path) -> None:
    login = tmp_path / "auth.json"
    login.write_text(json.dumps({"tokens": {"access_token": "tok-1", "account_id": "acct-9"}}))
    with taddons.context(addon) as tctx:
        tctx.configure(
            addon,
            responses_auth="codex",
            responses_codex_auth_file=str(login),
            responses_transport="http",
        )
        flow = chat_flow(BODY, authorization="Bearer client-key")
        addon.request(flow)
        assert flow.request.headers["authorization"] == "Bearer tok-1"
        assert flow.request.headers["chatgpt-account-id"] == "acct-9"
        login.write_text(json.dumps({"tokens": {"access_token": "tok-22", "account_id": "a"}}))
        flow = chat_flow(BODY)
        addon.request(flow)
        assert flow.request.headers["authorization"] == "Bearer tok-22"


def test_the_reload_command_rereads_the_catalog_file(addon: Chat2Responses, tmp_path: Path) -> None:
    extra = tmp_path / "catalog.json"
    extra.write_text(json.dumps({"models": [{"slug": "first-model"}]}))
    with taddons.context(addon) as tctx:
        tctx.configure(addon, responses_catalog=str(extra))
        assert addon.catalog.match("second-model").info is None
        extra.write_text(json.dumps({"models": [{"slug": "second-model"}]}))
        message = tctx.command(addon.reload_catalog)
        assert "reloaded" in message
        assert addon.catalog.match("second-model").info is not None
        extra.write_text("{broken")
        with pytest.raises(exceptions.CommandError):
            tctx.command(addon.reload_catalog)
        assert addon.catalog.match("second-model").info is not None


def test_changing_options_takes_effect_on_the_next_request(addon: Chat2Responses) -> None:
    with taddons.context(addon) as tctx:
        tctx.configure(addon, responses_transport="http")
        flow = chat_flow(BODY)
        addon.request(flow)
        assert addon.flows[flow.id].decision.route is Route.HTTP
        tctx.configure(addon, responses_transport="websocket", responses_reasoning="think")
        flow = chat_flow(BODY)
        addon.request(flow)
        state = addon.flows[flow.id]
        assert state.decision.route is Route.WEBSOCKET
        assert state.context.reasoning.value == "think"


def test_tls_options_shape_the_bridge_context(addon: Chat2Responses, tmp_path: Path) -> None:
    import ssl

    with taddons.context(addon) as tctx:
        tctx.configure(addon, ssl_insecure=True)
        assert addon.ssl_context is not None
        assert addon.ssl_context.verify_mode is ssl.CERT_NONE
        tctx.configure(addon, ssl_insecure=False)
        assert addon.ssl_context.verify_mode is ssl.CERT_REQUIRED
        with pytest.raises(exceptions.OptionsError):
            tctx.configure(addon, ssl_verify_upstream_trusted_ca=str(tmp_path / "none.pem"))


def test_the_content_views_are_registered_and_chosen_automatically(
    addon: Chat2Responses,
) -> None:
    from mitmproxy import contentviews

    chat = (
        b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":'
        b'[{"index":0,"delta":{"role":"assistant","content":"Bonjour"},"finish_reason":null}]}'
        b"\n\ndata: [DONE]\n\n"
    )
    events = (
        b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",'
        b'"output_index":0,"content_index":0,"item_id":"m","delta":"Salut","sequence_number":1}'
        b"\n\n"
    )
    with taddons.context(addon):
        flow = tflow.tflow(resp=True)
        cases = ((chat, "Chat stream", "Bonjour"), (events, "Responses events", "Salut"))
        for body, name, needle in cases:
            flow.response.content = body  # type: ignore[union-attr]
            result = contentviews.prettify_message(flow.response, flow)  # type: ignore[arg-type]
            assert result.view_name == name
            assert needle in result.text
        for view in ("chat stream", "responses events"):
            shown = contentviews.registry[view].prettify(
                b"\xff\x00 not a stream", contentviews.Metadata()
            )
            assert isinstance(shown, str)


def test_the_codex_login_only_goes_to_the_codex_backend(
    addon: Chat2Responses, tmp_path: Path
) -> None:
    login = tmp_path / "auth.json"
    login.write_text(json.dumps({"tokens": {"access_token": "tok-1", "account_id": "acct-9"}}))
    with taddons.context(addon) as tctx:
        tctx.configure(
            addon,
            responses_auth="codex",
            responses_codex_auth_file=str(login),
            responses_transport="http",
            responses_rewrite="all",
        )
        flow = chat_flow(BODY, path="/some/other/api/v1/chat/completions")
        addon.request(flow)
        assert flow.request.url == "https://chatgpt.com/backend-api/codex/responses"


def test_the_bridge_hop_never_goes_through_an_upstream_proxy(addon: Chat2Responses) -> None:
    with taddons.context(addon):
        addon.bridge.port = 40001
        flow = chat_flow(BODY)
        flow.server_conn.via = ("http", ("proxy.example", 3128))  # type: ignore[assignment]
        addon.request(flow)
        assert flow.server_conn.address == ("127.0.0.1", 40001)
        assert flow.server_conn.via is None


def test_reasoning_none_asks_the_upstream_for_no_summary(addon: Chat2Responses) -> None:
    with taddons.context(addon) as tctx:
        tctx.configure(addon, responses_transport="http", responses_reasoning="none")
        flow = chat_flow(BODY)
        addon.request(flow)
        sent = json.loads(flow.request.content or b"")
        assert "summary" not in sent["reasoning"]


def test_a_bug_while_rewriting_answers_500_and_forwards_nothing(
    addon: Chat2Responses, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("addon.proxy.translate_request", broken)
    with taddons.context(addon):
        flow = chat_flow(BODY)
        addon.request(flow)
        assert flow.response is not None and flow.response.status_code == 500
        error = json.loads(flow.response.content or b"")["error"]
        assert "internal error" in error["message"]
        assert flow.request.path == "/v1/chat/completions"


def test_a_refused_request_is_annotated(addon: Chat2Responses) -> None:
    with taddons.context(addon) as tctx:
        tctx.configure(addon, responses_rewrite="all")
        flow = chat_flow({"model": "gpt-5.5", "messages": [], "n": 3})
        addon.request(flow)
        assert flow.response is not None and flow.response.status_code == 400
        assert flow.comment.startswith("chat2responses refused it:")
