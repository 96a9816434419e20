"""An upstream whose certificate is not trusted: a 502 naming the problem and the host, on
both routes (it was a 500 with a traceback on the HTTP route), and never retried."""

from __future__ import annotations

import asyncio
import datetime
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import ClientSession
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chat2responses.call.policy import Failure, Route, classify
from chat2responses.protocol.errors import UpstreamError
from chat2responses.protocol.transcript import Transcript
from chat2responses.transports.http import open_http_events
from chat2responses.transports.websocket import open_response_stream
from chat2responses.upstream.proxies import DIRECT, Egress, Proxy
from tests.forward_proxy import forward_proxy


def self_signed(directory: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (directory / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    return context


@pytest.fixture
async def untrusted(tmp_path: Path) -> AsyncIterator[int]:
    """A TLS server on 127.0.0.1 with a self-signed certificate; it never gets past TLS."""

    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(drop, "127.0.0.1", 0, ssl=self_signed(tmp_path))
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


def assert_names_the_certificate(err: UpstreamError, port: int) -> None:
    assert err.status == 502 and err.code == "upstream_tls_error"
    assert "certificate" in err.message and f"127.0.0.1:{port}" in err.message
    assert "ssl_verify_upstream_trusted_ca" in err.message
    for route in Route:
        assert classify(route, err) is Failure.FATAL  # asking again cannot help


async def test_the_http_route_answers_502(untrusted: int) -> None:
    async with ClientSession() as session:
        with pytest.raises(UpstreamError) as caught:
            async with open_http_events(
                session,
                f"https://127.0.0.1:{untrusted}/v1/responses",
                headers={},
                body=b"{}",
                ssl=None,
                connect_timeout=5,
                idle_timeout=5,
                transcript=Transcript(),
            ):
                pass
    assert_names_the_certificate(caught.value, untrusted)


async def websocket_error(port: int, egress: Egress = DIRECT) -> UpstreamError:
    """What opening a response stream to the untrusted server on `port` raises."""
    with pytest.raises(UpstreamError) as caught:
        async with open_response_stream(
            f"wss://127.0.0.1:{port}/v1/responses",
            headers={},
            frame="{}",
            connect_timeout=5,
            idle_timeout=5,
            egress=egress,
        ):
            pass
    return caught.value


async def test_the_websocket_route_answers_502(untrusted: int) -> None:
    assert_names_the_certificate(await websocket_error(untrusted), untrusted)


async def test_the_websocket_route_through_a_proxy_answers_502_and_nothing_else(
    untrusted: int,
) -> None:
    """websockets' connection was told of a loss it was never made for (TLS failing after the
    proxy's CONNECT): an AttributeError in the loop's handler, a traceback per call."""
    loop = asyncio.get_running_loop()
    unhandled: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _loop, context: unhandled.append(context))
    try:
        with forward_proxy() as proxy:
            err = await websocket_error(untrusted, Egress(https=Proxy(proxy.url)))
            await asyncio.sleep(0.1)  # what the loss leaves to the loop
        assert [method for method, _, _ in proxy.seen] == ["CONNECT"]
    finally:
        loop.set_exception_handler(None)
    assert_names_the_certificate(err, untrusted)
    assert unhandled == []
