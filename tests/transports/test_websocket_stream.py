"""The Responses WebSocket client against small scripted websockets servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from chat2responses.protocol.errors import HandshakeRefused, UpstreamError, UpstreamProtocolError
from chat2responses.transports.websocket import open_response_stream, websocket_ssl_context

PATH = "/backend-api/codex/responses"
SECRET = "sk-test-secret-token"
HEADERS = {
    "Authorization": f"Bearer {SECRET}",
    "chatgpt-account-id": "acct-123",
    "OpenAI-Beta": "responses_websockets=2026-02-06",
    "originator": "codex_cli_rs",
    "session_id": "sess-1",
}
BODY: dict[str, Any] = {
    "model": "gpt-5.5",
    "instructions": "",
    "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
    "store": False,
    "stream": True,
}
FRAME = json.dumps({"type": "response.create", **BODY})


def event(kind: str, **fields: Any) -> str:
    return json.dumps({"type": kind, **fields})


CREATED = event("response.created", response={"id": "resp_1", "status": "in_progress"})
DELTA = event("response.output_text.delta", item_id="msg_1", output_index=0, delta="Hel")
DELTA2 = event("response.output_text.delta", item_id="msg_1", output_index=0, delta="lo")
COMPLETED = event("response.completed", response={"id": "resp_1", "status": "completed"})
ERROR_FRAME = event(
    "error",
    status=400,
    error={
        "type": "invalid_request_error",
        "code": "previous_response_not_found",
        "message": "Previous response with id 'resp_0' not found.",
        "param": "previous_response_id",
    },
)

Behaviour = Callable[[ServerConnection], Awaitable[None]]
ProcessRequest = Callable[[ServerConnection, Request], Response | None]

# The test server's own logger stays above DEBUG: websockets would log the handshake headers.
_server_logger = logging.getLogger("tests.websocket_server")
_server_logger.setLevel(logging.INFO)


@dataclass
class Upstream:
    url: str
    frames: list[str] = field(default_factory=list)
    headers: list[Headers] = field(default_factory=list)
    close_codes: list[int | None] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)


@asynccontextmanager
async def upstream(
    behaviour: Behaviour | None = None,
    *,
    process_request: ProcessRequest | None = None,
    tls: ssl.SSLContext | None = None,
) -> AsyncIterator[Upstream]:
    """A server that records the handshake and the first frame, then runs `behaviour`."""
    state = Upstream(url="")

    async def handler(ws: ServerConnection) -> None:
        state.headers.append(ws.request.headers if ws.request else Headers())
        try:
            message = await ws.recv()
            state.frames.append(message if isinstance(message, str) else message.decode())
            if behaviour is not None:
                await behaviour(ws)
            await ws.wait_closed()
        finally:
            state.close_codes.append(ws.close_code)
            state.closed.set()

    async with serve(
        handler,
        "127.0.0.1",
        0,
        process_request=process_request,
        ssl=tls,
        logger=_server_logger,
        close_timeout=1,
    ) as server:
        port = server.sockets[0].getsockname()[1]
        state.url = f"{'wss' if tls else 'ws'}://127.0.0.1:{port}{PATH}"
        yield state


def sends(*frames: str | bytes) -> Behaviour:
    async def behaviour(ws: ServerConnection) -> None:
        for frame in frames:
            await ws.send(frame)

    return behaviour


async def collect(url: str, headers: dict[str, str] = HEADERS, **kwargs: Any) -> list[str]:
    async with open_response_stream(url, headers=headers, frame=FRAME, **kwargs) as events:
        return [text async for text in events]


# ---- a whole response -------------------------------------------------------------------------


async def test_sends_one_frame_with_headers_and_yields_events_until_completed() -> None:
    async with upstream(sends(CREATED, DELTA, DELTA2, COMPLETED, DELTA)) as up:
        texts = await collect(up.url)
        await asyncio.wait_for(up.closed.wait(), 1)
    assert texts == [CREATED, DELTA, DELTA2, COMPLETED]
    assert [json.loads(frame) for frame in up.frames] == [{"type": "response.create", **BODY}]
    (headers,) = up.headers
    for name, value in HEADERS.items():
        assert headers.get_all(name) == [value]
    assert headers.get_all("User-Agent") == ["chat2responses"]
    assert up.close_codes == [1000]


async def test_each_text_comes_with_its_event_parsed_once() -> None:
    async with (
        upstream(sends(CREATED, DELTA, COMPLETED)) as up,
        open_response_stream(up.url, headers=HEADERS, frame=FRAME) as events,
    ):
        pairs = [(text, events.event) async for text in events]
    assert pairs == [(text, json.loads(text)) for text in (CREATED, DELTA, COMPLETED)]


async def test_a_client_user_agent_replaces_ours() -> None:
    headers = {**HEADERS, "User-Agent": "codex-tui/0.146.0"}
    async with upstream(sends(COMPLETED)) as up:
        assert await collect(up.url, headers=headers) == [COMPLETED]
    assert up.headers[0].get_all("User-Agent") == ["codex-tui/0.146.0"]


@pytest.mark.parametrize(
    "terminal",
    [
        event("response.incomplete", response={"id": "r", "status": "incomplete"}),
        event("response.failed", response={"id": "r", "status": "failed"}),
        event("response.done", response={"id": "r", "status": "completed"}),
    ],
)
async def test_every_terminal_event_ends_the_stream(terminal: str) -> None:
    async with upstream(sends(CREATED, terminal, DELTA)) as up:
        assert await collect(up.url) == [CREATED, terminal]


async def test_an_error_frame_is_yielded_and_ends_the_stream() -> None:
    async with upstream(sends(ERROR_FRAME, DELTA, COMPLETED)) as up:
        assert await collect(up.url) == [ERROR_FRAME]


async def test_server_pings_are_answered_and_the_stream_survives() -> None:
    pongs: list[float] = []

    async def ping_between_events(ws: ServerConnection) -> None:
        await ws.send(CREATED)
        for _ in range(3):
            pongs.append(await asyncio.wait_for(await ws.ping(), 1))
        await ws.send(COMPLETED)

    async with upstream(ping_between_events) as up:
        assert await collect(up.url) == [CREATED, COMPLETED]
    assert len(pongs) == 3


# ---- broken streams ---------------------------------------------------------------------------


async def test_close_mid_stream_is_a_protocol_error_naming_the_close() -> None:
    async def close_early(ws: ServerConnection) -> None:
        await ws.send(CREATED)
        await ws.close(1011, "boom")

    seen: list[str] = []
    async with upstream(close_early) as up:
        with pytest.raises(UpstreamProtocolError) as info:
            async with open_response_stream(up.url, headers=HEADERS, frame=FRAME) as events:
                async for text in events:
                    seen.append(text)
    assert seen == [CREATED]
    assert info.value.status == 502
    assert "before response.completed" in info.value.message
    assert "1011" in info.value.message and "boom" in info.value.message


async def test_a_binary_frame_is_a_protocol_error() -> None:
    async with upstream(sends(CREATED, b"\x00\x01")) as up:
        with pytest.raises(UpstreamProtocolError) as info:
            await collect(up.url)
    assert "binary" in info.value.message


async def test_a_frame_that_is_not_an_event_is_a_protocol_error() -> None:
    async with upstream(sends("not json")) as up:
        with pytest.raises(UpstreamProtocolError):
            await collect(up.url)


async def test_silence_in_the_middle_of_a_fragmented_message_is_a_504() -> None:
    release = asyncio.Event()

    async def half_a_message(ws: ServerConnection) -> None:
        async def fragments() -> AsyncIterator[str]:
            yield CREATED[:10]
            await release.wait()  # the rest comes only after the test
            yield CREATED[10:]

        await ws.send(CREATED)
        await ws.send(fragments())

    async with upstream(half_a_message) as up:
        try:
            with pytest.raises(UpstreamError) as info:
                await asyncio.wait_for(collect(up.url, idle_timeout=0.3), 5)
        finally:
            release.set()
    assert info.value.status == 504
    assert "stalled" in info.value.message


async def test_silence_past_the_idle_timeout_is_a_504() -> None:
    async with upstream(sends(CREATED)) as up:
        with pytest.raises(UpstreamError) as info:
            await collect(up.url, idle_timeout=0.2)
        await asyncio.wait_for(up.closed.wait(), 1)
    assert type(info.value) is UpstreamError
    assert info.value.status == 504
    assert "stalled" in info.value.message
    assert up.close_codes == [1001]


# ---- refused handshakes and unreachable upstreams ---------------------------------------------


def refuse(status: int, reason: str, body: dict[str, Any], **headers: str) -> ProcessRequest:
    payload = json.dumps(body).encode()

    def process_request(_conn: ServerConnection, _request: Request) -> Response:
        fields = {"Content-Type": "application/json", "Content-Length": str(len(payload))}
        return Response(status, reason, Headers({**fields, **headers}), payload)

    return process_request


async def test_a_426_is_handshake_refused_with_the_upstream_message() -> None:
    refusal = refuse(426, "Upgrade Required", {"detail": "WebSocket is not enabled here"})
    async with upstream(process_request=refusal) as up:
        with pytest.raises(HandshakeRefused) as info:
            await collect(up.url)
    assert info.value.status == 426
    assert info.value.message == "WebSocket is not enabled here"
    assert up.frames == []


async def test_a_401_keeps_the_openai_error_fields() -> None:
    body = {
        "error": {
            "message": "Incorrect API key provided.",
            "type": "invalid_request_error",
            "code": "invalid_api_key",
            "param": None,
        }
    }
    refusal = refuse(401, "Unauthorized", body, **{"x-request-id": "req_1"})
    async with upstream(process_request=refusal) as up:
        with pytest.raises(HandshakeRefused) as info:
            await collect(up.url)
    err = info.value
    assert isinstance(err, UpstreamError)
    assert (err.status, err.type, err.code) == (401, "invalid_request_error", "invalid_api_key")
    assert err.message == "Incorrect API key provided."
    assert err.headers == {"x-request-id": "req_1"}


async def test_a_refused_connection_is_a_502_without_credentials_in_the_message() -> None:
    listener = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    listener.close()
    await listener.wait_closed()
    url = f"ws://user:{SECRET}@127.0.0.1:{port}{PATH}?key={SECRET}"
    with pytest.raises(UpstreamError) as info:
        await collect(url)
    assert type(info.value) is UpstreamError
    assert (info.value.status, info.value.code) == (502, "upstream_unreachable")  # as over HTTP
    assert info.value.message.startswith(f"cannot reach upstream ws://127.0.0.1:{port}{PATH}: ")
    assert SECRET not in info.value.message


async def test_a_silent_handshake_is_a_504() -> None:
    writers: list[asyncio.StreamWriter] = []
    listener = await asyncio.start_server(lambda r, w: writers.append(w), "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        with pytest.raises(UpstreamError) as info:
            await collect(f"ws://127.0.0.1:{port}{PATH}", connect_timeout=0.2)
    finally:
        for writer in writers:
            writer.close()
        listener.close()
        await listener.wait_closed()
    assert info.value.status == 504
    assert "connecting to" in info.value.message


# ---- leaving early ----------------------------------------------------------------------------


async def test_cancelling_the_consumer_closes_the_upstream_within_a_second() -> None:
    first = asyncio.Event()

    async def consume(url: str) -> None:
        async with open_response_stream(url, headers=HEADERS, frame=FRAME) as events:
            async for _ in events:
                first.set()

    async with upstream(sends(CREATED)) as up:
        task = asyncio.create_task(consume(up.url))
        await asyncio.wait_for(first.wait(), 1)
        task.cancel()
        async with asyncio.timeout(1):
            await up.closed.wait()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert up.close_codes == [1001]


async def test_breaking_out_early_closes_the_upstream() -> None:
    async with upstream(sends(CREATED, DELTA)) as up:
        async with open_response_stream(up.url, headers=HEADERS, frame=FRAME) as events:
            async for _ in events:
                break
        async with asyncio.timeout(1):
            await up.closed.wait()
    assert up.close_codes == [1001]


async def test_closing_does_not_hang_on_an_upstream_that_stops_reading() -> None:
    deaf: list[ServerConnection] = []

    async def stop_reading(ws: ServerConnection) -> None:
        ws.transport.pause_reading()
        deaf.append(ws)
        await ws.send(CREATED)

    async with upstream(stop_reading) as up:
        loop = asyncio.get_running_loop()
        async with open_response_stream(up.url, headers=HEADERS, frame=FRAME) as events:
            assert await anext(events) == CREATED
            started = loop.time()
        assert loop.time() - started < 1
        # The server only notices once it reads again: what it finds is a socket already gone.
        deaf[0].transport.resume_reading()
        async with asyncio.timeout(1):
            await up.closed.wait()


async def test_a_second_cancel_while_closing_still_drops_the_socket() -> None:
    deaf: list[ServerConnection] = []
    first = asyncio.Event()

    async def stop_reading(ws: ServerConnection) -> None:
        ws.transport.pause_reading()
        deaf.append(ws)
        await ws.send(CREATED)

    async def consume(url: str) -> None:
        async with open_response_stream(url, headers=HEADERS, frame=FRAME) as events:
            async for _ in events:
                first.set()

    async with upstream(stop_reading) as up:
        task = asyncio.create_task(consume(up.url))
        await asyncio.wait_for(first.wait(), 1)
        task.cancel()
        await asyncio.sleep(0.05)
        task.cancel()
        async with asyncio.timeout(0.3):
            with pytest.raises(asyncio.CancelledError):
                await task
        deaf[0].transport.resume_reading()
        async with asyncio.timeout(1):
            await up.closed.wait()


# ---- TLS --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca_file: Path
    server: ssl.SSLContext


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A throwaway CA and a 127.0.0.1 server certificate it signed."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "chat2responses test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("pki")
    ca_file = folder / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    chain = folder / "server.pem"
    chain.write_bytes(
        leaf.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(chain)
    return Pki(ca_file=ca_file, server=server)


async def test_wss_with_the_default_context_refuses_an_unknown_ca(pki: Pki) -> None:
    async with upstream(sends(COMPLETED), tls=pki.server) as up:
        with pytest.raises(UpstreamError) as info:
            await collect(up.url)
    assert info.value.status == 502
    assert "TLS failure" in info.value.message


@pytest.mark.parametrize("trusted", ["ca", "insecure"])
async def test_wss_with_a_trusted_ca_or_insecure_connects(pki: Pki, trusted: str) -> None:
    if trusted == "ca":
        context = websocket_ssl_context(False, str(pki.ca_file))
    else:
        context = websocket_ssl_context(True, None)
    async with upstream(sends(CREATED, COMPLETED), tls=pki.server) as up:
        assert await collect(up.url, ssl=context) == [CREATED, COMPLETED]


def test_ssl_context_defaults_to_verifying() -> None:
    context = websocket_ssl_context(False, None)
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname


@pytest.mark.parametrize("content", [None, b"", b"not a certificate"])
def test_an_unreadable_trusted_ca_is_a_value_error(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "ca.pem"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ValueError, match="trusted CA file"):
        websocket_ssl_context(False, str(path))


async def test_a_ssl_context_is_ignored_for_plain_ws() -> None:
    async with upstream(sends(COMPLETED)) as up:
        assert await collect(up.url, ssl=websocket_ssl_context(True, None)) == [COMPLETED]


# ---- logging ----------------------------------------------------------------------------------


async def test_debug_logs_name_the_url_and_never_the_credentials(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with upstream(sends(CREATED, COMPLETED)) as up:
        await collect(up.url)
    messages = [record.getMessage() for record in caplog.records]
    assert any(up.url in message for message in messages)
    assert not any(SECRET in message or "acct-123" in message for message in messages)


async def test_a_frame_with_newlines_is_one_whole_event() -> None:
    pretty = json.dumps(json.loads(DELTA), indent=2)
    async with (
        upstream(sends(pretty, COMPLETED)) as up,
        open_response_stream(up.url, headers=HEADERS, frame=FRAME) as events,
    ):
        parsed = [events.event async for _ in events]
    assert parsed == [json.loads(DELTA), json.loads(COMPLETED)]


# ---- redirects ----------------------------------------------------------------------------------


def redirect_to(location: Callable[[], str], status: int = 307) -> ProcessRequest:
    def process_request(_conn: ServerConnection, request: Request) -> Response | None:
        if request.path != PATH:
            return None  # where a same-origin redirect points: served
        return Response(
            status, "Redirect", Headers({"Location": location(), "Content-Length": "0"})
        )

    return process_request


async def test_a_same_origin_redirect_is_followed_with_the_same_headers() -> None:
    async with upstream(
        sends(CREATED, COMPLETED), process_request=redirect_to(lambda: "/moved/responses")
    ) as up:
        texts = await collect(up.url)
    assert [json.loads(t)["type"] for t in texts] == ["response.created", "response.completed"]
    assert up.headers[0]["chatgpt-account-id"] == "acct-123"
    assert up.headers[0]["Authorization"] == f"Bearer {SECRET}"


async def test_a_redirect_to_another_origin_is_a_502_and_nothing_goes_there() -> None:
    async with upstream(sends(CREATED, COMPLETED)) as elsewhere:
        away = elsewhere.url.replace("127.0.0.1", "localhost")
        async with upstream(process_request=redirect_to(lambda: away)) as up:
            with pytest.raises(UpstreamError) as refused:
                await collect(up.url)
    err = refused.value
    assert (err.status, err.code) == (502, "upstream_redirect")
    assert elsewhere.headers == [] and up.frames == []


@pytest.mark.parametrize("deflate", [True, False])
async def test_permessage_deflate_is_offered_unless_told_not_to(deflate: bool) -> None:
    """Compression pays off on a network, not toward an upstream on this host (the caller says
    which: `Upstream.local`)."""
    async with upstream(sends(COMPLETED)) as up:
        await collect(up.url, deflate=deflate)
    offered = up.headers[0].get("Sec-WebSocket-Extensions") or ""
    assert ("permessage-deflate" in offered) is deflate


# ---- cookies (transports/sessions.py rule 1) ---------------------------------------------------


async def test_a_handshake_carries_the_kept_chatgpt_cookies_and_keeps_only_those(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The wiring, with the server standing in for a ChatGPT host (the policy itself is
    tests/upstream/test_cookies.py's): the first handshake's Cloudflare cookie is sent on the
    next one; its session cookie is not."""
    from chat2responses.transports import sessions
    from chat2responses.upstream import cookies

    def a_chatgpt_host(url: str) -> bool:
        return url.startswith(("ws://localhost:", "http://localhost:"))

    monkeypatch.setattr(cookies, "cookies_allowed", a_chatgpt_host)
    monkeypatch.setattr(sessions, "cookies_allowed", a_chatgpt_host)
    seen: list[Headers] = []

    def set_cookies(ws: ServerConnection, request: Request, response: Response) -> Response:
        seen.append(request.headers)
        response.headers["Set-Cookie"] = "__cf_bm=bot-42; Path=/; HttpOnly"
        response.headers["Set-Cookie"] = "__Secure-next-auth.session-token=acct; Path=/"
        return response

    async def handler(ws: ServerConnection) -> None:
        await ws.recv()
        await ws.send(COMPLETED)
        await ws.wait_closed()

    async with serve(
        handler, "127.0.0.1", 0, process_response=set_cookies, logger=_server_logger
    ) as server:
        port = server.sockets[0].getsockname()[1]
        url = f"ws://localhost:{port}{PATH}"
        assert await collect(url) == [COMPLETED]
        assert await collect(url) == [COMPLETED]
    assert seen[0].get_all("Cookie") == []
    assert seen[1].get_all("Cookie") == ["__cf_bm=bot-42"]
