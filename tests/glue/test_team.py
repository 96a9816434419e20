"""The gateway's part of the addon (glue/team.py, own_endpoints.py's health): keys per person
refused or named before anything is planned, the key kept from a Codex upstream, the person in
the summary, the flow and the status, and the health answer for any client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mitmproxy import exceptions
from mitmproxy.test import taddons

from chat2responses.glue.commands import Commands
from chat2responses.glue.hooks import Chat2Responses
from chat2responses.request.client_keys import key_line
from tests.glue.test_hooks import BODY, chat_flow, codex_login, codex_options, started
from tests.glue.test_own_endpoints import own_flow


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    path = tmp_path / "keys"
    path.write_text(key_line("alice", "sk-alice") + key_line("bob", "sk-bob"))
    return path


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/v1/chat/completions", {"authorization": "Bearer sk-mallory"}),
        ("/v1/chat/completions", {}),
        ("/v1/responses", {"x_api_key": "sk-nobody"}),
        ("/v1/models", {"authorization": "Bearer sk-mallory"}),  # passed through: refused too
        ("/anything/else", {}),
    ],
)
def test_a_request_without_a_listed_key_is_a_401_and_nothing_is_planned(
    keys: Path, path: str, headers: dict[str, str]
) -> None:
    addon = Chat2Responses()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, responses_client_keys=str(keys), responses_rewrite="all")
        started(addon)
        flow = chat_flow(BODY, path=path, **headers)
        addon.request(flow)
        assert flow.response is not None and flow.response.status_code == 401
        error = json.loads(flow.response.content or b"")["error"]
        assert error["code"] == "invalid_api_key" and "sk-" not in error["message"][:60]
        assert not addon.calls and addon.driver.pending() == 0
        # A refused key (a mistyped or an old real one) is not kept in the flow to be saved.
        for name in ("authorization", "api-key", "x-api-key"):
            assert name not in flow.request.headers
        assert "sk-" not in repr(flow.get_state())


def test_a_listed_key_names_its_person_everywhere_but_never_the_key(keys: Path) -> None:
    addon = Chat2Responses()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, responses_client_keys=str(keys), responses_transport="http")
        started(addon)
        flow = chat_flow(BODY, authorization="Bearer sk-bob")
        addon.request(flow)
        call = addon.calls[flow.id]
        assert call.job.person == "bob" and flow.metadata["chat2responses"]["person"] == "bob"
        assert call.job.headers["authorization"] == "Bearer sk-bob"  # client mode: their key
        call.job.outcome.status = 200
        call.job.outcome.usage = {"prompt_tokens": 40, "completion_tokens": 2}
        addon.error(flow)  # the flow ends: annotated and counted
        assert flow.comment.startswith("http · 200 · ")
        assert " · caller bob · gpt-5.5 → gpt-5.5 (" in flow.comment
        status = tctx.command(Commands(addon).status)
        assert "  bob: 1 call, tokens 40 in / 2 out" in status and "sk-bob" not in status


def test_two_people_never_share_a_conversation_even_on_one_login(
    keys: Path, tmp_path: Path
) -> None:
    addon = Chat2Responses()
    with taddons.context(addon) as tctx:
        options = codex_options(codex_login(tmp_path))
        tctx.configure(addon, responses_client_keys=str(keys), **options)
        started(addon)
        jobs = []
        for key in ("sk-alice", "sk-bob"):
            flow = chat_flow(BODY, authorization=f"Bearer {key}")
            addon.request(flow)
            jobs.append(addon.calls[flow.id].job)
        assert jobs[0].turn is not None and jobs[1].turn is not None
        assert jobs[0].turn.credential != jobs[1].turn.credential
        assert jobs[0].body["prompt_cache_key"] != jobs[1].body["prompt_cache_key"]


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/backend-api/codex/other"])
def test_with_the_codex_login_the_key_goes_nowhere(keys: Path, tmp_path: Path, path: str) -> None:
    addon = Chat2Responses()
    with taddons.context(addon) as tctx:
        options = codex_options(codex_login(tmp_path))
        tctx.configure(addon, responses_client_keys=str(keys), **options)
        started(addon)
        flow = chat_flow(BODY, path=path, authorization="Bearer sk-alice", api_key="sk-alice")
        addon.request(flow)
        # Neither a rewritten call's upstream request nor a request passed through carries it.
        assert "authorization" not in flow.request.headers
        assert "api-key" not in flow.request.headers
        for call in addon.calls.values():
            assert not {"authorization", "api-key"} & set(call.job.headers)
            assert all(b"sk-alice" not in value for _, value in call.original.fields)


def test_a_keys_file_that_cannot_be_read_is_refused(tmp_path: Path) -> None:
    addon = Chat2Responses()
    broken = tmp_path / "broken"
    broken.write_text("alice not-a-digest\n")
    with taddons.context(addon) as tctx:
        for path, says in ((tmp_path / "missing", "cannot read"), (broken, "line 1")):
            with pytest.raises(exceptions.OptionsError, match=says):
                tctx.configure(addon, responses_client_keys=str(path))
        assert addon.team.keys is None  # the old value (none) stays


def test_a_key_added_while_running_works_at_once_and_a_broken_file_keeps_the_old_keys(
    keys: Path,
) -> None:
    addon = Chat2Responses()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, responses_client_keys=str(keys), responses_transport="http")
        started(addon)
        with keys.open("a") as file:
            file.write(key_line("carol", "sk-carol"))
        flow = chat_flow(BODY, authorization="Bearer sk-carol")
        addon.request(flow)
        assert addon.calls[flow.id].job.person == "carol"
        keys.write_text("garbage\n")
        again = chat_flow(BODY, authorization="Bearer sk-carol")
        addon.request(again)
        assert addon.calls[again.id].job.person == "carol"
        mallory = chat_flow(BODY, authorization="Bearer sk-mallory")
        addon.request(mallory)
        assert mallory.response is not None and mallory.response.status_code == 401


@pytest.mark.parametrize("peer", ["127.0.0.1", "10.1.2.3"])
def test_health_answers_any_client_and_needs_no_key(keys: Path, peer: str) -> None:
    addon = Chat2Responses()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, responses_client_keys=str(keys))
        flow = own_flow("/_chat2responses/health", peer=peer)
        addon.request(flow)
        assert flow.response is not None
        assert flow.response.headers["content-type"] == "application/json"
        body = json.loads(flow.response.content or b"")
        # The driver of a glue test never started: the instance cannot serve a call.
        assert flow.response.status_code == 503 and body["driver"] == "down"
        assert body["problems"] == ["the loopback driver is not serving"]
        addon.driver._sock = object()  # type: ignore[assignment]  # as if serving
        ok = own_flow("/_chat2responses/health", peer=peer)
        addon.request(ok)
        assert ok.response is not None and ok.response.status_code == 200
        assert json.loads(ok.response.content or b"")["status"] == "ok"
        addon.driver._sock = None
        # The status stays this machine's own.
        status = own_flow("/_chat2responses/status", peer=peer)
        addon.request(status)
        assert status.response is not None
        assert status.response.status_code == (200 if peer == "127.0.0.1" else 403)


def test_health_is_503_while_the_codex_login_is_missing(tmp_path: Path) -> None:
    addon = Chat2Responses()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, **codex_options(tmp_path / "nowhere.json"))
        addon.driver._sock = object()  # type: ignore[assignment]
        addon._login()
        flow = own_flow("/_chat2responses/health")
        addon.request(flow)
        addon.driver._sock = None
        assert flow.response is not None and flow.response.status_code == 503
        body = json.loads(flow.response.content or b"")
        assert body["login"] == "unusable" and str(tmp_path) not in flow.response.text
