"""End to end against the Codex backend of late 2026 (reference/codex-backend-2026.md §8), as the
emulator plays it: a real mitmweb with the addon on each route (the WebSocket one as the catalog
prefers, and `responses_transport=http`), in front of one emulator that also serves the catalog's
WebSocket models over HTTP, records every request's headers, and sends `codex.rate_limits`.

- identity: the Codex CLI's `User-Agent`, `originator` and `version` on every call (HTTP,
  WebSocket handshake, `/models?client_version=`, the token refresh); a model too new for
  `responses_client_version` is a 400 naming version and option, and the log says so once.
- refusals explained, in the answer and the flow comment.
- compaction: `/v1/responses/compact` through a `compaction_trigger` call, then the conversation
  goes on with the `compaction` item; the turn after a compaction on the kept WebSocket starts in
  full; `/backend-api/codex/…` passes untouched.
- models and tiers, the refused cache fields, sequential-cutoff summaries, safety buffering,
  vendor events for Codex clients, `tool_search` on a Lite model, a custom call replayed without
  `tools`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import re
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai
import pytest
from aiohttp import web

from chat2responses.emulator import Caller, Emulator, EmulatorConfig, Step, Transport
from chat2responses.emulator.server import build_app
from chat2responses.emulator.triggers import user_text
from chat2responses.upstream.catalog_layers import embedded_catalog_dict
from chat2responses.upstream.identity import CODEX_CLI_VERSION, user_agent
from tests.emulator_helpers import token_url, write_auth_json
from tests.mitmweb_helpers import Flow, Mitmweb, origin, run_mitmweb
from tests.proxy_helpers import Mitmdump, run_mitmdump

ROUTES = ("websocket", "http")
ASTRA, SOL, NOVA = "gpt-6-astra", "gpt-5.6-sol", "gpt-7-nova"
# A model only the emulator knows, which needs a Codex CLI newer than any (the addon cannot gate
# it: the backend must refuse it, and the addon explain why).
NOVA_ENTRY = {
    "slug": NOVA,
    "prefer_websockets": False,
    "minimal_client_version": "0.900.0",
    "supported_reasoning_levels": [{"effort": "medium", "description": "m"}],
}
HTTP_TOO = frozenset({ASTRA, SOL, "gpt-5.5", "gpt-5.6-luna"})
TEN_DAYS = 10 * 24 * 3600
NO_CALLER = Caller()


# ---- the emulator, watched ---------------------------------------------------------------------


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    query: dict[str, str]


class WatchedEmulator(Emulator):
    """The emulator, noting every body it answers (with its prompt's tag) and its transport."""

    def __init__(self, config: EmulatorConfig) -> None:
        super().__init__(config)
        self.bodies: list[tuple[Transport, dict[str, Any]]] = []

    def respond(self, body: object, transport: Transport, caller: Caller = NO_CALLER) -> list[Step]:
        if isinstance(body, dict):
            self.bodies.append((transport, json.loads(json.dumps(body))))
        return super().respond(body, transport, caller)

    def bodies_with(self, tag: str) -> list[tuple[Transport, dict[str, Any]]]:
        return [(t, b) for t, b in list(self.bodies) if tag in json.dumps(b)]


@dataclass
class Upstream:
    emulator: WatchedEmulator
    url: str
    seen: list[Seen] = field(default_factory=list)

    def requests(self, suffix: str) -> list[Seen]:
        return [s for s in list(self.seen) if s.path.endswith(suffix)]


@contextlib.contextmanager
def watched_upstream(emulator: WatchedEmulator) -> Iterator[Upstream]:
    """Serve `emulator` in a thread, noting every request's path, headers and query."""
    got: queue.Queue[Any] = queue.Queue()
    seen: list[Seen] = []

    @web.middleware
    async def note(request: web.Request, handler: Any) -> web.StreamResponse:
        headers = {k.lower(): v for k, v in request.headers.items()}
        seen.append(Seen(request.path, headers, dict(request.query)))
        response: web.StreamResponse = await handler(request)
        return response

    async def serve() -> None:
        app = build_app(emulator)
        app.middlewares.append(note)
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        stop = asyncio.Event()
        got.put((runner.addresses[0][1], asyncio.get_running_loop(), stop))
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    port, loop, stop = got.get(timeout=15)
    try:
        yield Upstream(emulator, f"http://127.0.0.1:{port}/backend-api/codex", seen)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    catalog = embedded_catalog_dict()
    catalog = {**catalog, "models": [*catalog["models"], NOVA_ENTRY]}
    config = EmulatorConfig.default(catalog=catalog, http_ok=HTTP_TOO, rate_limits_event=True)
    with watched_upstream(WatchedEmulator(config)) as running:
        yield running


# ---- the proxies -------------------------------------------------------------------------------


def options(upstream: Upstream, login: Path, **more: str) -> dict[str, str]:
    return {
        "responses_url": upstream.url,
        "responses_rewrite": "all",
        "responses_auth": "codex",
        "responses_codex_auth_file": str(login),
        "responses_codex_refresh_url": token_url(upstream.url),
        **more,
    }


@pytest.fixture(scope="module")
def webs(
    upstream: Upstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Mitmweb]]:
    """One mitmweb per route (each forced, so that every model takes it); each starts with an
    expired login, so its first call refreshes."""
    with contextlib.ExitStack() as stack:
        running = {}
        for route in ROUTES:
            folder = tmp_path_factory.mktemp(f"web-{route}")
            login = folder / "auth.json"
            write_auth_json(login, expires_at=int(time.time()) - 60)
            more = {"responses_transport": route}
            running[route] = stack.enter_context(
                run_mitmweb(upstream.url, folder, options(upstream, login, **more))
            )
        yield running


@pytest.fixture(scope="module")
def old(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mitmdump]:
    """A proxy that speaks as an older Codex CLI, with a catalog file that keeps gpt-5.4 as the
    retired name it is (no alias)."""
    folder = tmp_path_factory.mktemp("old")
    login = folder / "auth.json"
    write_auth_json(login, expires_at=int(time.time()) + TEN_DAYS)
    catalog = folder / "catalog.json"
    catalog.write_text(json.dumps({"models": [], "aliases": {"gpt-5.4": None}}))
    more = {"responses_client_version": "0.150.0", "responses_catalog": str(catalog)}
    with run_mitmdump(
        f"reverse:{origin(upstream.url)}", folder, options(upstream, login, **more)
    ) as proxy:
        yield proxy


def sdk(proxy: Mitmweb | Mitmdump, headers: dict[str, str] | None = None) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=proxy.base_url,
        api_key="sk-local",
        max_retries=0,
        timeout=30,
        default_headers=headers,
    )


def tag() -> str:
    return uuid.uuid4().hex[:12]


def said(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def flow_of(web: Mitmweb, needle: str, timeout: float = 10.0) -> Flow:
    """The client flow whose request holds `needle`, once its call is over (it has a comment)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for flow in web.flows():
            if not flow.get("comment") or not flow["request"]["path"].startswith("/v1/"):
                continue
            if needle in web.body(flow["id"], "request").decode("utf-8", "replace"):
                return flow
        time.sleep(0.1)
    raise AssertionError(f"no finished flow holds {needle!r}")


def route_of(upstream: Upstream, needle: str) -> list[Transport]:
    return [transport for transport, _ in upstream.emulator.bodies_with(needle)]


EXPECTED_TRANSPORT = {"websocket": Transport.WEBSOCKET, "http": Transport.HTTP}


# ---- 1: one current identity on every call -----------------------------------------------------

AGENT = f"codex_cli_rs/{CODEX_CLI_VERSION} ("


@pytest.mark.parametrize("route", ROUTES)
def test_every_call_to_the_backend_speaks_as_the_codex_cli(
    webs: dict[str, Mitmweb], upstream: Upstream, route: str
) -> None:
    marker = tag()
    with sdk(webs[route], {"User-Agent": "MyIDE/1.0", "originator": "my_ide"}) as client:
        reply = client.chat.completions.create(model=ASTRA, messages=said(f"hi {marker}"))
    assert marker in (reply.choices[0].message.content or "")
    assert route_of(upstream, marker) == [EXPECTED_TRANSPORT[route]]
    calls = upstream.requests("/backend-api/codex/responses")
    token, models = upstream.requests("/oauth/token"), upstream.requests("/models")
    assert calls and token and models
    for seen in [*calls, *token, *models]:
        assert seen.headers["user-agent"] == user_agent(CODEX_CLI_VERSION), seen.path
        assert seen.headers["originator"] == "codex_cli_rs"
        assert "myide" not in json.dumps(seen.headers).lower()
    for seen in [*calls, *models]:
        assert seen.headers["version"] == CODEX_CLI_VERSION
    assert {s.query.get("client_version") for s in models} == {CODEX_CLI_VERSION}
    # The refresh (the login had expired) named the client as the CLI's login client does.
    assert "version" not in token[0].headers


def test_a_model_too_new_for_the_version_is_a_400_naming_version_and_option(
    old: Mitmdump, upstream: Upstream
) -> None:
    with sdk(old) as client, pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=ASTRA, messages=said("too new"))
    message = str(caught.value)
    assert "0.153.0" in message and "responses_client_version" in message
    assert "0.150.0" in message
    assert not upstream.emulator.bodies_with("too new")  # refused before the upstream
    # Once the upstream's own list is in (fetched for 0.150.0), the log says it, once.
    deadline = time.monotonic() + 10
    while not any("need a newer Codex CLI" in line for line in old.lines):
        assert time.monotonic() < deadline, old.log[-3000:]
        with sdk(old) as client:
            client.models.list()
        time.sleep(0.1)
    line = old.wait_for_log("need a newer Codex CLI than 0.150.0")
    assert f"{ASTRA} (needs 0.153.0)" in line and "responses_client_version" in line
    with sdk(old) as client:
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model=ASTRA, messages=said("again"))
        client.models.list()
    assert sum("need a newer Codex CLI" in line for line in old.lines) == 1


# ---- 2: refusals explained ---------------------------------------------------------------------


@pytest.mark.parametrize("route", ROUTES)
def test_the_backends_refusals_say_why_in_the_answer_and_the_comment(
    webs: dict[str, Mitmweb], route: str
) -> None:
    web = webs[route]
    marker = tag()
    with sdk(web) as client, pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=NOVA, messages=said(f"nova {marker}"))
    message = caught.value.body["message"]  # type: ignore[index]
    assert "requires a newer version of Codex" in message  # the backend's own words, kept
    assert "likely cause: 'gpt-7-nova' needs a newer Codex client" in message
    assert "to fix: set the option responses_client_version" in message
    assert message in flow_of(web, marker)["comment"]


def test_a_retired_model_and_a_lite_shape_are_explained_too(old: Mitmdump) -> None:
    with sdk(old) as client, pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gpt-5.4", messages=said("retired"))
    message = caught.value.body["message"]  # type: ignore[index]
    assert "not supported when using Codex with a ChatGPT account" in message
    assert "retired for ChatGPT accounts" in message and "GET /v1/models" in message
    hosted = {"type": "web_search"}
    lite_input = [
        {"type": "additional_tools", "role": "developer", "tools": [hosted]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "x"}]},
    ]
    with sdk(old) as client, pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model=SOL, input=lite_input)  # type: ignore[arg-type]
    message = caught.value.body["message"]  # type: ignore[index]
    assert "Responses-Lite request shape" in message and "leave out the hosted tools" in message


# ---- 3: compaction -----------------------------------------------------------------------------


def dumped(items: list[Any]) -> list[dict[str, Any]]:
    """Output items as a Responses client sends them back (the SDK's output types know no user
    message, which the compact answer repeats: its warning says so)."""
    return [item.model_dump(exclude_none=True, warnings=False) for item in items]


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


@pytest.mark.parametrize("route", ROUTES)
def test_compact_then_continue_with_the_compaction_item(
    webs: dict[str, Mitmweb], upstream: Upstream, route: str
) -> None:
    marker = tag()
    first = user(f"remember {marker}")
    with sdk(webs[route]) as client:
        turn = client.responses.create(model="gpt-5.5", input=[first])  # type: ignore[list-item]
        history = [first, *dumped(turn.output)]
        compacted = client.responses.compact(model="gpt-5.5", input=history)  # type: ignore[arg-type]
        assert compacted.object == "response.compaction"
        kinds = [item.type for item in compacted.output]
        assert kinds[-1] == "compaction" and compacted.output[-1].id.startswith("cmp_")  # type: ignore[union-attr]
        assert compacted.usage.input_tokens > 0
        output = dumped(compacted.output)
        after = client.responses.create(model="gpt-5.5", input=[*output, user(f"go on {marker}")])  # type: ignore[list-item]
    assert marker in after.output_text
    sent = upstream.emulator.bodies_with(marker)
    compaction = [b for _, b in sent if b["input"][-1] == {"type": "compaction_trigger"}]
    assert len(compaction) == 1 and compaction[0]["stream"] is True
    assert compaction[0]["store"] is False
    continued = sent[-1][1]
    assert [i.get("type") for i in continued["input"]][-2:] == ["compaction", "message"]
    assert {t for t, _ in sent} == {EXPECTED_TRANSPORT[route]}


def test_the_turn_after_a_compaction_on_the_kept_websocket_goes_in_full(
    webs: dict[str, Mitmweb], upstream: Upstream
) -> None:
    """A Codex-style conversation on the WebSocket route: turns continued on the kept socket,
    a compaction (a `/responses` call ending in the trigger), then a turn from the compacted
    input: never sent as a `previous_response_id`, which would bring the old history back."""
    marker = tag()
    history: list[dict[str, Any]] = [user(f"start {marker}")]
    with sdk(webs["websocket"]) as client:
        for n in range(2):
            turn = client.responses.create(model="gpt-5.5", input=history, prompt_cache_key=marker)  # type: ignore[arg-type]
            history += [
                *[i.model_dump(exclude_none=True) for i in turn.output],
                user(f"{n} {marker}"),
            ]
        compaction = client.responses.create(
            model="gpt-5.5",
            input=[*history, {"type": "compaction_trigger"}],  # type: ignore[list-item]
            prompt_cache_key=marker,
        )
        (item,) = dumped(compaction.output)
        assert item["type"] == "compaction"
        after = [user(f"start {marker}"), item, user(f"after {marker}")]
        client.responses.create(model="gpt-5.5", input=after, prompt_cache_key=marker)  # type: ignore[arg-type]
    sent = [body for _, body in upstream.emulator.bodies_with(marker)]
    assert any(body.get("previous_response_id") for body in sent[:3])  # continuation was on
    last = sent[-1]
    assert "previous_response_id" not in last
    assert [i.get("type") for i in last["input"]][-3:] == ["message", "compaction", "message"]


@pytest.mark.parametrize("route", ROUTES)
def test_native_codex_traffic_passes_through_untouched(
    webs: dict[str, Mitmweb], upstream: Upstream, route: str
) -> None:
    marker = tag()
    body = {"model": "gpt-5.5", "input": [user(f"native {marker}")], "stream": True}
    agent = f"codex_exec/0.171.0 (native {marker})"
    request = urllib.request.Request(
        f"http://127.0.0.1:{webs[route].proxy_port}/backend-api/codex/responses",
        data=json.dumps({**body, "store": False}).encode(),
        headers={"content-type": "application/json", "user-agent": agent},
    )
    with urllib.request.urlopen(request, timeout=20) as answer:
        assert b"response.completed" in answer.read()
    (seen,) = [s for s in upstream.requests("/responses") if s.headers["user-agent"] == agent]
    assert "version" not in seen.headers and "originator" not in seen.headers
    # Sent as it was: no `instructions` added, over HTTP whatever the proxy's transport.
    ((transport, sent),) = upstream.emulator.bodies_with(marker)
    assert transport is Transport.HTTP and "instructions" not in sent


# ---- 4: models and tiers -----------------------------------------------------------------------


def test_the_model_list_has_astra_and_both_context_windows(webs: dict[str, Mitmweb]) -> None:
    with sdk(webs["http"]) as client:
        listed = {model.id: model for model in client.models.list()}
    for slug in (ASTRA, SOL, "gpt-5.6-terra", "gpt-5.6-luna"):
        extra = listed[slug].model_extra or {}
        assert (extra["context_window"], extra["max_context_window"]) == (272000, 872000)
    assert (listed[ASTRA].model_extra or {})["service_tiers"] == ["priority"]


@pytest.mark.parametrize("route", ROUTES)
def test_a_downgraded_tier_is_said_in_the_header_summary_and_comment(
    webs: dict[str, Mitmweb], route: str
) -> None:
    marker = tag()
    with sdk(webs[route]) as client:
        raw = client.chat.completions.with_raw_response.create(
            model=SOL,
            messages=said(f"fast {marker}"),
            service_tier="ultrafast",  # type: ignore[arg-type]
        )
        header = raw.headers.get("x-chat2responses-service-tier")
        served = client.chat.completions.with_raw_response.create(
            model="gpt-5.5", messages=said(f"prio {marker}"), service_tier="priority"
        )
    assert header == "asked=ultrafast; got=auto"
    assert "x-chat2responses-service-tier" not in served.headers
    comment = flow_of(webs[route], f"fast {marker}")["comment"]
    assert "service tier ultrafast asked, auto served" in comment.splitlines()[0]
    with sdk(webs[route]) as client, pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=ASTRA, messages=said("x"), service_tier="flex")
    assert "gpt-6-astra offers: 'auto', 'default', 'priority'" in str(caught.value)


# ---- 5: the cache fields the Codex backend refuses -----------------------------------------------


@pytest.mark.parametrize("route", ROUTES)
def test_the_refused_cache_fields_are_removed_and_listed(
    webs: dict[str, Mitmweb], upstream: Upstream, route: str
) -> None:
    marker = tag()
    part = {"type": "input_text", "text": f"cached {marker}", "prompt_cache_breakpoint": {}}
    with sdk(webs[route]) as client:
        reply = client.responses.create(
            model="gpt-5.5",
            input=[{"type": "message", "role": "user", "content": [part]}],  # type: ignore[list-item]
            prompt_cache_retention="24h",
            extra_body={"prompt_cache_options": {"mode": "explicit", "ttl": "1h"}},
        )
    assert marker in reply.output_text  # the emulator refuses each: none reached it
    (_, sent), *_ = upstream.emulator.bodies_with(marker)
    for name in ("prompt_cache_options", "prompt_cache_retention", "prompt_cache_breakpoint"):
        assert name not in json.dumps(sent)
    comment = flow_of(webs[route], marker)["comment"]
    removed = next(line for line in comment.splitlines() if line.startswith("removed"))
    for name in ("prompt_cache_options", "prompt_cache_retention", "prompt_cache_breakpoint"):
        assert name in removed


# ---- 6 and 8: events ---------------------------------------------------------------------------


@pytest.mark.parametrize("route", ROUTES)
def test_sequential_cutoff_summaries_reach_a_chat_client_once(
    webs: dict[str, Mitmweb], route: str
) -> None:
    with sdk(webs[route]) as client:
        stream = client.chat.completions.create(
            model="gpt-5.5", messages=said("[scenario:sequential_cutoff]"), stream=True
        )
        reasoning = "".join(
            getattr(chunk.choices[0].delta, "reasoning_content", None) or ""
            for chunk in stream
            if chunk.choices
        )
    assert reasoning == "**Summarising in sections**\n\nEach section arrives whole.\n\nDone."


@pytest.mark.parametrize("route", ROUTES)
def test_safety_buffering_is_in_the_summary_never_in_the_answer(
    webs: dict[str, Mitmweb], route: str
) -> None:
    marker = tag()
    with sdk(webs[route]) as client:
        reply = client.chat.completions.create(
            model="gpt-5.5", messages=said(f"[scenario:safety_buffering] {marker}")
        )
    text = reply.choices[0].message.content or ""
    assert text == f"Hello from the emulator. You said: [scenario:safety_buffering] {marker}"
    summary = flow_of(webs[route], marker)["comment"].splitlines()[0]
    assert "safety buffering (faster model: gpt-5.6-luna)" in summary


def stream_events(proxy: Mitmweb, originator: str | None, text: str) -> list[str]:
    headers = {"originator": originator} if originator else {}
    body = {"model": "gpt-5.5", "input": text, "stream": True}
    request = urllib.request.Request(
        f"{proxy.base_url}/responses",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", "authorization": "Bearer x", **headers},
    )
    with urllib.request.urlopen(request, timeout=20) as answer:
        raw = answer.read().decode()
    return re.findall(r"^event: (\S+)$", raw, flags=re.MULTILINE)


@pytest.mark.parametrize("route", ROUTES)
def test_vendor_events_reach_codex_clients_only(webs: dict[str, Mitmweb], route: str) -> None:
    """codex.rate_limits (every answer) and response.metadata (safety buffering): a client that
    names a Codex originator reads them; others never see them."""
    text = "[scenario:safety_buffering]"
    codex = stream_events(webs[route], "codex_exec", text)
    other = stream_events(webs[route], None, text)
    assert "response.metadata" in codex and "response.completed" in codex
    if route == "websocket":  # the emulator sends codex.rate_limits over its WebSocket
        assert codex[0] == "codex.rate_limits"
    assert not [kind for kind in other if kind.startswith("codex.") or kind == "response.metadata"]
    assert [k for k in codex if not k.startswith("codex.") and k != "response.metadata"] == other


@pytest.mark.parametrize("route", ROUTES)
def test_tool_search_is_taken_on_a_lite_model(
    webs: dict[str, Mitmweb], upstream: Upstream, route: str
) -> None:
    marker = tag()
    tools = [
        {"type": "function", "name": "f", "parameters": {"type": "object", "properties": {}}},
        {"type": "tool_search", "execution": "client", "description": "search deferred tools"},
    ]
    with sdk(webs[route]) as client:
        reply = client.responses.create(model=SOL, input=f"find {marker}", tools=tools)  # type: ignore[arg-type]
    assert marker in reply.output_text
    (_, sent), *_ = upstream.emulator.bodies_with(marker)
    assert sent["input"][0]["type"] == "additional_tools"
    assert sent["input"][0]["tools"] == tools


@pytest.mark.parametrize("route", ROUTES)
def test_a_custom_call_replayed_without_tools_goes_back_as_a_custom_call(
    webs: dict[str, Mitmweb], upstream: Upstream, route: str
) -> None:
    marker = tag()
    patch_tool = {"type": "custom", "custom": {"name": "apply_patch", "description": "patch"}}
    first = said(f"[scenario:tool] {marker}")
    with sdk(webs[route]) as client:
        stream = client.chat.completions.create(
            model="gpt-5.5",
            messages=first,
            tools=[patch_tool],
            stream=True,  # type: ignore[list-item]
        )
        calls: dict[int, dict[str, str]] = {}
        for chunk in stream:
            for delta in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
                call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                call["id"] = delta.id or call["id"]
                if delta.function is not None:
                    call["name"] = delta.function.name or call["name"]
                    call["arguments"] += delta.function.arguments or ""
        ((_, call),) = calls.items()
        # As a streaming chat client replays it: the only form its chat types know, `function`.
        assistant = {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["name"], "arguments": call["arguments"]},
                }
            ],
        }
        history = [
            *first,
            assistant,
            {"role": "tool", "tool_call_id": call["id"], "content": "applied"},
            {"role": "user", "content": f"thanks {marker}"},
        ]
        client.chat.completions.create(model="gpt-5.5", messages=history)  # type: ignore[arg-type]
    _, replayed = upstream.emulator.bodies_with(f"thanks {marker}")[-1]
    kinds = {item.get("type") for item in replayed["input"]}
    assert {"custom_tool_call", "custom_tool_call_output"} <= kinds
    assert not {"function_call", "function_call_output"} & kinds
    assert user_text(replayed).startswith("thanks")


# ---- what the Codex CLI 0.171.0 really sends, through the proxy ----------------------------------

CAPTURE = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "codex_cli_0.171.0.json").read_text("utf-8")
)


@pytest.mark.parametrize("route", ROUTES)
def test_a_codex_cli_turn_goes_through_as_the_cli_sent_it(
    webs: dict[str, Mitmweb], upstream: Upstream, route: str
) -> None:
    """The captured HTTP turn (no instructions, developer messages, namespace and tool_search
    tools, a hosted web_search, the custom apply_patch), sent to /v1/responses with the CLI's
    own headers: its items and tools reach the backend as they were, under the addon's
    identity, and the answer comes back with the vendor events a Codex client reads."""
    marker, before = tag(), len(upstream.seen)
    captured = CAPTURE["http_request"]
    body = json.loads(json.dumps(captured["body"]))
    body["input"][-1]["content"][0]["text"] = f"Say hello {marker}"
    headers = {
        name: value
        for name, value in captured["headers"]
        if name.lower() in ("originator", "user-agent", "session-id", "x-client-request-id")
    }
    request = urllib.request.Request(
        f"{webs[route].base_url}/responses",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", **headers},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        raw = answer.read().decode()
    kinds = re.findall(r"^event: (\S+)$", raw, flags=re.MULTILINE)
    assert kinds[-1] == "response.completed" and marker in raw
    if route == "websocket":
        assert kinds[0] == "codex.rate_limits"  # a Codex client reads its quota itself
    ((transport, sent),) = upstream.emulator.bodies_with(marker)
    assert transport is EXPECTED_TRANSPORT[route]
    assert sent["tools"] == body["tools"]
    assert [item["type"] for item in sent["tools"]].count("namespace") >= 1
    assert sent["input"] == body["input"]
    assert sent["prompt_cache_key"] == body["prompt_cache_key"]
    calls = [s for s in upstream.seen[before:] if s.path.endswith("/responses")]
    assert calls and all(s.headers["user-agent"].startswith(AGENT) for s in calls)
    assert {s.headers["originator"] for s in calls} == {"codex_cli_rs"}


# ---- 7 and 9: the unstable WebSocket, no credit-burning loop ----------------------------------


@pytest.fixture(scope="module")
def unstable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Upstream, Mitmdump]]:
    """An emulator whose gpt-6-astra WebSocket answers are all cut before any output (HTTP
    serves it), behind a proxy that chooses the transport itself (`auto`)."""
    config = EmulatorConfig.default(
        unstable_websocket=frozenset({ASTRA}), http_ok=frozenset({ASTRA})
    )
    folder = tmp_path_factory.mktemp("unstable")
    login = folder / "auth.json"
    write_auth_json(login, expires_at=int(time.time()) + TEN_DAYS)
    with (
        watched_upstream(WatchedEmulator(config)) as upstream,
        run_mitmdump(f"reverse:{origin(upstream.url)}", folder, options(upstream, login)) as proxy,
    ):
        yield upstream, proxy


def test_twenty_calls_to_an_unstable_websocket_open_at_most_22_connections(
    unstable: tuple[Upstream, Mitmdump],
) -> None:
    upstream, proxy = unstable
    answers = []
    with sdk(proxy) as client:
        for n in range(20):
            reply = client.chat.completions.create(model=ASTRA, messages=said(f"call {n}"))
            answers.append(reply.choices[0].message.content or "")
    assert all(f"call {n}" in text for n, text in enumerate(answers))
    stats = upstream.emulator.stats
    assert stats.websocket_connections + stats.http_requests <= 22, stats
    assert stats.unstable_cuts >= 1  # the WebSocket was tried, and cut
    assert any("websocket unstable for this model" in line for line in proxy.lines)
