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

from chat2responses.call.job import CallJob
from chat2responses.call.memory import Memory
from chat2responses.call.plan import CallState, ClientRequest, plan_call
from chat2responses.call.record import CallRecord
from chat2responses.glue import display, egress, interception, own_endpoints, shutdown, sockets
from chat2responses.glue.callers import refuse_caller
from chat2responses.glue.catalogs import Catalogs
from chat2responses.glue.contentviews import register_views
from chat2responses.glue.flows import (
    Call,
    client_request,
    decode_off_loop,
    decodes_slowly,
    holder,
    let_go,
    original_of,
    point_at_driver,
    refuse,
)
from chat2responses.glue.insight import META, Insight
from chat2responses.glue.login import call_context, current_login
from chat2responses.glue.models import answer_models
from chat2responses.glue.ready import announce_ready
from chat2responses.glue.team import Team
from chat2responses.protocol.errors import ClientError, ProxyError
from chat2responses.settings import OPTION_NAMES, OPTIONS, RewriteMode, Settings
from chat2responses.transports.answer import Relayed
from chat2responses.transports.driver import Driver
from chat2responses.transports.login_refresh import CodexLogin
from chat2responses.transports.websocket import websocket_ssl_context
from chat2responses.upstream.catalog import Catalog
from chat2responses.upstream.models_list import models_path
from chat2responses.upstream.routing import CallKind, call_kind, is_chat_completions_path

logger = logging.getLogger(__name__)

_TLS_OPTIONS = frozenset({"ssl_insecure", "ssl_verify_upstream_trusted_ca"})
_FETCH_OPTIONS = frozenset(
    {
        "responses_auth",
        "responses_codex_auth_file",
        "responses_catalog_refresh",
        "responses_client_version",
    }
)


class Chat2Responses:
    def __init__(self) -> None:
        self.settings = Settings()
        self.catalogs = Catalogs()
        self.state = CallState()
        self.calls: dict[str, Call] = {}
        self.sockets: dict[str, sockets.SocketCall] = {}  # clients' Responses WebSockets
        self.driver = Driver()
        self.team = Team(self.state, self.driver)  # keys, health, shared state (glue/team.py)
        self.insight = Insight()  # records, conversations, metrics, the calls log, the legs
        self.ssl_context: ssl.SSLContext | None = None
        self.codex_login: CodexLogin | None = None
        self.failed_at_start = False  # a bad value it was loaded with: mitmproxy is exiting

    @property
    def catalog(self) -> Catalog:
        return self.catalogs.current()

    # ---- lifecycle -------------------------------------------------------------------------

    def load(self, loader: Any) -> None:
        for name, typespec, default, help_text, choices in OPTIONS:
            loader.add_option(name, typespec, default, help_text, choices=choices)
        register_views(self.insight)

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
        if "stream_large_bodies" in updated and ctx.options.stream_large_bodies:
            logger.warning(
                "stream_large_bodies is set: chat requests larger than %s reach the upstream "
                "before chat2responses sees them, so they cannot be rewritten",
                ctx.options.stream_large_bodies,
            )
        self.driver.egress = egress.refreshed(self.driver.egress, updated)
        if not updated & OPTION_NAMES:
            return
        settings = Settings.parse(**{name: getattr(ctx.options, name) for name in OPTION_NAMES})
        if "responses_catalog" in updated or settings.catalog_path != self.catalogs.path:
            self.catalogs.load(settings.catalog_path)
        self.team.configure(settings)  # a bad keys file: ValueError, the old settings stay
        if settings.responses_url != self.settings.responses_url:
            # What one upstream taught says nothing of another.
            self.state.memory = Memory(backing=self.team.backing)
        refetch = settings.responses_url != self.settings.responses_url or updated & _FETCH_OPTIONS
        self.insight.configure(settings)
        self.settings = settings
        if refetch and self.driver.started:
            self._start_fetcher()

    def running(self) -> None:
        gc.freeze()  # what exists now lives as long as the process: out of the collector's reach
        self.driver.start()
        self.team.running()
        self._start_fetcher()
        display.show_comment_column(ctx.options)
        if not self.failed_at_start:
            announce_ready()

    def _start_fetcher(self) -> None:
        self.catalogs.fetch(self.settings, self._login(), self.ssl_context, self.driver.egress)

    def done(self) -> Awaitable[None] | None:
        """mitmproxy awaits what this returns when it stops (glue/shutdown.py)."""
        return shutdown.stop(self)

    # ---- request ---------------------------------------------------------------------------

    def request(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        """Synchronous, but a body that decodes slowly is decoded in a thread: mitmproxy awaits
        what this returns then (glue/flows.py: decode_off_loop)."""
        if not interception.admits(flow) or own_endpoints.answer(flow, self):
            return None  # answered or gone already, or a loop (answered with a 508)
        person = self.team.admit(flow, self.settings)
        if person is None:
            return None  # no listed key: answered 401 (glue/team.py)
        if not interception.is_ours(flow, self.settings.hosts):
            return None  # another provider's call: untouched
        req = flow.request
        kind = call_kind(req.path)
        answers_models = self.settings.rewrite is RewriteMode.ALL and models_path(req.path)[0]
        if (kind is not None or answers_models) and refuse_caller(
            flow, self.settings, self.settings.hosts
        ):
            return None  # a web page's request: refused before anything else (glue/callers.py)
        if kind is None:
            if answers_models:
                answer_models(flow, self.catalogs.current())
            return None
        rewrite_all = self.settings.rewrite is RewriteMode.ALL
        if kind is CallKind.RESPONSES and rewrite_all and sockets.is_websocket_upgrade(req):
            self.sockets[flow.id] = sockets.take_over(
                flow, self.driver, self._plan, self.ended, person
            )
            return None
        if req.method != "POST":
            if self.settings.rewrite is RewriteMode.ALL:
                message = f"{req.method} is not allowed here; use POST."
                refuse(flow, ClientError(message, status=405, headers={"allow": "POST"}))
            return None
        if decodes_slowly(req):
            return self._request_decoded_off_loop(flow, kind, person)
        self._request(flow, kind, None, person)
        return None

    async def _request_decoded_off_loop(
        self, flow: http.HTTPFlow, kind: CallKind, person: str
    ) -> None:
        try:
            decoded = await decode_off_loop(flow.request)
        except ClientError as err:
            refuse(flow, err)
            return
        if flow.error is None and flow.live:
            self._request(flow, kind, decoded, person)

    def _request(
        self, flow: http.HTTPFlow, kind: CallKind, decoded: bytes | None, person: str
    ) -> None:
        try:
            call = self._rewrite(flow, kind, decoded, person)
        except ClientError as err:
            refuse(flow, err)
            return
        except Exception as exc:  # a bug must not send a half-rewritten request anywhere
            logger.exception("chat2responses: rewriting the request failed")
            refuse(flow, ProxyError(f"chat2responses internal error: {exc}"))
            return
        if call is not None:
            self.calls[flow.id] = call

    def _plan(self, request: ClientRequest) -> CallJob | None:
        """`plan_call` with what the addon knows now (a request, or a socket's frame)."""
        context = call_context(self._login(), self.ssl_context)
        return plan_call(
            request,
            settings=self.settings,
            catalog=self.catalogs.current(),
            state=self.state,
            context=context,
        )

    def _rewrite(
        self, flow: http.HTTPFlow, kind: CallKind, decoded: bytes | None, person: str
    ) -> Call | None:
        started = time.monotonic()
        job = self._plan(client_request(flow.request, kind, decoded, person))
        if job is None:
            return None  # not ours: the upstream's own endpoint serves it
        job.relayed = Relayed()
        token = self.driver.register(job, held=holder(flow), received=started)
        call = Call(token, job, started, original_of(flow))
        point_at_driver(flow, call, self.driver.port)
        if (m := job.translation.match).alias_of:
            logger.info("%s is retired; sent as %s (a catalog alias)", m.alias_of, m.upstream_name)
        return call

    def _login(self) -> CodexLogin | None:
        """With `responses_auth=codex`, the login the driver asks for headers at send time."""
        self.codex_login = current_login(
            self.settings, self.codex_login, self.driver.egress, self.ssl_context
        )
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
        elif events and is_chat_completions_path(flow.request.path):
            resp.stream = True  # a chat stream passed through untouched: byte for byte

    def response(self, flow: http.HTTPFlow) -> None:
        call = self.calls.pop(flow.id, None)
        if call is not None:
            self.driver.release(call.token)  # answered by another addon: its call is not needed
            self._end(flow, call)
        elif not flow.live and META in flow.metadata:
            self.insight.loaded(flow)  # a saved flow, loaded: its conversation is shown too

    def error(self, flow: http.HTTPFlow) -> None:
        call = self.calls.pop(flow.id, None)
        if call is not None:
            self.driver.discard(call.token)
            self._end(flow, call)
        self.websocket_end(flow)

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        socket = self.sockets.pop(flow.id, None)
        if socket is not None:
            sockets.finished(flow, socket)

    def _end(self, flow: http.HTTPFlow, call: Call) -> None:
        """Put the flow back as the client sent it; its record and comment (glue/insight.py)."""
        display.restore(call.original)
        let_go(flow, call)
        try:
            display.annotate(flow, call.job, self.ended(flow, call.job))
        except Exception:  # display only: never let it disturb the proxy
            logger.exception("chat2responses: preparing the flow for display failed")

    def ended(self, flow: http.HTTPFlow, job: CallJob, call_id: str = "") -> CallRecord:
        """A call is over (a flow's, or `call_id` on a client's socket): filed, and counted."""
        record = self.insight.ended(flow, job, self.driver.pool.open_count, call_id)
        self.team.count(job, record.status)
        return record
