"""The mitmproxy glue: options, hooks, and nothing the core could do instead.

This is the only module that imports mitmproxy. It matches `POST …/chat/completions`, asks the
pure core to translate the body, re-points the request at the Responses upstream, and installs
the stream pipeline on the response. Hooks return early for flows that are not theirs, and an
error of any kind reaches the client as an OpenAI error body (before the first byte) or one
error chunk (after it) — never as a traceback, never as a hung stream.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mitmproxy import ctx, exceptions, http

from .catalog import Catalog
from .errors import ClientError, ProxyError, error_body, upstream_error_from_body
from .pipeline import ChatStreamPipeline, ChunkContext, aggregate, stream_body
from .profiles import profile_for_url
from .routing import (
    Route,
    RouteDecision,
    Router,
    is_chat_completions_path,
    refused_for_websocket,
    responses_url_for,
)
from .settings import RewriteMode, Settings, TransportMode
from .translate_request import Translation, parse_chat_body, translate_request

logger = logging.getLogger(__name__)

# (name, type, default, help, choices): the public contract of DESIGN.md.
OPTIONS: tuple[tuple[str, type, str, str, tuple[str, ...] | None], ...] = (
    (
        "responses_url",
        str,
        "",
        "Base URL of the Responses upstream (HTTP goes to {url}/responses, WebSocket to the same "
        "URL with ws/wss). Empty: the intercepted request's own origin and path, with its "
        "trailing /chat/completions replaced by /responses.",
        None,
    ),
    (
        "responses_auth",
        str,
        "client",
        "client: forward the client's Authorization. codex: use the ChatGPT login stored by the "
        "Codex CLI (responses_codex_auth_file).",
        ("client", "codex"),
    ),
    (
        "responses_codex_auth_file",
        str,
        "~/.codex/auth.json",
        "Where the Codex CLI's login lives (used with responses_auth=codex); re-read on change.",
        None,
    ),
    (
        "responses_catalog",
        str,
        "",
        "Path of a JSON model catalog merged over the embedded one (same shape; entries replace "
        "by slug).",
        None,
    ),
    (
        "responses_rewrite",
        str,
        "catalog",
        "catalog: rewrite chat requests whose model the catalog lists and pass every other "
        "request through untouched. all: rewrite every chat request.",
        ("catalog", "all"),
    ),
    (
        "responses_transport",
        str,
        "auto",
        "auto: WebSocket when the catalog prefers it, else HTTP, corrected by what the upstream "
        "answers. http / websocket: force one.",
        ("auto", "http", "websocket"),
    ),
    (
        "responses_reasoning",
        str,
        "reasoning_content",
        "How reasoning summaries reach the client: reasoning_content (a delta field), think "
        "(inside <think>…</think> in content), or none.",
        ("reasoning_content", "think", "none"),
    ),
)
OPTION_NAMES = frozenset(name for name, *_ in OPTIONS)


@dataclass(slots=True)
class FlowState:
    """What the addon keeps about one rewritten flow, from request to response."""

    translation: Translation
    context: ChunkContext
    decision: RouteDecision
    upstream_url: str
    started: float
    pipeline: ChatStreamPipeline | None = None


def json_response(status: int, body: bytes, headers: dict[str, str] | None = None) -> http.Response:
    return http.Response.make(status, body, {"content-type": "application/json", **(headers or {})})


def error_response(err: ProxyError) -> http.Response:
    return json_response(err.status, error_body(err), err.headers)


def load_catalog(path: str) -> Catalog:
    if not path:
        return Catalog.default()
    file = Path(os.path.expanduser(path))
    try:
        user = file.read_bytes()
    except OSError as exc:
        raise ValueError(f"responses_catalog: cannot read {file}: {exc.strerror}") from None
    return Catalog.parse(Catalog.embedded(), user, user_name=str(file))


class Chat2Responses:
    def __init__(self) -> None:
        self.settings = Settings()
        self.catalog = Catalog.default()
        self.router = Router()
        self.flows: dict[str, FlowState] = {}

    def load(self, loader: Any) -> None:
        for name, typespec, default, help_text, choices in OPTIONS:
            loader.add_option(name, typespec, default, help_text, choices=choices)

    def configure(self, updated: set[str]) -> None:
        if not updated & OPTION_NAMES:
            return
        try:
            settings = Settings.parse(**{name: getattr(ctx.options, name) for name in OPTION_NAMES})
            catalog = (
                load_catalog(settings.catalog_path)
                if "responses_catalog" in updated
                or settings.catalog_path != self.settings.catalog_path
                else self.catalog
            )
        except ValueError as exc:
            raise exceptions.OptionsError(str(exc)) from None
        self.settings, self.catalog = settings, catalog

    # ---- request ---------------------------------------------------------------------------

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error or not flow.live:
            return
        req = flow.request
        if req.method != "POST" or not is_chat_completions_path(req.path):
            return
        try:
            state = self._rewrite(flow)
        except ClientError as err:
            logger.info("chat request refused: %s", err.message)
            flow.response = error_response(err)
            return
        if state is not None:
            self.flows[flow.id] = state

    def _rewrite(self, flow: http.HTTPFlow) -> FlowState | None:
        req = flow.request
        rewrite_all = self.settings.rewrite is RewriteMode.ALL
        try:
            body = parse_chat_body(req.raw_content)
        except ClientError:
            if rewrite_all:
                raise
            return None  # not ours to judge: the upstream's own chat endpoint answers it
        model = body.get("model")
        match = self.catalog.match(model) if isinstance(model, str) else None
        if not rewrite_all and (match is None or match.info is None):
            return None
        url = responses_url_for(self.settings.responses_url, _origin(req), req.path)
        translation = translate_request(body, catalog=self.catalog, profile=profile_for_url(url))
        decision = self._decide(translation)
        state = FlowState(
            translation=translation,
            context=ChunkContext(
                chunk_id="chatcmpl-" + secrets.token_hex(12),
                created=int(time.time()),
                model=translation.model,
                reasoning=self.settings.reasoning,
            ),
            decision=decision,
            upstream_url=url,
            started=time.monotonic(),
        )
        self._point_at_http(flow, state)
        return state

    def _decide(self, translation: Translation) -> RouteDecision:
        decision = self.router.decide(self.settings.transport, translation.match)
        if decision.route is Route.WEBSOCKET:
            # The WebSocket route is not wired yet: send HTTP; a refusal is passed on.
            return RouteDecision(Route.HTTP, decision.reason)
        return decision

    def _point_at_http(self, flow: http.HTTPFlow, state: FlowState) -> None:
        req = flow.request
        if self.settings.responses_url:
            req.url = state.upstream_url  # also updates the Host header
        else:
            req.path = responses_url_for("", "", req.path)
        req.content = _json_bytes(state.translation.body)
        req.headers["content-type"] = "application/json"
        req.headers["accept"] = "text/event-stream"
        # The stream callable sees raw bytes: ask for no content-encoding at all.
        req.headers["accept-encoding"] = "identity"
        flow.metadata["chat2responses"] = {
            "model": state.translation.model,
            "route": state.decision.route.value,
            "reason": state.decision.reason.value,
            "upstream_url": state.upstream_url,
            "dropped": list(state.translation.dropped),
        }

    # ---- response --------------------------------------------------------------------------

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        state = self.flows.get(flow.id)
        resp = flow.response
        if state is None or resp is None:
            return
        streaming_ok = resp.status_code == 200 and _is_event_stream(resp.headers)
        if not (state.translation.stream and streaming_ok):
            return  # buffered: the `response` hook converts the whole body
        state.pipeline = ChatStreamPipeline(
            state.context, include_usage=state.translation.include_usage
        )
        resp.stream = _guarded(state.pipeline)
        resp.headers["content-type"] = "text/event-stream; charset=utf-8"
        resp.headers["cache-control"] = "no-cache"
        for name in ("content-length", "content-encoding", "connection", "keep-alive"):
            resp.headers.pop(name, None)
        if flow.request.http_version.startswith("HTTP/1"):
            resp.headers["transfer-encoding"] = "chunked"

    def response(self, flow: http.HTTPFlow) -> None:
        state = self.flows.pop(flow.id, None)
        resp = flow.response
        if state is None or resp is None:
            return
        if state.pipeline is None:
            flow.response = self._convert_buffered(state, resp)
        self._log_summary(flow, state)

    def _convert_buffered(self, state: FlowState, resp: http.Response) -> http.Response:
        body = resp.raw_content or b""
        if resp.status_code != 200:
            err = upstream_error_from_body(resp.status_code, body, dict(resp.headers))
            if refused_for_websocket(err) and self.settings.transport is TransportMode.HTTP:
                err.message += (
                    " (this model is served only over the Responses WebSocket transport, "
                    "and responses_transport=http forbids it)"
                )
            return error_response(err)
        try:
            if state.translation.stream:
                content = stream_body(
                    body, state.context, include_usage=state.translation.include_usage
                )
                return http.Response.make(
                    200, content, {"content-type": "text/event-stream; charset=utf-8"}
                )
            return json_response(200, aggregate(body, state.context))
        except ProxyError as err:
            return error_response(err)

    def error(self, flow: http.HTTPFlow) -> None:
        state = self.flows.pop(flow.id, None)
        if state is not None:
            logger.info(
                "%s via %s: %s", state.translation.model, state.decision.route.value, flow.error
            )

    def done(self) -> None:
        self.flows.clear()

    def _log_summary(self, flow: http.HTTPFlow, state: FlowState) -> None:
        status = flow.response.status_code if flow.response else 0
        elapsed = (time.monotonic() - state.started) * 1000
        match = state.translation.match
        logger.info(
            "%s → %s via %s (%s): %d in %.0f ms",
            match.requested,
            match.upstream_name,
            state.decision.route.value,
            state.decision.reason.value,
            status,
            elapsed,
        )


def _guarded(pipeline: ChatStreamPipeline) -> Any:
    """The stream callable, guarded so that a bug becomes an error chunk, not a dead flow."""

    def stream(data: bytes) -> list[bytes]:
        try:
            return pipeline(data)
        except Exception as exc:  # the last line of defence: the client must get an answer
            logger.exception("chat2responses: translating the upstream stream failed")
            return pipeline.fail(ProxyError(f"chat2responses internal error: {exc}"))

    return stream


def _is_event_stream(headers: http.Headers) -> bool:
    return headers.get("content-type", "").split(";")[0].strip().lower() == "text/event-stream"


def _origin(req: http.Request) -> str:
    default_port = {"http": 80, "https": 443}.get(req.scheme)
    port = "" if req.port == default_port else f":{req.port}"
    return f"{req.scheme}://{req.pretty_host}{port}"


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
