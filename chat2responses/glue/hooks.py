"""The mitmproxy addon: options, hooks, and nothing the core or the driver could do instead.

It matches `POST …/chat/completions`, has the pure core parse and translate the body, registers
the call with the loopback driver and re-points the flow at it; the driver answers in the
client's format and mitmproxy relays the bytes. When the flow ends (answered, failed, or the
proxy stopping) it is put back as the client sent it and annotated (display.py).

Rule 1: nothing the addon adds to a flow is a credential: the login's headers are fetched by the
        driver at send time, and the client's own headers never leave the client's flow.
Rule 2: an error of any kind reaches the client as an OpenAI error body (before the first byte)
        or one error chunk (after it) — never as a traceback, an HTML page or a hung stream.
Rule 3: hooks return early for flows that are not theirs; lifecycle hooks stay synchronous (a
        removed script's `done` is called synchronously), but `done` may return what mitmproxy
        awaits when it stops (glue/shutdown.py).
"""

from __future__ import annotations

import gc
import logging
import ssl
import time
from collections.abc import Awaitable
from typing import Any

from mitmproxy import ctx, exceptions, http

from chat2responses.call.conversation import ConversationStore
from chat2responses.call.job import CallJob
from chat2responses.call.memory import Memory
from chat2responses.call.policy import Route, asks_summaries
from chat2responses.call.replay import ReasoningCache
from chat2responses.glue import display, shutdown
from chat2responses.glue.calls import (
    Call,
    CallKind,
    answer_models,
    call_kind,
    conversation_for,
    current_login,
    decoded_body,
    point_at_driver,
    quota_tap,
    refuse,
    sink_factory,
    upstream_url,
    warn_if_bodies_stream,
)
from chat2responses.glue.catalogs import Catalogs
from chat2responses.glue.contentviews import register_views
from chat2responses.glue.ready import announce_ready
from chat2responses.protocol.body import parse_json_body
from chat2responses.protocol.errors import ClientError, ProxyError
from chat2responses.protocol.wire import ReasoningMode
from chat2responses.request.client_headers import account_of, client_headers
from chat2responses.request.translate import translate_request
from chat2responses.settings import OPTION_NAMES, OPTIONS, AuthMode, RewriteMode, Settings
from chat2responses.transports.answer import Relayed
from chat2responses.transports.driver import Driver
from chat2responses.transports.login_refresh import CodexLogin
from chat2responses.transports.websocket import websocket_ssl_context
from chat2responses.upstream import routing
from chat2responses.upstream.catalog import Catalog
from chat2responses.upstream.profiles import profile_for_url
from chat2responses.upstream.quota import QuotaBook

logger = logging.getLogger(__name__)

_TLS_OPTIONS = frozenset({"ssl_insecure", "ssl_verify_upstream_trusted_ca"})
_FETCH_OPTIONS = frozenset(
    {"responses_auth", "responses_codex_auth_file", "responses_catalog_refresh"}
)


class Chat2Responses:
    def __init__(self) -> None:
        self.settings = Settings()
        self.catalogs = Catalogs()
        self.memory = Memory()
        self.calls: dict[str, Call] = {}
        self.driver = Driver()
        self.ssl_context: ssl.SSLContext | None = None
        self.codex_login: CodexLogin | None = None
        self.quota = QuotaBook()
        self.conversations = ConversationStore()
        self.reasoning = ReasoningCache()
        self.failed_at_start = False  # a bad value it was loaded with: mitmproxy is exiting

    @property
    def catalog(self) -> Catalog:
        return self.catalogs.current()

    # ---- lifecycle -------------------------------------------------------------------------

    def load(self, loader: Any) -> None:
        for name, typespec, default, help_text, choices in OPTIONS:
            loader.add_option(name, typespec, default, help_text, choices=choices)
        register_views()

    def configure(self, updated: set[str]) -> None:
        try:
            self._configure(updated)
        except ValueError as exc:
            # A change (or every option once running): refused, and the old value stays.
            if self.driver.started or not updated >= OPTION_NAMES:
                raise exceptions.OptionsError(str(exc)) from None  # type: ignore[no-untyped-call]
            # Every option before running: the values a script loads with. One error line, on
            # which mitmproxy exits at start, instead of the traceback it prints for a script.
            logger.error("chat2responses: %s", exc)
            self.failed_at_start = True

    def _configure(self, updated: set[str]) -> None:
        if updated & _TLS_OPTIONS or self.ssl_context is None:
            self.ssl_context = websocket_ssl_context(
                bool(ctx.options.ssl_insecure), ctx.options.ssl_verify_upstream_trusted_ca
            )
        if "stream_large_bodies" in updated:
            warn_if_bodies_stream(ctx.options.stream_large_bodies)
        if not updated & OPTION_NAMES:
            return
        settings = Settings.parse(**{name: getattr(ctx.options, name) for name in OPTION_NAMES})
        if "responses_catalog" in updated or settings.catalog_path != self.catalogs.path:
            self.catalogs.load(settings.catalog_path)
        if settings.responses_url != self.settings.responses_url:
            self.memory = Memory()  # what one upstream taught says nothing of another
        refetch = settings.responses_url != self.settings.responses_url or updated & _FETCH_OPTIONS
        self.settings = settings
        if refetch and self.driver.started:
            self._start_fetcher()

    def running(self) -> None:
        gc.freeze()  # what exists now lives as long as the process: out of the collector's reach
        self.driver.start()
        self._start_fetcher()
        if not self.failed_at_start:
            announce_ready()

    def _start_fetcher(self) -> None:
        self.catalogs.fetch(self.settings, self._login(), self.ssl_context)

    def done(self) -> Awaitable[None] | None:
        """mitmproxy awaits what this returns when it stops (glue/shutdown.py)."""
        return shutdown.stop(self)

    # ---- request ---------------------------------------------------------------------------

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error or not flow.live:
            return
        req = flow.request
        kind = call_kind(req.path)
        if kind is None:
            if self.settings.rewrite is RewriteMode.ALL:
                answer_models(flow, self.catalogs.current())
            return
        if req.method != "POST":
            if self.settings.rewrite is RewriteMode.ALL:
                message = f"{req.method} is not allowed here; use POST."
                refuse(flow, ClientError(message, status=405, headers={"allow": "POST"}))
            return
        try:
            call = self._rewrite(flow, kind)
        except ClientError as err:
            refuse(flow, err)
            return
        except Exception as exc:  # a bug must not send a half-rewritten request anywhere
            logger.exception("chat2responses: rewriting the request failed")
            refuse(flow, ProxyError(f"chat2responses internal error: {exc}"))
            return
        if call is not None:
            self.calls[flow.id] = call

    def _rewrite(self, flow: http.HTTPFlow, kind: CallKind) -> Call | None:
        req = flow.request
        rewrite_all = self.settings.rewrite is RewriteMode.ALL
        try:
            body = parse_json_body(decoded_body(req))
        except ClientError:
            if rewrite_all:
                raise
            return None  # not ours to judge: the upstream's own chat endpoint answers it
        model = body.get("model")
        catalog = self.catalogs.current()
        match = catalog.match(model) if isinstance(model, str) else None
        url = upstream_url(self.settings.responses_url, req)
        profile = profile_for_url(url)
        chat = kind is CallKind.CHAT
        if not rewrite_all and not routing.ours_under_catalog(match, profile, chat=chat):
            return None  # the upstream's own endpoint serves it
        upstream = routing.redacted_url(url)
        summaries = self.settings.reasoning is not ReasoningMode.NONE and (
            match is None or self.memory.summaries_allowed(upstream, match)
        )
        translation = translate_request(
            body, catalog=catalog, profile=profile, summaries=summaries, responses_api=not chat
        )
        plan = self.memory.plan(
            self.settings.transport,
            upstream,
            translation.match,
            summaries=asks_summaries(translation.body),
            login=self.settings.auth is AuthMode.CODEX,
            retries=self.settings.retries,
        )
        login = self._login()
        headers = client_headers(req.headers.fields, self.settings.auth)
        credential = account_of(headers, login)
        body, turn, session = conversation_for(
            translation.body,
            upstream=upstream,
            credential=credential,
            profile=profile,
            store=self.conversations if self.settings.continuation else None,
            cache=self.reasoning,
            websocket=plan.route is Route.WEBSOCKET,
        )
        job = CallJob(
            http_url=url,
            ws_url=routing.websocket_url(url),
            body=body,
            headers=headers,
            profile=profile,
            http_headers=translation.http_headers,
            ws_extra=translation.ws_extra,
            plan=plan,
            memory=self.memory,
            upstream=upstream,
            match=translation.match,
            make_sink=sink_factory(kind, translation, self.settings.reasoning),
            idle_timeout=float(self.settings.idle_timeout),
            keepalive=float(self.settings.keepalive),
            ssl=self.ssl_context,
            login=login,
            quota=quota_tap(self.quota, credential),
            turn=turn,
            session_headers=session,
            relayed=Relayed(),
        )
        call = Call(
            token=self.driver.register(job),
            job=job,
            translation=translation,
            upstream_url=url,
            started=time.monotonic(),
            original=display.Original.of(flow),
        )
        point_at_driver(flow, call, self.driver.port)
        if translation.match.alias_of:
            logger.info(
                "%s is retired; sent as %s (a catalog alias)",
                translation.match.alias_of,
                translation.match.upstream_name,
            )
        return call

    def _login(self) -> CodexLogin | None:
        """With `responses_auth=codex`, the login the driver asks for headers at send time."""
        self.codex_login = current_login(self.settings, self.codex_login)
        return self.codex_login

    # ---- response --------------------------------------------------------------------------

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        resp = flow.response
        if resp is None:
            return
        call, events = self.calls.get(flow.id), display.is_event_stream(resp.headers)
        if call is not None:
            if events:
                resp.stream = call.relay  # the driver shaped it: relay as it comes
        elif events and routing.is_chat_completions_path(flow.request.path):
            resp.stream = True  # a chat stream passed through untouched: byte for byte

    def response(self, flow: http.HTTPFlow) -> None:
        call = self.calls.pop(flow.id, None)
        if call is not None:
            self.driver.release(call.token)  # answered by another addon: its call is not needed
            self._end(flow, call)

    def error(self, flow: http.HTTPFlow) -> None:
        call = self.calls.pop(flow.id, None)
        if call is not None:
            self.driver.discard(call.token)
            self._end(flow, call)

    def _end(self, flow: http.HTTPFlow, call: Call) -> None:
        """Put the flow back as the client sent it, and annotate it for mitmweb and the console."""
        display.restore(call.original)
        try:
            report = display.report(flow, call.job, call.translation, call.started)
            flow.comment = report.details()
            flow.marked = report.mark
            flow.metadata["chat2responses"].update(
                {"summary": report.summary(), "route": report.route.value}
            )
            logger.info(report.summary())
            display.show(flow, call.job, call.translation, call.upstream_url)
        except Exception:  # display only: never let it disturb the proxy
            logger.exception("chat2responses: preparing the flow for display failed")
