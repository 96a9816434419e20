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
import secrets
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mitmproxy import command, connection, contentviews, ctx, exceptions, http, websocket
from wsproto.frame_protocol import Opcode

from .auth import WEBSOCKET_BETA, CodexLogin
from .catalog import Catalog, embedded_catalog
from .errors import ClientError, ProxyError, error_body, upstream_error_from_body
from .events import TERMINAL
from .pipeline import DISPLAY_LIMIT, ChatStreamPipeline, ChunkContext, aggregate, stream_body
from .profiles import CODEX, profile_for_url
from .report import MARKS, CallReport
from .routing import (
    Reason,
    Route,
    RouteDecision,
    Router,
    is_chat_completions_path,
    refused_for_websocket,
    responses_url_for,
    websocket_url,
)
from .settings import OPTION_NAMES, OPTIONS, AuthMode, RewriteMode, Settings, TransportMode
from .translate_request import Translation, parse_chat_body, translate_request
from .transports.bridge import Bridge, BridgeJob
from .transports.websocket import redacted_url, response_create_frame, websocket_ssl_context
from .views import (
    is_chat_stream,
    is_responses_events,
    render_chat_request,
    render_chat_stream,
    render_responses_events,
)
from .wire import ReasoningMode

logger = logging.getLogger(__name__)

_TLS_OPTIONS = frozenset({"ssl_insecure", "ssl_verify_upstream_trusted_ca"})
# Client headers the bridge passes on to the upstream (it never logs them).
_FORWARDED_HEADERS = (
    "authorization",
    "openai-organization",
    "openai-project",
    "user-agent",
    "chatgpt-account-id",
    "originator",
    "session_id",
    "openai-beta",
    "api-key",
    "x-api-key",
)


@dataclass(slots=True)
class FlowState:
    """What the addon keeps about one rewritten flow, from request to response."""

    translation: Translation
    context: ChunkContext
    decision: RouteDecision
    upstream_url: str
    started: float
    original: tuple[str, http.Headers, bytes | None]  # the client's url, headers and body
    codex_backend: bool = False
    pipeline: ChatStreamPipeline | None = None
    job: BridgeJob | None = None
    first_chunk_at: float | None = None
    upstream_body: bytes = b""  # a buffered upstream answer, kept for display
    upstream_status: int | None = None


def json_response(status: int, body: bytes, headers: dict[str, str] | None = None) -> http.Response:
    return http.Response.make(status, body, {"content-type": "application/json", **(headers or {})})


def error_response(err: ProxyError) -> http.Response:
    return json_response(err.status, error_body(err), err.headers)


def load_catalog(path: str) -> Catalog:
    if not path:
        return Catalog.default()
    file = Path(path).expanduser()
    try:
        user = file.read_bytes()
    except OSError as exc:
        raise ValueError(f"responses_catalog: cannot read {file}: {exc.strerror}") from None
    return Catalog.parse(embedded_catalog(), user, user_name=str(file))


class Chat2Responses:
    def __init__(self) -> None:
        self.settings = Settings()
        self.catalog = Catalog.default()
        self.router = Router()
        self.flows: dict[str, FlowState] = {}
        # Chat requests passed through untouched: their SSE answers are streamed, not buffered.
        self.passthrough: set[str] = set()
        self.bridge = Bridge()
        self.ssl_context: ssl.SSLContext | None = None
        self.codex_login: CodexLogin | None = None
        # Set once an upstream refused `reasoning.summary` (OpenAI does, for organizations that
        # are not verified): later requests leave it out.
        self.summaries_refused = False

    def load(self, loader: Any) -> None:
        for name, typespec, default, help_text, choices in OPTIONS:
            loader.add_option(name, typespec, default, help_text, choices=choices)
        for view in (ChatStreamView, ResponsesEventsView, ChatRequestView):
            if view().name.lower() not in contentviews.registry.available_views():
                contentviews.add(view)

    def configure(self, updated: set[str]) -> None:
        if updated & _TLS_OPTIONS or self.ssl_context is None:
            self._configure_tls()
        if "stream_large_bodies" in updated and ctx.options.stream_large_bodies:
            logger.warning(
                "stream_large_bodies is set: chat requests larger than %s reach the upstream "
                "before chat2responses sees them, so they cannot be rewritten",
                ctx.options.stream_large_bodies,
            )
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
            raise exceptions.OptionsError(str(exc)) from None  # type: ignore[no-untyped-call]
        if settings.responses_url != self.settings.responses_url:
            self.router = Router()  # what one upstream taught says nothing of another
        self.settings, self.catalog = settings, catalog

    @command.command("chat2responses.reload_catalog")  # type: ignore[untyped-decorator]
    def reload_catalog(self) -> str:
        """Re-read the responses_catalog file (and the embedded catalog)."""
        try:
            self.catalog = load_catalog(self.settings.catalog_path)
        except ValueError as exc:
            raise exceptions.CommandError(str(exc)) from None
        message = f"chat2responses: catalog reloaded, {len(self.catalog.slugs())} models"
        logger.info(message)
        return message

    def _configure_tls(self) -> None:
        """The bridge's own upstream connections honour mitmproxy's TLS options."""
        try:
            self.ssl_context = websocket_ssl_context(
                bool(ctx.options.ssl_insecure), ctx.options.ssl_verify_upstream_trusted_ca
            )
        except ValueError as exc:
            raise exceptions.OptionsError(str(exc)) from None  # type: ignore[no-untyped-call]

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
            flow.comment = f"chat2responses refused it: {err.message}"
            flow.marked = ":no_entry:"
            return
        except Exception as exc:  # a bug must not send a half-rewritten request anywhere
            logger.exception("chat2responses: rewriting the request failed")
            flow.response = error_response(ProxyError(f"chat2responses internal error: {exc}"))
            return
        if state is not None:
            self.flows[flow.id] = state
        else:
            self.passthrough.add(flow.id)

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
        profile = profile_for_url(url)
        translation = translate_request(
            body,
            catalog=self.catalog,
            profile=profile,
            summaries=self.settings.reasoning is not ReasoningMode.NONE
            and not self.summaries_refused,
        )
        decision = self.router.decide(self.settings.transport, translation.match)
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
            original=(req.url, req.headers.copy(), req.raw_content),
            codex_backend=profile is CODEX,
        )
        self._point_at_upstream(flow, state)
        logger.debug(
            "%s → %s: %s (%s%s) to %s; dropped: %s",
            translation.match.requested,
            translation.match.upstream_name,
            decision.route.value,
            decision.reason.value,
            ", confirmed" if decision.confirmed else "",
            redacted_url(url),
            ", ".join(translation.dropped) or "nothing",
        )
        return state

    def _point_at_upstream(self, flow: http.HTTPFlow, state: FlowState) -> None:
        """Send the translated body straight upstream, or through the bridge.

        Straight (mitmproxy forwards, the pipeline translates in flight) only when the route is
        known to be HTTP and the client streams: everything else needs the bridge, which can
        retry on the other transport and turn any upstream failure into a proper answer.
        """
        req = flow.request
        decision = state.decision
        original_host = req.host_header
        if decision.route is Route.HTTP and decision.confirmed and state.translation.stream:
            if self.settings.responses_url:
                req.url = state.upstream_url  # also updates the Host header
            else:
                req.path = responses_url_for("", "", req.path)
            req.headers["accept-encoding"] = "identity"  # the stream callable sees raw bytes
            req.headers.update(self._auth_headers())
        else:
            job = BridgeJob(
                http_url=state.upstream_url,
                ws_url=websocket_url(state.upstream_url),
                body=state.translation.body,
                headers={**self._upstream_headers(req), **self._auth_headers()},
                ws_headers={"openai-beta": WEBSOCKET_BETA} if state.codex_backend else {},
                route=decision.route,
                fallback=self.settings.transport is TransportMode.AUTO,
                on_route=self._learner(state),
                on_summaries_refused=self._refuse_summaries,
                ssl=self.ssl_context,
            )
            state.job = job
            path = self.bridge.register(job)
            req.scheme, req.host, req.port, req.path = "http", "127.0.0.1", self.bridge.port, path
            # Straight to the loopback bridge, never through an upstream proxy (`--mode upstream`).
            flow.server_conn = connection.Server(address=("127.0.0.1", self.bridge.port))
            for name in _FORWARDED_HEADERS:  # the job carries them: none cross the loopback hop
                req.headers.pop(name, None)
            if original_host:
                req.host_header = original_host  # mitmweb shows the host the client asked for
        req.content = _json_bytes(state.translation.body)
        req.headers["content-type"] = "application/json"
        req.headers["accept"] = "text/event-stream"
        flow.metadata["chat2responses"] = {
            "model": state.translation.model,
            "route": decision.route.value,
            "reason": decision.reason.value,
            "upstream_url": state.upstream_url,
            "dropped": list(state.translation.dropped),
        }

    def _upstream_headers(self, req: http.Request) -> dict[str, str]:
        return {name: str(req.headers[name]) for name in _FORWARDED_HEADERS if name in req.headers}

    def _auth_headers(self) -> dict[str, str]:
        """With `responses_auth=codex`, the Codex login's headers (401 when there is none)."""
        if self.settings.auth is not AuthMode.CODEX:
            return {}
        wanted = Path(self.settings.codex_auth_file).expanduser()
        if self.codex_login is None or self.codex_login.path != wanted:
            self.codex_login = CodexLogin(self.settings.codex_auth_file)
        return self.codex_login.headers()

    def _refuse_summaries(self) -> None:
        self.summaries_refused = True

    def _learner(self, state: FlowState) -> Callable[[Route], None]:
        match = state.translation.match

        def learn(route: Route) -> None:
            if self.router.learned.get(self.router.key(match)) is route:
                return
            self.router.learn(match, route)
            if route is not state.decision.route:
                state.decision = RouteDecision(route, Reason.LEARNED, confirmed=True)
                logger.info(
                    "%s: learned that it needs %s; later requests go there directly",
                    match.upstream_name,
                    route.value,
                )

        return learn

    # ---- response --------------------------------------------------------------------------

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        resp = flow.response
        if flow.id in self.passthrough:
            self.passthrough.discard(flow.id)
            if resp is not None and _is_event_stream(resp.headers):
                resp.stream = True  # byte for byte, as it arrives
            return
        state = self.flows.get(flow.id)
        if state is None or resp is None:
            return
        streaming_ok = resp.status_code == 200 and _is_event_stream(resp.headers)
        if not (state.translation.stream and streaming_ok):
            return  # buffered: the `response` hook converts the whole body
        state.pipeline = ChatStreamPipeline(
            state.context, include_usage=state.translation.include_usage
        )
        resp.stream = _guarded(state)
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
        state.upstream_status = resp.status_code
        try:
            if state.pipeline is None:
                state.upstream_body = resp.raw_content or b""
                flow.response = self._convert_buffered(state, resp)
                state.first_chunk_at = time.monotonic()
        except Exception as exc:  # a bug must still give the client an OpenAI error
            logger.exception("chat2responses: converting the upstream answer failed")
            flow.response = error_response(ProxyError(f"chat2responses internal error: {exc}"))
        self._finish(flow, state)

    def _convert_buffered(self, state: FlowState, resp: http.Response) -> http.Response:
        body = resp.raw_content or b""
        if resp.status_code != 200:
            err = upstream_error_from_body(resp.status_code, body, dict(resp.headers))
            if err.status == 400 and err.param == "reasoning.summary":
                self._refuse_summaries()  # the next request goes without (this one is lost)
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
        self.passthrough.discard(flow.id)
        state = self.flows.pop(flow.id, None)
        if state is not None:
            self._finish(flow, state)

    def _finish(self, flow: http.HTTPFlow, state: FlowState) -> None:
        """Annotate the flow for mitmweb and the console once the call is over."""
        report = self._report(flow, state)
        flow.comment = report.details()
        flow.marked = report.mark
        flow.metadata["chat2responses"].update(
            {"summary": report.summary(), "route": report.route.value}
        )
        logger.info(report.summary())
        try:
            show_call(flow, state)
        except Exception:  # display only: never let it disturb the proxy
            logger.exception("chat2responses: preparing the flow for display failed")

    def _report(self, flow: http.HTTPFlow, state: FlowState) -> CallReport:
        now = time.monotonic()
        route = state.job.route_taken if state.job and state.job.route_taken else None
        decision = state.decision
        if route is not None and route is not decision.route:
            decision = RouteDecision(route, Reason.LEARNED, confirmed=True)
        pipeline = state.pipeline
        usage: dict[str, Any] | None = None
        error: str | None = None
        if pipeline is not None:
            usage = dict(pipeline.translator.usage) if pipeline.translator.usage else None
            error = pipeline.error.message if pipeline.error else None
        elif flow.response is not None:
            usage, error = _usage_and_error(flow.response.content or b"")
        if flow.error is not None:
            error = flow.error.msg
        match = state.translation.match
        return CallReport(
            requested=match.requested,
            sent=match.upstream_name,
            route=decision.route,
            reason=decision.reason,
            stream=state.translation.stream,
            status=flow.response.status_code if flow.response else None,
            first_chunk_ms=_ms(state.started, state.first_chunk_at),
            duration_ms=_ms(state.started, now),
            usage=usage,
            error=error,
            dropped=state.translation.dropped,
        )

    def running(self) -> None:
        self.bridge.start()

    def done(self) -> None:
        self.flows.clear()
        self.passthrough.clear()
        self.bridge.stop()


def _guarded(state: FlowState) -> Any:
    """The stream callable, guarded so that a bug becomes an error chunk, not a dead flow."""
    pipeline = state.pipeline
    assert pipeline is not None

    def stream(data: bytes) -> list[bytes]:
        try:
            out = pipeline(data)
        except Exception as exc:  # the last line of defence: the client must get an answer
            logger.exception("chat2responses: translating the upstream stream failed")
            out = pipeline.fail(ProxyError(f"chat2responses internal error: {exc}"))
        if out and state.first_chunk_at is None:
            state.first_chunk_at = time.monotonic()
        return out

    return stream


def _ms(start: float, end: float | None) -> float | None:
    return None if end is None else (end - start) * 1000


def _usage_and_error(body: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """Token usage, or the error message, of a chat.completion / error JSON body."""
    try:
        data = json.loads(body)
    except ValueError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    error = data.get("error")
    message = error.get("message") if isinstance(error, dict) else None
    usage = data.get("usage")
    return (usage if isinstance(usage, dict) else None), (
        message if isinstance(message, str) else None
    )


def _is_event_stream(headers: http.Headers) -> bool:
    content_type = str(headers.get("content-type", ""))
    return content_type.split(";", maxsplit=1)[0].strip().lower() == "text/event-stream"


def _origin(req: http.Request) -> str:
    default_port = {"http": 80, "https": 443}.get(req.scheme)
    port = "" if req.port == default_port else f":{req.port}"
    return f"{req.scheme}://{req.pretty_host}{port}"


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


# ---- display: what mitmweb shows of a rewritten call ---------------------------------------------


def show_call(flow: http.HTTPFlow, state: FlowState) -> None:
    """Leave the flow as the client saw it, and add the upstream leg as a flow of its own.

    The flow keeps the client's own chat request and the chat answer it received (for a
    streamed answer the bytes are stored for display only: the client already has them). The
    Responses request and the upstream's events go into a second flow addressed to the real
    upstream: an HTTP flow, or a WebSocket flow with its messages.
    """
    url, headers, content = state.original
    flow.request.url = url
    flow.request.headers = headers  # after the url: it restores the client's own Host header
    flow.request.raw_content = content
    pipeline = state.pipeline
    if pipeline is not None and flow.response is not None:
        flow.response.content = pipeline.client.value()
    view = ctx.master.addons.get("view") if ctx.master else None  # type: ignore[no-untyped-call]
    if view is not None:  # mitmweb and the console keep flows; mitmdump does not
        view.add([upstream_leg(flow, state)])


def upstream_leg(flow: http.HTTPFlow, state: FlowState) -> http.HTTPFlow:
    job = state.job
    route = job.route_taken if job is not None and job.route_taken else state.decision.route
    url = state.upstream_url
    parts = urlsplit(url)
    server = connection.Server(address=(parts.hostname or "", parts.port or _port(parts.scheme)))
    leg = http.HTTPFlow(flow.client_conn, server, live=False)
    headers: dict[str | bytes, str | bytes] = {"content-type": "application/json"}
    headers.update(_redacted(job.headers if job else {}))
    if route is Route.WEBSOCKET and job is not None:
        leg.request = http.Request.make("GET", url, b"", {**headers, "upgrade": "websocket"})
        leg.response = http.Response.make(101, b"", {"upgrade": "websocket"})
        frame = response_create_frame(websocket_url(url), state.translation.body)
        leg.websocket = websocket.WebSocketData(
            messages=[websocket.WebSocketMessage(Opcode.TEXT, True, frame.encode())]
            + [websocket.WebSocketMessage(Opcode.TEXT, False, f.encode()) for f in job.frames],
            closed_by_client=True,
            close_code=1000,
        )
    else:
        body = _json_bytes(state.translation.body)
        leg.request = http.Request.make("POST", url, body, headers)
        upstream = state.pipeline.upstream.value() if state.pipeline else state.upstream_body
        kind = "text/event-stream" if state.upstream_status == 200 else "application/json"
        leg.response = http.Response.make(state.upstream_status or 502, upstream[:DISPLAY_LIMIT])
        leg.response.headers["content-type"] = kind
    # The leg lasted as long as the call: mitmweb's Time column should say so.
    leg.request.timestamp_start = flow.request.timestamp_start
    leg.request.timestamp_end = flow.request.timestamp_end
    if flow.response is not None and leg.response is not None:
        leg.response.timestamp_start = flow.response.timestamp_start
        leg.response.timestamp_end = flow.response.timestamp_end or time.time()
    leg.comment = f"upstream leg of {state.translation.match.requested} ({route.value})"
    leg.marked = MARKS[route]
    return leg


def _redacted(headers: dict[str, str]) -> dict[str, str]:
    """Headers for display: credentials shown by kind only."""
    secret = {"authorization", "chatgpt-account-id", "cookie", "api-key", "x-api-key"}
    return {
        k: (v.split(" ", 1)[0] + " <redacted>" if k.lower() in secret else v)
        for k, v in headers.items()
    }


def _port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


# ---- content views: the pure renderers of views.py, as mitmproxy 12 Contentviews --------------


class ChatStreamView(contentviews.Contentview):
    """A chat-completion SSE body as a transcript: reasoning, text, tool calls, usage."""

    @property
    def name(self) -> str:
        return "Chat stream"

    def prettify(self, data: bytes, metadata: contentviews.Metadata) -> str:
        return render_chat_stream(data)

    def render_priority(self, data: bytes, metadata: contentviews.Metadata) -> float:
        return 2 if is_chat_stream(data) else -1


class ResponsesEventsView(contentviews.Contentview):
    """A Responses SSE body, or a Responses WebSocket leg, grouped by output item.

    On a WebSocket flow each message is one event: it is shown as pretty JSON, and the flow's
    terminal event shows the whole conversation's transcript.
    """

    @property
    def name(self) -> str:
        return "Responses events"

    @property
    def syntax_highlight(self) -> contentviews.SyntaxHighlight:
        return "none"

    def prettify(self, data: bytes, metadata: contentviews.Metadata) -> str:
        if metadata.websocket_message is None:
            return render_responses_events(data)
        event = _event_type(data)
        flow = metadata.flow
        if event in TERMINAL and isinstance(flow, http.HTTPFlow) and flow.websocket:
            return render_responses_events([m.content for m in flow.websocket.messages])
        try:
            return json.dumps(json.loads(data), indent=2, ensure_ascii=False)
        except (ValueError, RecursionError):
            return data.decode("utf-8", "replace")

    def render_priority(self, data: bytes, metadata: contentviews.Metadata) -> float:
        if metadata.websocket_message is not None:
            event = _event_type(data)
            return 2 if event and (event.startswith("response.") or event == "error") else -1
        return 2 if is_responses_events(data) else -1


class ChatRequestView(contentviews.Contentview):
    """A chat request summarised: model, messages by role, tools (the JSON view shows it raw)."""

    @property
    def name(self) -> str:
        return "Chat request"

    def prettify(self, data: bytes, metadata: contentviews.Metadata) -> str:
        rendered = render_chat_request(data)
        if rendered is None:
            raise ValueError("not a chat completions request")
        return rendered

    def render_priority(self, data: bytes, metadata: contentviews.Metadata) -> float:
        is_request = isinstance(metadata.http_message, http.Request)
        return 0.5 if is_request and b'"messages"' in data[:65536] else -1


def _event_type(data: bytes) -> str | None:
    try:
        event = json.loads(data)
    except ValueError:
        return None
    kind = event.get("type") if isinstance(event, dict) else None
    return kind if isinstance(kind, str) else None
