"""The WireGuard side of `intercept wireguard`: mitmproxy's keys, and a client configuration
that works unedited.

mitmproxy's own printed configuration has `Endpoint = None:PORT` where the machine has no
default route, and a `DNS =` line that `wg-quick` applies only through resolvconf. This one has a
real endpoint (`--endpoint`, else the address this machine's route to the internet leaves from)
and no DNS line: the client keeps its resolver, whose queries go through the tunnel as well.

Rule 1: the keys are mitmproxy's own file (`{confdir}/wireguard.conf`, JSON), made here when it
        is missing, in mitmproxy's format; an existing one is kept, so clients stay valid.
Rule 2: the client configuration holds a private key: it is written with mode 0600.
"""

from __future__ import annotations

import base64
import json
import os
import socket
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from chat2responses.cli.commands import CliError

DEFAULT_PORT = 51820
TUNNEL_ADDRESS = "10.0.0.1/32"  # mitmproxy's: the client's address inside the tunnel


def genkey() -> str:
    return base64.b64encode(X25519PrivateKey.generate().private_bytes_raw()).decode()


def pubkey(private: str) -> str:
    key = X25519PrivateKey.from_private_bytes(base64.b64decode(private))
    return base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def keys(path: Path) -> tuple[str, str]:
    """(server key, client key) from mitmproxy's key file, made first when missing (rule 1)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        document = {"server_key": genkey(), "client_key": genkey()}
        path.write_text(json.dumps(document, indent=4))
        path.chmod(0o600)
    try:
        document = json.loads(path.read_text())
        server, client = document["server_key"], document["client_key"]
        pubkey(server), pubkey(client)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CliError(f"{path} is not a WireGuard key file mitmproxy can use: {exc}") from None
    return server, client


def client_config(server_key: str, client_key: str, endpoint: str) -> str:
    """The client's configuration: every destination through the tunnel, IPv6 too (or a
    dual-stack client's IPv6 connections would go around it, to the real host, with the key),
    and no DNS line."""
    return "\n".join(
        [
            "[Interface]",
            f"PrivateKey = {client_key}",
            f"Address = {TUNNEL_ADDRESS}",
            "",
            "[Peer]",
            f"PublicKey = {pubkey(server_key)}",
            "AllowedIPs = 0.0.0.0/0, ::/0",
            f"Endpoint = {endpoint}",
            "",
        ]
    )


def write_client_config(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
    path.chmod(0o600)


def endpoint(given: str | None, port: int) -> str:
    """`HOST:PORT` for the client: `given` (a host, or host:port), else this machine's address
    towards the internet (a UDP socket's route lookup: nothing is sent)."""
    if given:
        if given.count(":") == 1 or (given.startswith("[") and "]:" in given):
            return given  # host:port, [IPv6]:port
        if given.startswith("["):
            return f"{given}:{port}"  # [IPv6]
        return f"[{given}]:{port}" if ":" in given else f"{given}:{port}"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: a route lookup, no packet
            address = str(probe.getsockname()[0])
        except OSError:
            address = ""
    if not address or address.startswith("0."):
        raise CliError(
            "this machine has no route to the internet, so there is no address to put in the "
            "client's Endpoint: give it with --endpoint HOST (an address the client can reach)"
        )
    return f"{address}:{port}"
