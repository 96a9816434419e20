"""Building a rewritten call from a flow: the pieces the request hook puts together.

`Call` is what the addon keeps per rewritten flow; the functions here read the client's request
(its decoded body, its origin, the headers that may go on) and make the call's sink factory.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from mitmproxy import connection, http

from chat2responses.call.conversation import ConversationStore, conversation_key
from chat2responses.call.job import CallJob
from chat2responses.call.replay import ReasoningCache
from chat2responses.call.turn import Turn, instructions_as_input
from chat2responses.glue import display
from chat2responses.protocol.body import MAX_BODY_BYTES
from chat2responses.protocol.content_coding import decode_content
from chat2responses.protocol.errors import ClientError, ProxyError, error_body
from chat2responses.protocol.wire import ReasoningMode
from chat2responses.request.translate import Translation
from chat2responses.response.chat_sinks import ChatJsonSink, ChatStreamSink, Sink
from chat2responses.response.responses_sinks import ResponsesJsonSink, ResponsesStreamSink
from chat2responses.settings import AuthMode, Settings
from chat2responses.transports.catalog_fetch import CatalogFetcher
from chat2responses.transports.driver import PATH_PREFIX
from chat2responses.transports.login_refresh import CodexLogin, close_soon
from chat2responses.upstream.catalog import LIVE_NAME, Catalog, CatalogError, embedded_catalog
from chat2responses.upstream.models_list import model_list, models_path, one_model
from chat2responses.upstream.profiles import CODEX, UpstreamProfile, profile_for_url
from chat2responses.upstream.quota import QuotaBook
from chat2responses.upstream.quota_tap import QuotaTap
from chat2responses.upstream.routing import (
    is_chat_completions_path,
    is_responses_path,
    redacted_url,
    responses_url_for,
)

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Call:
    """What the addon keeps about one rewritten flow, from request to end."""

    token: str
    job: CallJob
    translation: Translation
    upstream_url: str
    started: float
    original: display.Original

    def relay(self, data: bytes) -> bytes:
        """mitmproxy's stream callable: the bytes pass as they are; the first tell the call."""
        relayed = self.job.relayed
        if relayed is not None and not relayed.is_set():
            relayed.set()
        return data


def load_catalog(path: str, live: bytes | None = None) -> Catalog:
    """embedded < live (the upstream's own /models answer) < the responses_catalog file. A live
    answer that cannot be read is left out (and said so); a bad file is a ValueError."""
    user, name = None, "responses_catalog"
    if path:
        file = Path(path).expanduser()
        try:
            user, name = file.read_bytes(), str(file)
        except OSError as exc:
            raise ValueError(f"responses_catalog: cannot read {file}: {exc.strerror}") from None
    if live is not None:
        try:
            return Catalog.layered(embedded_catalog(), live, user, user_name=name)
        except CatalogError as exc:
            if not str(exc).startswith(LIVE_NAME):
                raise
            logger.warning("the upstream's model catalog is left out: %s", exc)
    return Catalog.layered(embedded_catalog(), None, user, user_name=name)


def catalog_fetcher(settings: Settings, login: CodexLogin | None, ssl: Any) -> Any:
    """A fetcher of the upstream's own catalog, when the upstream publishes one (the Codex
    backend and the emulator do) and responses_catalog_refresh allows it."""
    url = settings.responses_url
    if not url or settings.catalog_refresh <= 0 or profile_for_url(url) is not CODEX:
        return None
    headers = login.headers if login is not None else None
    return CatalogFetcher(url, interval=settings.catalog_refresh, headers=headers, ssl=ssl)


class CallKind(StrEnum):
    CHAT = "chat"  # POST …/chat/completions: translated both ways
    RESPONSES = "responses"  # POST …/responses from a Responses client: answered as Responses


def call_kind(path: str) -> CallKind | None:
    if is_chat_completions_path(path):
        return CallKind.CHAT
    if is_responses_path(path):
        return CallKind.RESPONSES
    return None


def answer_models(flow: http.HTTPFlow, catalog: Catalog) -> None:
    """`GET …/v1/models[/{id}]`, answered from the catalog in use (responses_rewrite=all); any
    other method there is a 405, as on the paths the addon rewrites."""
    is_models, model_id = models_path(flow.request.path)
    if not is_models:
        return
    if flow.request.method != "GET":
        message = f"{flow.request.method} is not allowed here; use GET."
        refuse(flow, ClientError(message, status=405, headers={"allow": "GET"}))
        return
    try:
        body = model_list(catalog) if model_id is None else one_model(catalog, unquote(model_id))
    except ClientError as err:
        refuse(flow, err)
        return
    flow.response = http.Response.make(200, body, {"content-type": "application/json"})
    flow.comment = "chat2responses answered it from the model catalog"


def sink_factory(kind: CallKind, translation: Translation, reasoning: ReasoningMode) -> Any:
    context = translation.chunk_context(
        chunk_id="chatcmpl-" + secrets.token_hex(12),
        created=int(time.time()),
        reasoning=reasoning,
    )

    def make() -> Sink:
        if kind is CallKind.RESPONSES:
            return ResponsesStreamSink() if translation.stream else ResponsesJsonSink()
        if translation.stream:
            return ChatStreamSink(context, include_usage=translation.include_usage)
        return ChatJsonSink(context)

    return make


def decoded_body(req: http.Request) -> bytes | None:
    """The body with its content-encoding undone (gzip, deflate, br, zstd), never past
    MAX_BODY_BYTES (protocol/content_coding.py)."""
    if req.raw_content is None:
        return None
    return decode_content(req.raw_content, req.headers.get("content-encoding", ""), MAX_BODY_BYTES)


def upstream_url(responses_url: str, req: http.Request) -> str:
    """Where `req` goes: `responses_url`'s endpoint when it is set (the request's origin is not
    even read), else the request's own origin and path (routing.responses_url_for)."""
    origin = "" if responses_url else origin_of(req)
    return responses_url_for(responses_url, origin, req.path)


def origin_of(req: http.Request) -> str:
    default_port = {"http": 80, "https": 443}.get(req.scheme)
    port = "" if req.port == default_port else f":{req.port}"
    return f"{req.scheme}://{req.pretty_host}{port}"


def quota_tap(book: QuotaBook, account: str) -> QuotaTap:
    return QuotaTap(book, account, clock=lambda: datetime.now(UTC))


def current_login(settings: Settings, login: CodexLogin | None) -> CodexLogin | None:
    """The login `settings` ask for (responses_auth=codex), reusing `login` when it is the same
    file and token endpoint, closing it when it is not."""
    if settings.auth is not AuthMode.CODEX:
        return None
    wanted = Path(settings.codex_auth_file).expanduser()
    if login is not None and login.path == wanted and login.refresh_url == settings.refresh_url:
        return login
    if login is not None:
        close_soon(login)
    return CodexLogin(settings.codex_auth_file, settings.refresh_url)


def refuse(flow: http.HTTPFlow, err: ProxyError) -> None:
    """Answer `flow` with `err` at once (nothing goes upstream), and say so in mitmweb."""
    if err.status < 500:
        logger.info("request refused (%d): %s", err.status, err.message)
    flow.response = http.Response.make(
        err.status, error_body(err), {"content-type": "application/json", **err.headers}
    )
    flow.comment = f"chat2responses refused it: {err.message}"
    flow.marked = ":no_entry:"


# Request headers that describe the client's body: the driver's request has none.
_BODY_HEADERS = frozenset({b"content-length", b"content-encoding", b"transfer-encoding"})


def point_at_driver(flow: http.HTTPFlow, call: Call, port: int) -> None:
    """Send the flow to the loopback driver, which holds the whole call (the body is not
    needed there: it is put back, as the client sent it, when the flow ends). The Host header
    and the authority stay the client's, so mitmweb shows the host the client asked for."""
    data = flow.request.data
    data.scheme, data.host, data.port = b"http", "127.0.0.1", port
    data.path = (PATH_PREFIX + call.token).encode()
    fields = data.headers.fields
    data.headers.fields = (
        *(field for field in fields if field[0].lower() not in _BODY_HEADERS),
        (b"content-length", b"0"),
    )
    data.content = b""
    # Straight to the driver, never through an upstream proxy (`--mode upstream`).
    if flow.server_conn.via is not None:
        flow.server_conn = connection.Server(address=("127.0.0.1", port))
    flow.metadata["chat2responses"] = {
        "model": call.translation.model,
        "route": call.job.plan.route.value,
        "reason": call.job.plan.reason.value,
        "upstream_url": redacted_url(call.upstream_url),
        "dropped": list(call.translation.dropped),
    }


def conversation_for(
    body: dict[str, Any],
    *,
    upstream: str,
    credential: str,
    profile: UpstreamProfile,
    store: ConversationStore | None,
    cache: ReasoningCache,
    websocket: bool,
) -> tuple[dict[str, Any], Turn, dict[str, str]]:
    """The body to send (with the conversation's `prompt_cache_key` when the client sent none),
    the call's `Turn`, and the session header that names the conversation on the Codex backend.
    A conversation that may continue (the WebSocket route, continuation on) carries its
    instructions as input (turn.py rule 4)."""
    key = conversation_key(body, upstream=upstream, credential=credential)
    if store is not None and websocket:
        body = instructions_as_input(
            body, role=profile.system_role_as, keep_field=profile.requires_instructions
        )
    if "prompt_cache_key" not in body:
        body = {**body, "prompt_cache_key": key}
    turn = Turn(key=key, upstream=upstream, credential=credential, store=store, cache=cache)
    return body, turn, ({"session_id": key} if profile is CODEX else {})


def warn_if_bodies_stream(stream_large_bodies: str | None) -> None:
    """mitmproxy streams request bodies over this size to the upstream as they come: such a chat
    request is never seen whole, so it cannot be rewritten. Said once, when the option is set."""
    if stream_large_bodies:
        logger.warning(
            "stream_large_bodies is set: chat requests larger than %s reach the upstream "
            "before chat2responses sees them, so they cannot be rewritten",
            stream_large_bodies,
        )
