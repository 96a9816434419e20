"""The mitmproxy hooks in-process (mitmproxy.test.taddons): options, matching, rewriting, errors."""

from __future__ import annotations

import gc
import json
import types
from pathlib import Path

import pytest
from mitmproxy import exceptions, hooks
from mitmproxy.test import taddons, tflow, tutils

from chat2responses.call.policy import Route
from chat2responses.glue.commands import Commands
from chat2responses.glue.hooks import Chat2Responses
from chat2responses.settings import Settings
from chat2responses.upstream.identity import CODEX_CLI_VERSION, identity_headers


def chat_flow(body: object, path: str = "/v1/chat/completions", **headers: str) -> tflow.HTTPFlow:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = tutils.treq(
        host="api.openai.com",  # a host of responses_hosts (others pass through untouched)
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
        assert options.responses_idle_timeout == 300


@pytest.mark.parametrize(
    ("option", "value", "needle"),
    [
        ("responses_transport", "carrier-pigeon", "responses_transport"),
        ("responses_rewrite", "some", "responses_rewrite"),
        ("responses_reasoning", "loud", "responses_reasoning"),
        ("responses_auth", "magic", "responses_auth"),
        ("responses_url", "ftp://example.com", "responses_url"),
        ("responses_catalog", "/nonexistent/catalog.json", "cannot read"),
        ("responses_idle_timeout", 0, "responses_idle_timeout"),
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


def test_a_bad_value_the_addon_loads_with_is_one_error_line(
    addon: Chat2Responses, caplog: pytest.LogCaptureFixture
) -> None:
    """As mitmproxy's script loader does it: `--set` values waiting for the options, then one
    configure with every option. A raise there prints the script's traceback; an error line
    makes mitmproxy exit at start with just that line."""
    with taddons.context() as tctx:
        tctx.options.set("responses_retries=99", defer=True)
        tctx.master.addons.register(addon)
        with caplog.at_level("ERROR"):
            tctx.master.addons.invoke_addon_sync(
                addon, hooks.ConfigureHook(set(tctx.options.keys()))
            )
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors == [
        "chat2responses: responses_retries must be a whole number from 0 to 10, not 99"
    ]


async def test_every_option_at_once_while_running_is_still_refused(
    addon: Chat2Responses, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading an options file while running changes every option at once: still a change,
    refused (the old value stays), not only logged as at start."""

    def bad(**_: object) -> Settings:
        raise ValueError("responses_retries must be a whole number from 0 to 10, not 99")

    with taddons.context(addon) as tctx:
        addon.driver.start()
        try:
            monkeypatch.setattr(Settings, "parse", bad)
            with pytest.raises(exceptions.OptionsError, match="responses_retries"):
                addon.configure(set(tctx.options.keys()))
            assert addon.failed_at_start is False
        finally:
            addon.driver.stop()


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
        assert flow.id not in addon.calls


@pytest.mark.parametrize(("model", "rewritten"), [("gpt-5-codex", True), ("gpt-4o", False)])
def test_a_responses_only_model_of_the_api_is_rewritten_under_catalog(
    addon: Chat2Responses, model: str, rewritten: bool
) -> None:
    """The API's chat endpoint refuses gpt-5-codex, so it goes the Responses way; gpt-4o stays."""
    raw = json.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}]}).encode()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, responses_url="https://api.openai.com/v1")
        started(addon)
        flow = chat_flow(raw)
        addon.request(flow)
        assert (flow.id in addon.calls) is rewritten
        assert (flow.request.path == "/v1/chat/completions") is not rewritten
        if rewritten:
            assert (
                addon.calls[flow.id].job.upstream.http_url == "https://api.openai.com/v1/responses"
            )
            assert addon.calls[flow.id].job.body["model"] == model


@pytest.mark.parametrize("path", ["/v1/models", "/v1/responses/resp_1", "/v1/chat/completions/x"])
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


def codex_login(folder: Path) -> Path:
    login = folder / "auth.json"
    login.write_text(json.dumps({"tokens": {"access_token": "tok-1", "account_id": "acct-9"}}))
    return login


def codex_options(login: Path) -> dict[str, str]:
    return {
        "responses_auth": "codex",
        "responses_codex_auth_file": str(login),
        "responses_transport": "http",
    }


def started(addon: Chat2Responses, port: int = 40000) -> None:
    addon.driver.port = port  # not started: only the re-pointing is checked here


def test_every_rewritten_call_goes_to_the_driver(addon: Chat2Responses) -> None:
    with taddons.context(addon) as tctx:
        tctx.configure(addon, responses_transport="http")
        started(addon)
        flow = chat_flow(BODY, authorization="Bearer sk-abc", host="chatgpt.com")
        addon.request(flow)
        assert (flow.request.host, flow.request.port) == ("127.0.0.1", 40000)
        assert flow.request.path.startswith("/call/")
        assert flow.request.content == b""  # the driver holds the body; the flow gets it back
        assert flow.request.pretty_host == "chatgpt.com"  # as the client asked
        call = addon.calls[flow.id]
        assert call.job.plan.route is Route.HTTP
        assert call.job.headers["authorization"] == "Bearer sk-abc"
        sent = call.job.body
        assert sent["model"] == "gpt-5.5" and "messages" not in sent and sent["input"]
        assert call.job.upstream.http_url == "http://chatgpt.com:22/v1/responses"
        assert call.job.upstream.ws_url == "ws://chatgpt.com:22/v1/responses"


def test_responses_url_repoints_the_call(addon: Chat2Responses) -> None:
    with taddons.context(addon) as tctx:
        tctx.configure(
            addon, responses_transport="http", responses_url="https://up.example/backend-api/codex"
        )
        started(addon)
        flow = chat_flow(BODY)
        addon.request(flow)
        job = addon.calls[flow.id].job
        assert job.upstream.http_url == "https://up.example/backend-api/codex/responses"
        assert job.upstream.profile.ws_headers == {"openai-beta": "responses_websockets=2026-02-06"}
        # The conversation's key names it to the upstream's prompt cache and, on the Codex
        # backend, as the session header (in place of the login's per-process one).
        key = job.body["prompt_cache_key"]
        assert key.startswith("c2r-") and job.session_headers == {"session_id": key}
        assert job.body["store"] is False and job.body["stream"] is True
        assert "instructions" in job.body


def test_a_websocket_model_plans_the_websocket_route(addon: Chat2Responses) -> None:
    with taddons.context(addon):
        started(addon)
        flow = chat_flow(BODY)
        addon.request(flow)
        assert addon.calls[flow.id].job.plan.route is Route.WEBSOCKET


async def test_codex_auth_is_fetched_by_the_driver_never_put_in_the_flow(
    addon: Chat2Responses, tmp_path: Path
) -> None:
    login = codex_login(tmp_path)
    with taddons.context(addon) as tctx:
        tctx.configure(addon, **codex_options(login))
        started(addon)
        flow = chat_flow(
            BODY, authorization="Bearer client-key", x_api_key="k", cookie="c=1", user_agent="ua"
        )
        addon.request(flow)
        job = addon.calls[flow.id].job
        # No client credential goes on, nor the client's own name: the Codex CLI's goes instead.
        assert job.headers == identity_headers(CODEX_CLI_VERSION)
        assert job.login is not None and job.plan.login
        headers = await job.login.headers()
        assert headers["authorization"] == "Bearer tok-1"
        assert headers["chatgpt-account-id"] == "acct-9"
        assert "tok-1" not in str(flow.get_state())
        login.write_text(json.dumps({"tokens": {"access_token": "tok-22", "account_id": "a"}}))
        assert (await job.login.headers())["authorization"] == "Bearer tok-22"


def test_a_non_post_on_a_rewritten_chat_path_is_a_405(addon: Chat2Responses) -> None:
    with taddons.context(addon) as tctx:
        tctx.configure(addon, responses_rewrite="all")
        flow = chat_flow(BODY)
        flow.request.method = "GET"
        addon.request(flow)
        assert flow.response is not None and flow.response.status_code == 405
        assert flow.response.headers["allow"] == "POST"
        assert json.loads(flow.response.content or b"")["error"]["message"]


@pytest.mark.parametrize("method", ["PUT", "DELETE", "OPTIONS", "PATCH", "HEAD", "POST"])
@pytest.mark.parametrize("path", ["/v1/models", "/v1/models/gpt-5.5"])
def test_a_non_get_on_the_models_paths_is_a_405(
    addon: Chat2Responses, method: str, path: str
) -> None:
    with taddons.context(addon) as tctx:
        tctx.configure(addon, responses_rewrite="all")
        flow = chat_flow(b"", path=path)
        flow.request.method = method
        addon.request(flow)
        assert flow.response is not None and flow.response.status_code == 405
        assert flow.response.headers["allow"] == "GET"
        assert json.loads(flow.response.content or b"")["error"]["message"]
        flow = chat_flow(b"", path=path)
        flow.request.method = "GET"
        addon.request(flow)
        assert flow.response is not None and flow.response.status_code == 200


def test_a_gzip_body_is_decoded_and_a_broken_one_refused(addon: Chat2Responses) -> None:
    import gzip

    with taddons.context(addon) as tctx:
        tctx.configure(addon, responses_rewrite="all")
        started(addon)
        flow = chat_flow(gzip.compress(json.dumps(BODY).encode()), content_encoding="gzip")
        addon.request(flow)
        assert addon.calls[flow.id].job.body["model"] == "gpt-5.5"
        flow = chat_flow(b"not gzip at all", content_encoding="gzip")
        addon.request(flow)
        assert flow.response is not None and flow.response.status_code == 400
        assert "content-encoding" in json.loads(flow.response.content or b"")["error"]["message"]


@pytest.mark.parametrize("value", ["Bearer h\xe9SECRET", "Bearer a\x01SECRET"])
def test_a_credential_header_that_cannot_be_sent_is_a_400_not_a_500(
    addon: Chat2Responses, value: str
) -> None:
    with taddons.context(addon) as tctx:
        tctx.configure(addon, responses_rewrite="all")
        started(addon)
        flow = chat_flow(BODY, authorization=value)
        addon.request(flow)
        assert flow.response is not None and flow.response.status_code == 400
        error = json.loads(flow.response.content or b"")["error"]
        assert "'authorization' header" in error["message"] and "SECRET" not in error["message"]
        assert not addon.calls


def test_the_flow_is_put_back_as_the_client_sent_it_on_error(addon: Chat2Responses) -> None:
    from mitmproxy import flow as flow_module

    with taddons.context(addon):
        started(addon)
        flow = chat_flow(BODY, authorization="Bearer sk-abc")
        url, content = flow.request.url, flow.request.raw_content
        addon.request(flow)
        token = addon.calls[flow.id].token
        assert addon.driver.pending() == 1
        flow.error = flow_module.Error("Client disconnected.")
        addon.error(flow)
        assert flow.id not in addon.calls
        assert addon.driver.pending() == 0 and token
        assert (flow.request.url, flow.request.raw_content) == (url, content)
        assert "Client disconnected." in flow.comment


def test_stopping_puts_every_live_flow_back(addon: Chat2Responses) -> None:
    with taddons.context(addon):
        started(addon)
        flow = chat_flow(BODY)
        url = flow.request.url
        addon.request(flow)
        addon.done()
        assert flow.request.url == url and flow.request.raw_content


def test_the_reload_command_rereads_the_catalog_file(addon: Chat2Responses, tmp_path: Path) -> None:
    extra = tmp_path / "catalog.json"
    extra.write_text(json.dumps({"models": [{"slug": "first-model"}]}))
    with taddons.context(addon) as tctx:
        tctx.configure(addon, responses_catalog=str(extra))
        assert addon.catalog.match("second-model").info is None
        extra.write_text(json.dumps({"models": [{"slug": "second-model"}]}))
        commands = Commands(addon)
        message = tctx.command(commands.reload_catalog)
        assert "reloaded" in message
        assert addon.catalog.match("second-model").info is not None
        extra.write_text("{broken")
        with pytest.raises(exceptions.CommandError):
            tctx.command(commands.reload_alias)  # the name mitmweb can run
        assert addon.catalog.match("second-model").info is not None


def test_the_status_command_names_quota_and_learned_routes(addon: Chat2Responses) -> None:
    from chat2responses.call.memory import Lesson

    with taddons.context(addon) as tctx:
        commands = Commands(addon)
        text = tctx.command(commands.status_alias)
        assert "quota: no readings yet" in text and "learned routes: none" in text
        match = addon.catalog.match("mystery")
        addon.state.memory.learn(
            "http://up/responses", match, Lesson(route=Route.WEBSOCKET), now=0.0
        )
        text = tctx.command(commands.status)
        assert "mystery at http://up/responses: websocket" in text


def test_changing_options_takes_effect_on_the_next_request(addon: Chat2Responses) -> None:
    with taddons.context(addon) as tctx:
        tctx.configure(addon, responses_transport="http")
        started(addon)
        flow = chat_flow(BODY)
        addon.request(flow)
        assert addon.calls[flow.id].job.plan.route is Route.HTTP
        tctx.configure(addon, responses_transport="websocket", responses_reasoning="none")
        flow = chat_flow(BODY)
        addon.request(flow)
        call = addon.calls[flow.id]
        assert call.job.plan.route is Route.WEBSOCKET
        assert "summary" not in call.job.body["reasoning"]


def test_tls_options_shape_the_driver_context(addon: Chat2Responses, tmp_path: Path) -> None:
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
    with taddons.context(addon) as tctx:
        tctx.configure(addon, **codex_options(codex_login(tmp_path)), responses_rewrite="all")
        started(addon)
        flow = chat_flow(BODY, path="/some/other/api/v1/chat/completions")
        addon.request(flow)
        job = addon.calls[flow.id].job
        assert job.upstream.http_url == "https://chatgpt.com/backend-api/codex/responses"


def test_the_driver_hop_never_goes_through_an_upstream_proxy(addon: Chat2Responses) -> None:
    with taddons.context(addon):
        addon.driver.port = 40001
        flow = chat_flow(BODY)
        flow.server_conn.via = ("http", ("proxy.example", 3128))  # type: ignore[assignment]
        addon.request(flow)
        assert flow.server_conn.address == ("127.0.0.1", 40001)
        assert flow.server_conn.via is None


def test_reasoning_none_asks_the_upstream_for_no_summary(addon: Chat2Responses) -> None:
    with taddons.context(addon) as tctx:
        tctx.configure(addon, responses_transport="http", responses_reasoning="none")
        started(addon)
        flow = chat_flow(BODY)
        addon.request(flow)
        assert "summary" not in addon.calls[flow.id].job.body["reasoning"]


def test_a_bug_while_rewriting_answers_500_and_forwards_nothing(
    addon: Chat2Responses, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("chat2responses.call.plan.translate_request", broken)
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
        assert flow.comment.startswith(f"refused · {flow.response.status_code} · ")
        assert not flow.marked


def test_a_responses_request_goes_the_same_way_and_is_answered_as_responses(
    addon: Chat2Responses,
) -> None:
    from chat2responses.response.responses_sinks import ResponsesJsonSink, ResponsesStreamSink

    with taddons.context(addon) as tctx:
        tctx.configure(addon, responses_url="http://up.example/backend-api/codex")
        started(addon)
        flow = chat_flow({"model": "gpt-5.5", "input": "hi", "stream": True}, path="/v1/responses")
        addon.request(flow)
        job = addon.calls[flow.id].job
        assert job.upstream.http_url == "http://up.example/backend-api/codex/responses"
        assert job.plan.route is Route.WEBSOCKET
        assert job.body["input"] == [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
        ]
        assert job.body["store"] is False and "instructions" in job.body
        assert isinstance(job.make_sink(), ResponsesStreamSink)
        flow = chat_flow({"model": "gpt-5.5", "input": "hi"}, path="/v1/responses")
        addon.request(flow)
        assert isinstance(addon.calls[flow.id].job.make_sink(), ResponsesJsonSink)


def get_flow(path: str) -> tflow.HTTPFlow:
    flow = chat_flow(b"", path=path)
    flow.request.method = "GET"
    return flow


def test_models_are_listed_from_the_catalog_with_rewrite_all(addon: Chat2Responses) -> None:
    with taddons.context(addon) as tctx:
        flow = get_flow("/v1/models")
        addon.request(flow)
        assert flow.response is None  # responses_rewrite=catalog: the upstream's own list
        tctx.configure(addon, responses_rewrite="all")
        addon.request(flow)
        assert flow.response is not None and flow.response.status_code == 200
        listed = json.loads(flow.response.content or b"")
        assert listed["object"] == "list"
        ids = [m["id"] for m in listed["data"]]
        assert "gpt-5.5" in ids and len(ids) == len(set(ids))
        entry = next(m for m in listed["data"] if m["id"] == "gpt-5.5")
        assert entry["object"] == "model" and entry["context_window"] > 0
        assert "high" in entry["reasoning_levels"]
        one = get_flow("/v1/models/gpt-5.5")
        addon.request(one)
        assert one.response is not None and json.loads(one.response.content or b"") == entry
        missing = get_flow("/v1/models/no-such-model")
        addon.request(missing)
        assert missing.response is not None and missing.response.status_code == 404
        error = json.loads(missing.response.content or b"")["error"]
        assert error["code"] == "model_not_found"


def test_a_rewritten_stream_is_relayed_as_it_comes_and_tells_the_call(
    addon: Chat2Responses,
) -> None:
    with taddons.context(addon):
        started(addon)
        flow = chat_flow(BODY)
        addon.request(flow)
        job = addon.calls[flow.id].job
        assert job.relayed is not None and not job.relayed.is_set()
        flow.response = tutils.tresp(headers=[(b"content-type", b"text/event-stream")])
        addon.responseheaders(flow)
        relay = flow.response.stream
        assert callable(relay)
        assert relay(b"data: 1\n\n") == b"data: 1\n\n"  # byte for byte
        assert job.relayed.is_set()
        assert relay(b"") == b""


def _reaches(start: object, target: object, limit: int = 200_000) -> bool:
    """Whether `target` can be reached from `start` by references (a bounded walk)."""
    seen, todo = {id(start)}, [start]
    while todo and len(seen) < limit:
        for referent in gc.get_referents(todo.pop()):
            if referent is target:
                return True
            if id(referent) not in seen and not isinstance(referent, (type, types.ModuleType)):
                seen.add(id(referent))
                todo.append(referent)
    return False


def test_a_finished_call_is_no_longer_reachable_from_its_flow(addon: Chat2Responses) -> None:
    """Else the call's objects (its request, translation, transcript) live on with the flow,
    whose own cycles only a full collection reclaims."""
    with taddons.context(addon):
        started(addon)
        flow = chat_flow(BODY)
        addon.request(flow)
        job = addon.calls[flow.id].job
        flow.response = tutils.tresp(headers=[(b"content-type", b"text/event-stream")])
        addon.responseheaders(flow)
        assert _reaches(flow, job)  # while it streams
        flow.response.stream(b"")
        addon.response(flow)
        assert flow.response.stream is True  # still marked as streamed
        assert not _reaches(flow, job)


@pytest.mark.parametrize(
    ("headers", "keep_host", "status"),
    [
        ({"origin": "http://attacker.example"}, False, 403),
        ({"sec_fetch_site": "cross-site"}, False, 403),
        ({"host": "rebind.attacker.example:8080"}, True, 403),
        # mitmproxy put the target's Host there: the Origin rules alone apply.
        ({"host": "rebind.attacker.example:8080"}, False, None),
        ({"host": "127.0.0.1:8080"}, True, None),
    ],
)
def test_a_web_page_is_refused_before_anything_is_planned(
    addon: Chat2Responses, headers: dict[str, str], keep_host: bool, status: int | None
) -> None:
    from mitmproxy.addons.proxyserver import Proxyserver
    from mitmproxy.proxy.mode_specs import ProxyMode

    with taddons.context(addon, Proxyserver()) as tctx:
        tctx.options.update(keep_host_header=keep_host, listen_host="127.0.0.1")
        tctx.configure(addon, responses_rewrite="all")
        started(addon)
        for path in ("/v1/chat/completions", "/v1/models"):
            flow = chat_flow(BODY, path=path, **headers)
            flow.client_conn.proxy_mode = ProxyMode.parse("reverse:http://127.0.0.1:9")
            if path.endswith("models"):
                flow.request.method = "GET"
            addon.request(flow)
            if status is None:
                assert flow.response is None or flow.response.status_code == 200
                continue
            assert flow.response is not None and flow.response.status_code == status
            error = json.loads(flow.response.content or b"")["error"]
            assert error["type"] == "permission_error"
            assert flow.id not in addon.calls  # nothing planned, nothing sent


def test_an_allowed_origin_passes(addon: Chat2Responses) -> None:
    with taddons.context(addon) as tctx:
        tctx.configure(addon, responses_allowed_origins="http://localhost:3000")
        started(addon)
        flow = chat_flow(BODY, origin="http://localhost:3000", sec_fetch_site="cross-site")
        addon.request(flow)
        assert flow.response is None and flow.id in addon.calls


# ---- the Codex backend of late 2026 ------------------------------------------------------------

CODEX_URL = "http://up.example/backend-api/codex"


def test_a_model_too_new_for_the_client_version_is_refused_before_the_upstream(
    addon: Chat2Responses,
) -> None:
    body = {"model": "gpt-6-astra", "input": "hi", "stream": True}
    with taddons.context(addon) as tctx:
        tctx.configure(addon, responses_url=CODEX_URL, responses_client_version="0.150.0")
        started(addon)
        flow = chat_flow(body, path="/v1/responses")
        addon.request(flow)
        assert flow.id not in addon.calls and flow.response is not None
        error = json.loads(flow.response.content or b"")["error"]
        assert flow.response.status_code == 400 and error["code"] == "client_version_too_old"
        assert "0.153.0" in error["message"] and "responses_client_version" in error["message"]
        tctx.configure(addon, responses_client_version="0.153.0")
        flow = chat_flow(body, path="/v1/responses")
        addon.request(flow)
        job = addon.calls[flow.id].job
        assert job.headers["version"] == "0.153.0"
        assert job.headers["user-agent"].startswith("codex_cli_rs/0.153.0 (")


def test_the_client_s_own_name_stays_behind_on_the_codex_backend_only(
    addon: Chat2Responses,
) -> None:
    client = {"user_agent": "OpenAI/Python 2.9.0", "originator": "cline"}
    with taddons.context(addon) as tctx:
        tctx.configure(addon, responses_url=CODEX_URL, responses_transport="http")
        started(addon)
        flow = chat_flow(BODY, **client)
        addon.request(flow)
        assert addon.calls[flow.id].job.headers == identity_headers(CODEX_CLI_VERSION)
        tctx.configure(addon, responses_url="https://api.openai.com/v1")
        flow = chat_flow(BODY, **client)
        addon.request(flow)
        headers = addon.calls[flow.id].job.headers
        assert headers["user-agent"] == "OpenAI/Python 2.9.0" and "version" not in headers


def test_compact_is_served_through_a_trigger_on_the_codex_backend_only(
    addon: Chat2Responses,
) -> None:
    from chat2responses.response.compaction import CompactionSink

    user = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "x"}]}
    body = {"model": "gpt-5.5", "input": [user]}
    with taddons.context(addon) as tctx:
        tctx.configure(addon, responses_url=CODEX_URL, responses_rewrite="all")
        started(addon)
        flow = chat_flow(body, path="/v1/responses/compact")
        addon.request(flow)
        job = addon.calls[flow.id].job
        assert job.body["input"][-1] == {"type": "compaction_trigger"}
        assert job.body["stream"] is True and job.body["store"] is False
        assert isinstance(job.make_sink(), CompactionSink)
        tctx.configure(addon, responses_url="https://api.openai.com/v1")
        flow = chat_flow(body, path="/v1/responses/compact")
        addon.request(flow)
        # The public API serves its own compact endpoint: passed through untouched.
        assert flow.id not in addon.calls and flow.request.path == "/v1/responses/compact"


@pytest.mark.parametrize(
    "path",
    [
        "/backend-api/codex/responses",
        "/backend-api/codex/responses/compact",
        "/backend-api/codex/models",
    ],
)
def test_native_codex_traffic_passes_untouched(addon: Chat2Responses, path: str) -> None:
    with taddons.context(addon) as tctx:
        tctx.configure(addon, responses_url=CODEX_URL, responses_rewrite="all")
        started(addon)
        flow = chat_flow({"model": "gpt-5.5", "input": "hi"}, path=path)
        addon.request(flow)
        assert flow.id not in addon.calls and flow.response is None
        assert flow.request.path == path


@pytest.mark.parametrize(
    ("originator", "vendor"), [("codex_exec", True), ("cline", False), (None, False)]
)
def test_vendor_events_go_to_a_codex_client_only(
    addon: Chat2Responses, originator: str | None, vendor: bool
) -> None:
    headers = {"originator": originator} if originator else {}
    with taddons.context(addon) as tctx:
        tctx.configure(addon, responses_url=CODEX_URL)
        started(addon)
        flow = chat_flow(
            {"model": "gpt-5.5", "input": "hi", "stream": True}, path="/v1/responses", **headers
        )
        addon.request(flow)
        assert addon.calls[flow.id].job.make_sink().vendor_events is vendor  # type: ignore[attr-defined]


def upgrade_flow(path: str = "/v1/responses") -> tflow.HTTPFlow:
    headers = [
        (b"upgrade", b"websocket"),
        (b"connection", b"Upgrade"),
        (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
        (b"sec-websocket-version", b"13"),
        (b"authorization", b"Bearer sk-abc"),
    ]
    request = tutils.treq(method=b"GET", path=path.encode(), headers=headers)
    request.host = "api.openai.com"  # a host of responses_hosts (others pass through untouched)
    return tflow.tflow(req=request)


def test_a_clients_responses_websocket_is_taken_over_under_rewrite_all(
    addon: Chat2Responses,
) -> None:
    with taddons.context(addon) as tctx:
        tctx.configure(addon, responses_rewrite="all")
        addon.driver.sockets.port = 40001
        flow = upgrade_flow()
        addon.request(flow)
        assert flow.response is None  # mitmproxy completes the upgrade with the driver
        assert (flow.request.host, flow.request.port) == ("127.0.0.1", 40001)
        assert flow.request.path.startswith("/socket/")
        socket = addon.sockets[flow.id]
        assert addon.driver.sockets.sessions[socket.token] is not None
        addon.websocket_end(flow)
        assert flow.request.path == "/v1/responses"  # put back as the client sent it
        assert flow.comment.startswith("client websocket · chat2responses served 0 response(s)")
        assert flow.id not in addon.sockets


def test_a_websocket_upgrade_passes_through_under_rewrite_catalog(addon: Chat2Responses) -> None:
    with taddons.context(addon):
        flow = upgrade_flow()
        addon.request(flow)
        assert flow.response is None and flow.request.path == "/v1/responses"
        assert not addon.sockets
