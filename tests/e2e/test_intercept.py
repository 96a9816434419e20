"""`chat2responses intercept` run for real, as root, in network namespaces the tests make and
delete: each mode with an unmodified openai-python client and a Node `fetch` client that call
`https://api.openai.com/v1/chat/completions` with no base URL and no proxy in their code, where
`api.openai.com` resolves to an address only the redirect answers (tests/netns_helpers.py).

Each mode: 4 of 4 calls per client (gpt-5.5 over the WebSocket route, gpt-5-codex over HTTP,
streamed and not) answered by the bundled emulator; a call to OpenRouter and one to Anthropic,
each with its own key, never reach the emulator (it sees exactly the OpenAI calls) and their
keys appear nowhere; after the stop, no namespace, link or rule of the test is left.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chat2responses.cli import local_mode, orphans
from tests.e2e.test_http import GREETING
from tests.netns_helpers import (
    HOSTS,
    RUN,
    Running,
    blackhole_route,
    can_make_namespaces,
    ensure_packages,
    in_namespace,
    ip,
    leftovers,
    link,
    namespace,
    refuse_fake_hosts,
    running,
)

CLIENTS = Path(__file__).resolve().parent.parent / "intercept_clients"
COMMAND = str(Path(sys.executable).parent / "chat2responses")
PROGRAM = f"c2rcli{RUN}"  # the clients' process name in local mode (at most 15 characters)
EXPECTED = GREETING + "hi"
SECRETS = ("sk-or-v1-secret", "sk-ant-secret")


@pytest.fixture(scope="module", autouse=True)
def machine() -> Iterator[None]:
    why = can_make_namespaces()
    assert why is None, why
    ensure_packages("nft", packages=["nftables"])
    ensure_packages("wg", "wg-quick", "wireguard-go", packages=["wireguard-tools", "wireguard-go"])
    yield
    assert leftovers() == []


@pytest.fixture
def confdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mitmproxy")


@pytest.fixture
def node(tmp_path: Path) -> str:
    """Node under the clients' process name (the kernel names a process after the file it ran)."""
    named = tmp_path / PROGRAM
    named.symlink_to(shutil.which("node") or "node")
    return str(named)


def intercept(
    ns: str, mode: str, confdir: Path, *flags: str
) -> contextlib.AbstractContextManager[Running]:
    argv = in_namespace(ns, COMMAND, "intercept", mode, "-v", *flags)
    return running([*argv, "--", "--set", f"confdir={confdir}"])


def clients(ns: str, confdir: Path, node: str, **env: str) -> tuple[Any, Any]:
    """Both clients at once; their answers."""
    ca = str(confdir / "mitmproxy-ca-cert.pem")
    base = {**os.environ, "SSL_CERT_FILE": ca, "NODE_EXTRA_CA_CERTS": ca, **env}
    python = subprocess.Popen(
        in_namespace(ns, sys.executable, str(CLIENTS / "openai_client.py"), PROGRAM),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=base,
    )
    fetch = subprocess.Popen(
        in_namespace(ns, node, str(CLIENTS / "fetch_client.mjs")),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=base,
    )
    results = []
    for process in (python, fetch):
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results[0], results[1]


def assert_intercepted(proxy: Running, *answers: Any, calls: int) -> None:
    for answer in answers:
        assert answer["answers"] == [EXPECTED] * 4, answer
        assert "200" not in answer["others"] and "answered" not in answer["others"], answer
    # The emulator logs each call it answers: exactly the OpenAI calls reached it.
    served = [
        line for line in proxy.lines if "chat2responses.emulator" in line and "model=" in line
    ]
    assert len(served) == calls, proxy.output[-4000:]
    for secret in SECRETS:
        assert secret not in proxy.output


def test_transparent_mode_on_the_same_host_and_a_crash(confdir: Path, node: str) -> None:
    """Then the command is killed outright: its rules stay, and `--undo` (as a start would)
    removes them."""
    with namespace("host") as ns:
        blackhole_route(ns)
        refuse_fake_hosts(ns)
        with intercept(ns, "transparent", confdir) as proxy:
            proxy.wait_for("chat2responses is ready:", 60)
            assert f"meta skgid {1_700_000_000 + 8080} return" in proxy.output  # printed rules
            assert_intercepted(proxy, *clients(ns, confdir, node), calls=8)
            proxy.process.kill()  # no clean-up at all
            proxy.process.wait()
        assert b"chat2responses_8080" in nft_tables(ns)
        undo = subprocess.run(
            in_namespace(ns, COMMAND, "intercept", "transparent", "--port", "8080", "--undo"),
            capture_output=True,
            check=False,
            text=True,
        )
        assert undo.returncode == 0, undo.stderr
        assert b"chat2responses" not in nft_tables(ns)


def test_transparent_mode_as_a_gateway(confdir: Path, node: str) -> None:
    """The proxy listens on every address there, yet only the redirect reaches it: a connection
    to its port itself (from the LAN, as from anywhere) is refused."""
    with namespace("gw") as gw, namespace("lan") as lan:
        inside, _ = link(gw, lan, "10.213.0.1/24", "10.213.0.2/24")
        ip("-n", lan, "route", "add", "default", "via", "10.213.0.1")
        refuse_fake_hosts(gw)
        with intercept(gw, "transparent", confdir, "--interface", inside) as proxy:
            proxy.wait_for("chat2responses is ready:", 60)
            assert f'iifname "{inside}" tcp dport 443 redirect to :8080' in proxy.output
            assert_intercepted(proxy, *clients(lan, confdir, node), calls=8)
            direct = "import socket; socket.create_connection(('10.213.0.1', 8080), timeout=10)"
            tried = subprocess.run(
                in_namespace(lan, sys.executable, "-c", direct),
                capture_output=True,
                check=False,
                text=True,
            )
            assert "ConnectionRefusedError" in tried.stderr, tried.stderr
        assert b"chat2responses" not in nft_tables(gw)  # removed at the stop (SIGTERM)


TLS_SERVER = """
import http.server, ssl, sys
class Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'{"data": []}'
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
server = http.server.HTTPServer((sys.argv[1], 443), Answer)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[2], sys.argv[3])
server.socket = context.wrap_socket(server.socket, server_side=True)
print("serving", flush=True)
server.serve_forever()
"""


def test_other_hosts_pass_through_with_their_own_tls(confdir: Path, tmp_path: Path) -> None:
    """Another provider's host, with a certificate mitmproxy does not trust and the client does
    (not mitmproxy's): the call works, so its TLS went through unopened, and nothing of it is
    recorded. Before, it was decrypted: such a client failed, and the key was in the flows."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from mitmproxy.certs import CertStore

    store = CertStore.from_store(tmp_path / "ca", "other", 2048)
    cert = store.get_cert("api.anthropic.com", [x509.DNSName("api.anthropic.com")])
    (tmp_path / "cert.pem").write_bytes(cert.cert.to_pem())
    key = cert.privatekey.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "key.pem").write_bytes(key)
    address = HOSTS["api.anthropic.com"][0]
    with namespace("pass") as ns:
        blackhole_route(ns)
        ip("-n", ns, "addr", "add", f"{address}/32", "dev", "lo")  # the other host, here
        server = in_namespace(ns, sys.executable, "-c", TLS_SERVER, address)
        server += [str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")]
        with running(server) as other, intercept(ns, "transparent", confdir) as proxy:
            other.wait_for("serving", 30)
            proxy.wait_for("chat2responses is ready:", 60)
            assert "other hosts pass through as they are" in proxy.output
            ask = (
                "import httpx; ipv4 = httpx.HTTPTransport(local_address='0.0.0.0', "
                "verify=sys.argv[1]); print(httpx.Client(transport=ipv4).get("
                "'https://api.anthropic.com/v1/models', headers={'x-api-key': 'sk-ant-secret'}, "
                "timeout=20).status_code)"
            )
            done = subprocess.run(
                in_namespace(
                    ns,
                    sys.executable,
                    "-c",
                    "import sys; " + ask,
                    str(tmp_path / "ca" / "other-ca-cert.pem"),
                ),
                capture_output=True,
                check=False,
                text=True,
                timeout=60,
            )
            assert done.returncode == 0 and done.stdout.strip() == "200", (
                proxy.output[-3000:] + other.output[-1000:]
            )
        assert "sk-ant-secret" not in proxy.output and "/v1/models" not in proxy.output


def nft_tables(ns: str) -> bytes:
    return subprocess.run(
        in_namespace(ns, "nft", "list", "tables"), capture_output=True, check=True
    ).stdout


def test_local_mode(confdir: Path, node: str) -> None:
    """Once the command has stopped, mitmproxy's redirector is gone too: left alone it lives
    about 5 s longer, sending the program's connections to a proxy that is gone
    (cli/orphans.py)."""
    with namespace("local") as ns, intercept(ns, "local", confdir, "--program", PROGRAM) as proxy:
        proxy.wait_for("chat2responses is ready:", 60)
        redirectors = orphans.descendants(proxy.process.pid, local_mode.REDIRECTOR)
        assert redirectors, proxy.output
        assert_intercepted(proxy, *clients(ns, confdir, node), calls=8)
        # The eBPF loader's notes on a kernel it half understands (some 90 lines per start)
        assert "aya::" not in proxy.output, proxy.output[-3000:]
        proxy.process.send_signal(signal.SIGTERM)
        proxy.process.wait(timeout=30)
        assert [process for process in redirectors if orphans.alive(process)] == []


def test_wireguard_mode_through_wg_quick(confdir: Path, node: str, tmp_path: Path) -> None:
    with namespace("wgs") as server, namespace("wgc") as client:
        link(server, client, "10.213.1.1/24", "10.213.1.2/24")
        ip("-n", server, "route", "add", "default", "via", "10.213.1.2")  # found as the endpoint
        refuse_fake_hosts(server)
        with intercept(server, "wireguard", confdir) as proxy:
            proxy.wait_for("chat2responses is ready:", 60)
            written = confdir / "c2r.conf"
            assert oct(written.stat().st_mode & 0o777) == "0o600"
            config = written.read_text()
            assert "Endpoint = 10.213.1.1:51820" in config and "DNS" not in config
            assert config in proxy.output.replace("\n  ", "\n") + "\n"  # printed as written
            tunnel = tmp_path / f"c2rwg{RUN}.conf"  # wg-quick names the link after the file
            tunnel.write_text(config)
            tunnel.chmod(0o600)
            up = subprocess.run(
                in_namespace(client, "wg-quick", "up", str(tunnel)),
                capture_output=True,
                check=False,
                text=True,
            )
            assert up.returncode == 0, up.stderr
            # The tunnel's first handshake, before the clients: Node 20's fetch gives up on a
            # connection not made within 250 ms (its happy-eyeballs attempt timeout).
            warm = "import socket; socket.create_connection(('198.18.0.1', 443), timeout=30)"
            subprocess.run(in_namespace(client, sys.executable, "-c", warm), check=True)
            try:
                assert_intercepted(proxy, *clients(client, confdir, node), calls=8)
            finally:
                subprocess.run(in_namespace(client, "wg-quick", "down", str(tunnel)), check=False)


NATIVE_CLIENT = """
import asyncio, json, sys
import httpx, zstandard
from websockets.asyncio.client import connect

proxy = "http://127.0.0.1:8080"
body = {"model": "gpt-5-codex", "instructions": "x", "stream": True, "store": False,
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "native"}]}]}
data = zstandard.ZstdCompressor().compress(json.dumps(body).encode())
with httpx.Client(proxy=proxy) as http:
    answer = http.post("http://chatgpt.com/backend-api/codex/responses", content=data,
                       headers={"content-type": "application/json", "content-encoding": "zstd",
                                "authorization": "Bearer codex-native"})
async def socket():
    async with connect("ws://chatgpt.com/backend-api/codex/responses", proxy=proxy,
                       additional_headers={"authorization": "Bearer codex-native"}) as ws:
        await ws.send(json.dumps({"type": "response.create", **{**body, "model": "gpt-5.5"}}))
        events = []
        while not events or events[-1]["type"] not in ("response.completed", "error"):
            events.append(json.loads(await ws.recv()))
        return events[-1]["type"]
print(json.dumps({"status": answer.status_code, "sse": answer.text.count("event:"),
                  "ws": asyncio.run(socket())}))
"""


def test_proxy_mode_and_native_codex_traffic(confdir: Path, node: str, tmp_path: Path) -> None:
    """The explicit proxy, with `responses_rewrite=all`: the OpenAI calls of a client that honours
    HTTPS_PROXY are rewritten (Node's fetch ignores it); the Codex CLI's own calls (an HTTP SSE
    call with a zstd body, and the WebSocket) to chatgpt.com pass untouched, and read in the
    addon's Responses views."""
    from mitmproxy import contentviews, io

    from chat2responses.glue.contentviews import ResponsesEventsView, register_views

    flows_file = tmp_path / "flows"
    with namespace("proxy") as ns:
        # chatgpt.com is this namespace's own loopback, where an emulator plays the backend.
        hosts = Path("/etc/netns") / ns / "hosts"
        hosts.write_text(hosts.read_text() + "127.0.0.1 chatgpt.com\n")
        emulator = in_namespace(ns, sys.executable, "-m", "chat2responses.emulator", "--port", "80")
        with running(emulator) as backend:
            backend.wait_for("serving", 30)
            argv = in_namespace(ns, COMMAND, "intercept", "proxy", "-v", "--rewrite", "all")
            argv += ["--", "--set", f"confdir={confdir}", "--set", f"save_stream_file={flows_file}"]
            with running(argv) as proxy:
                proxy.wait_for("chat2responses is ready:", 60)
                assert "export HTTPS_PROXY=http://127.0.0.1:8080" in proxy.output
                python, fetch = clients(ns, confdir, node, HTTPS_PROXY="http://127.0.0.1:8080")
                assert python["answers"] == [EXPECTED] * 4
                # Node's fetch ignores HTTPS_PROXY: it goes to the unreachable address itself.
                assert all(answer.startswith("ERROR") for answer in fetch["answers"]), fetch
                assert_intercepted(proxy, python, calls=4)
                client = subprocess.run(
                    in_namespace(ns, sys.executable, "-c", NATIVE_CLIENT),
                    capture_output=True,
                    check=False,
                    text=True,
                    timeout=60,
                )
                assert client.returncode == 0, client.stderr
                answered = json.loads(client.stdout.strip().splitlines()[-1])
        assert answered["status"] == 200 and answered["sse"] > 3
        assert answered["ws"] == "response.completed"
        # The native calls reached the backend as sent (and only they did).
        native = [line for line in backend.lines if "model=" in line]
        assert len(native) == 2, backend.output
    with flows_file.open("rb") as file:
        flows = [f for f in io.FlowReader(file).stream() if f.type == "http"]
    register_views()
    view = ResponsesEventsView()
    codex = [f for f in flows if f.request.pretty_host == "chatgpt.com"]
    assert all(f.comment == "" and not f.marked for f in codex)  # not rewritten: no annotation
    sse = next(f for f in codex if f.websocket is None)
    assert json.loads(sse.request.content or b"")["input"]  # the zstd body, decoded for views
    meta = contentviews.Metadata(flow=sse, http_message=sse.response)
    assert view.render_priority(sse.response.content or b"", meta) == 2
    assert "native" in view.prettify(sse.response.content or b"", meta)
    socket = next(f for f in codex if f.websocket is not None)
    last = socket.websocket.messages[-1]
    meta = contentviews.Metadata(flow=socket, websocket_message=last)
    assert view.render_priority(last.content, meta) == 2
    assert "native" in view.prettify(last.content, meta)


def test_a_redirect_without_the_proxys_exclusion_is_one_508_not_a_loop(confdir: Path) -> None:
    """The worst case of issue 20: the same host's port-443 traffic redirected with no exclusion
    of the proxy's own connections, and upstream verification off (`ssl_insecure`), so the
    addon's own call to api.openai.com comes back into it. One 508 within 10 s, one extra hop."""
    mitmdump = str(Path(sys.executable).parent / "mitmdump")
    rule = (
        "table inet c2rloop {\n  chain output {\n"
        "    type nat hook output priority -100; policy accept;\n"
        "    tcp dport 443 redirect to :8443\n  }\n}\n"
    )
    with namespace("loop") as ns:
        blackhole_route(ns)
        argv = in_namespace(ns, mitmdump, "--mode", "transparent@127.0.0.1:8443", "-s")
        argv += [str(Path(__file__).resolve().parents[2] / "addon" / "chat2responses.py")]
        for option in (
            f"confdir={confdir}",
            "responses_url=https://api.openai.com/v1",
            "responses_rewrite=all",
            "ssl_insecure=true",
            "connection_strategy=lazy",
        ):
            argv += ["--set", option]
        with running(argv) as proxy:
            proxy.wait_for("listening at", 60)
            subprocess.run(in_namespace(ns, "nft", "-f", "-"), input=rule, text=True, check=True)
            ask = (
                "import httpx, json, time; t = time.monotonic(); r = httpx.post("
                "'https://api.openai.com/v1/chat/completions', timeout=30, json={'model': "
                "'gpt-5-codex', 'messages': [{'role': 'user', 'content': 'hi'}]}); "
                "print(json.dumps([r.status_code, r.json(), time.monotonic() - t]))"
            )
            env = {**os.environ, "SSL_CERT_FILE": str(confdir / "mitmproxy-ca-cert.pem")}
            done = subprocess.run(
                in_namespace(ns, sys.executable, "-c", ask),
                capture_output=True,
                check=False,
                text=True,
                timeout=60,
                env=env,
            )
            assert done.returncode == 0, done.stderr
            status, body, seconds = json.loads(done.stdout)
            assert status == 508 and body["error"]["code"] == "loop_detected", body
            assert seconds < 10
            stopped = "] chat2responses: the upstream call for this request came back"
            looped = [line for line in proxy.lines if stopped in line]
            assert len(looped) == 1, proxy.output[-3000:]  # one extra hop, not retried
