"""The emulated login (login.py): the token endpoint's rotation, strict login on both transports,
the `auth.json` helper; and the reasoning items' `encrypted_content` (signing.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import websockets
from openai.types.responses.responses_server_event import ResponseWsError

from chat2responses.emulator import Emulator, EmulatorConfig, Transport
from chat2responses.emulator.backend import Caller
from chat2responses.emulator.login import AUTH_CLAIM, LoginAuthority, issue_tokens, read_jwt
from chat2responses.emulator.signing import (
    ReasoningSealer,
    b64url_decode,
    credential_digest,
    secret_for,
)
from chat2responses.emulator.steps import Emit, Reject
from tests.emulator.test_emulator import post, request
from tests.emulator.test_websocket import connected, create, read_response, send
from tests.emulator_helpers import emulator_in_process, token_url, write_auth_json

NOW = 1_700_000_000
SECRET = secret_for("emulator")
CODEX_REFRESH = {
    "client_id": "app_EMoamEEZ73f0CkXaXp7hrann",
    "grant_type": "refresh_token",
    "scope": "openid profile email",
}


def refresh_body(token: str) -> dict[str, str]:
    return CODEX_REFRESH | {"refresh_token": token}


def test_issued_tokens_are_jwts_with_the_codex_claims() -> None:
    tokens = issue_tokens(SECRET, account_id="acct-1", now=NOW, ttl=60, nonce="n")
    claims = read_jwt(SECRET, tokens["access_token"])
    assert claims is not None
    assert (claims["iat"], claims["exp"]) == (NOW, NOW + 60)
    assert claims[AUTH_CLAIM]["chatgpt_account_id"] == "acct-1"
    header = json.loads(b64url_decode(tokens["access_token"].split(".")[0]))
    assert header == {"alg": "HS256", "typ": "JWT"}
    assert read_jwt(secret_for("other"), tokens["access_token"]) is None
    assert read_jwt(SECRET, tokens["id_token"]) is not None
    assert tokens["account_id"] == "acct-1"


def test_refresh_rotates_and_a_spent_token_is_refused() -> None:
    authority = LoginAuthority(SECRET, token_ttl=120)
    seeded = issue_tokens(SECRET, account_id="acct", now=NOW, ttl=60, nonce="seed")
    status, answer = authority.refresh(refresh_body(seeded["refresh_token"]), NOW + 10)
    assert status == 200
    assert set(answer) == {"access_token", "id_token", "refresh_token", "token_type", "expires_in"}
    assert answer["refresh_token"] != seeded["refresh_token"]
    claims = read_jwt(SECRET, answer["access_token"])
    assert claims is not None and claims["exp"] == NOW + 10 + 120
    reused = authority.refresh(refresh_body(seeded["refresh_token"]), NOW + 11)
    assert reused == (
        401,
        {"error": {"message": "refresh token was already used", "code": "refresh_token_reused"}},
    )
    assert authority.refresh(refresh_body(answer["refresh_token"]), NOW + 12)[0] == 200
    unknown = authority.refresh(refresh_body("rt_forged.abc"), NOW)
    assert unknown[0] == 401 and unknown[1]["error"]["code"] == "invalid_grant"
    assert authority.refresh({"grant_type": "password"}, NOW)[0] == 400


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (None, "invalid_api_key"),
        ("Bearer nope", "invalid_api_key"),
        ("Basic xyz", "invalid_api_key"),
        ("expired", "token_expired"),
        ("valid", None),
    ],
)
def test_check_bearer(authorization: str | None, code: str | None) -> None:
    authority = LoginAuthority(SECRET)
    tokens = issue_tokens(SECRET, account_id="a", now=NOW, ttl=100, nonce="n")
    bearer = f"Bearer {tokens['access_token']}"
    header = {"expired": bearer, "valid": bearer}.get(authorization or "", authorization)
    now = NOW + (200 if authorization == "expired" else 50)
    rejection = authority.check_bearer(header, now)
    assert (rejection.code if rejection else None) == code
    if rejection is not None:
        assert rejection.status == 401


async def test_the_token_endpoint_serves_an_auth_json_written_by_the_helper(
    tmp_path: Path,
) -> None:
    auth = write_auth_json(tmp_path / "auth.json", expires_at=NOW - 1)  # already expired
    assert json.loads((tmp_path / "auth.json").read_text()) == auth
    assert (tmp_path / "auth.json").stat().st_mode & 0o777 == 0o600
    assert auth["OPENAI_API_KEY"] is None and auth["last_refresh"].endswith("Z")
    assert set(auth["tokens"]) == {"id_token", "access_token", "refresh_token", "account_id"}
    refresh = refresh_body(auth["tokens"]["refresh_token"])
    async with (
        emulator_in_process(clock=lambda: NOW, require_login=True) as base_url,
        aiohttp.ClientSession() as client,
    ):
        expired = {"authorization": f"Bearer {auth['tokens']['access_token']}"}
        async with client.post(f"{base_url}/responses", json=request(), headers=expired) as r:
            assert r.status == 401
            assert (await r.json())["error"]["code"] == "token_expired"
        async with client.post(token_url(base_url), json=refresh) as r:
            assert r.status == 200
            fresh = await r.json()
        async with client.post(token_url(base_url), json=refresh) as r:
            assert (r.status, (await r.json())["error"]["code"]) == (401, "refresh_token_reused")
        bearer = {"authorization": f"Bearer {fresh['access_token']}"}
        async with client.post(f"{base_url}/responses", json=request(), headers=bearer) as r:
            assert r.status == 200
            assert "event: response.completed" in await r.text()


async def test_require_login_guards_the_websocket_handshake(tmp_path: Path) -> None:
    auth = write_auth_json(tmp_path / "auth.json", expires_at=NOW + 3600)
    async with emulator_in_process(clock=lambda: NOW, require_login=True) as base_url:
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with connected(base_url):
                pass
        assert refused.value.response.status_code == 401
        bearer = f"Bearer {auth['tokens']['access_token']}"
        async with connected(base_url, authorization=bearer) as ws:
            await send(ws, create())
            frames, _ = await read_response(ws)
    assert frames[-1]["type"] == "response.completed"


async def test_without_require_login_any_bearer_is_served() -> None:
    async with emulator_in_process() as base_url:
        status, _, _ = await post(base_url, request())
    assert status == 200


# -- reasoning items ------------------------------------------------------------------------------


def reasoning_item(steps: list[Any]) -> dict[str, Any]:
    item: dict[str, Any] = next(
        step.event["item"]
        for step in steps
        if isinstance(step, Emit)
        and step.event["type"] == "response.output_item.done"
        and step.event["item"]["type"] == "reasoning"
    )
    return item


def tool_turn(emulator: Emulator, caller: Caller) -> list[Any]:
    body = request("[scenario:tool]", include=["reasoning.encrypted_content"])
    return emulator.respond(body, Transport.HTTP, caller)


def test_a_tool_scenario_emits_a_sealed_reasoning_item_before_its_call() -> None:
    emulator = Emulator(EmulatorConfig(), clock=lambda: NOW)
    caller = Caller(credential_digest({"authorization": "Bearer a"}))
    steps = tool_turn(emulator, caller)
    items = [
        s.event["item"]["type"]
        for s in steps
        if isinstance(s, Emit) and s.event["type"] == "response.output_item.done"
    ]
    assert items == ["reasoning", "function_call"]
    item = reasoning_item(steps)
    sealer = ReasoningSealer(SECRET, caller.credential)
    assert sealer.verifies(item)
    assert not ReasoningSealer(SECRET, credential_digest({})).verifies(item)
    without = emulator.respond(request("[scenario:tool]"), Transport.HTTP, caller)
    assert "encrypted_content" not in reasoning_item(without)


def tampered(item: dict[str, Any]) -> dict[str, Any]:
    summary = [{"type": "summary_text", "text": "something else"}]
    return item | {"summary": summary}


@pytest.mark.parametrize(
    ("change", "same_caller", "accepted"),
    [
        (lambda item: item, True, True),
        (lambda item: {k: v for k, v in item.items() if k != "id"}, True, True),
        (tampered, True, False),
        (lambda item: item | {"encrypted_content": "bm9wZQ"}, True, False),
        (lambda item: item | {"id": "rs_other"}, True, False),
        (lambda item: item, False, False),
    ],
    ids=["as-sent", "without-id", "summary-edited", "blob-edited", "id-edited", "other-login"],
)
def test_reasoning_items_sent_back_are_verified(
    change: Any, same_caller: bool, accepted: bool
) -> None:
    emulator = Emulator(EmulatorConfig(), clock=lambda: NOW)
    alice = Caller(credential_digest({"chatgpt-account-id": "alice"}))
    bob = Caller(credential_digest({"chatgpt-account-id": "bob"}))
    item = reasoning_item(tool_turn(emulator, alice))
    body = request("next")
    body["input"] = [*body["input"], change(item)]
    steps = emulator.respond(body, Transport.HTTP, alice if same_caller else bob)
    if accepted:
        assert isinstance(steps[-1], Emit) and steps[-1].event["type"] == "response.completed"
        return
    assert len(steps) == 1 and isinstance(steps[0], Reject)
    error = steps[0].rejection.http_body()["error"]
    assert (steps[0].rejection.status, error["code"]) == (400, "invalid_encrypted_content")
    assert error["param"] == "input[1]"


async def test_a_tampered_item_is_refused_on_both_transports() -> None:
    headers = {"chatgpt-account-id": "acct", "authorization": "Bearer x"}
    body = request("[scenario:tool]", include=["reasoning.encrypted_content"])
    async with (
        emulator_in_process() as base_url,
        aiohttp.ClientSession(headers=headers) as client,
    ):
        async with client.post(f"{base_url}/responses", json=body) as response:
            text = await response.text()
        done = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]
        item = next(
            e["item"] for e in done if e["type"] == "response.output_item.done"
        )  # the reasoning item comes first
        follow = request("again")
        follow["input"] += [item]
        async with client.post(f"{base_url}/responses", json=follow) as response:
            assert response.status == 200  # the same account: verified
        follow["input"][-1] = tampered(item)
        async with client.post(f"{base_url}/responses", json=follow) as response:
            assert response.status == 400
            assert (await response.json())["error"]["code"] == "invalid_encrypted_content"
        async with connected(base_url, **headers) as ws:
            await send(ws, {"type": "response.create"} | follow)
            (error,), _ = await read_response(ws)
    ResponseWsError.model_validate(error)
    assert (error["status"], error["error"]["code"]) == (400, "invalid_encrypted_content")
    assert error["error"]["param"] == "input[1]"
