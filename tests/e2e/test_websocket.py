"""End to end over the WebSocket route: the openai SDK → a real mitmdump → the emulator's WebSocket.

The emulator refuses gpt-5.5 over HTTP (as the Codex backend does), so every success here for a
WebSocket-preferring model proves the WebSocket route carried it.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import time
import uuid
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.e2e.test_http import GREETING, TOOLS, ask, assert_well_formed, client, post_raw
from tests.emulator_helpers import emulator_subprocess
from tests.proxy_helpers import Mitmdump, run_mitmdump


def origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def stream(proxy: Mitmdump, text: str, model: str = "gpt-5.5", **kwargs: Any) -> list[Any]:
    with client(proxy).chat.completions.create(
        model=model, messages=ask(text), stream=True, **kwargs
    ) as chunks:
        return list(chunks)


def text_of(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_streamed_text_over_websocket(proxy: Mitmdump) -> None:
    chunks = stream(proxy, "What is 2+2?")
    assert_well_formed(chunks)
    assert text_of(chunks) == GREETING + "What is 2+2?"
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_non_streamed_text_over_websocket(proxy: Mitmdump) -> None:
    raw = client(proxy).chat.completions.with_raw_response.create(
        model="gpt-5.5", messages=ask("Hello")
    )
    assert raw.headers["content-type"].startswith("application/json")
    completion = raw.parse()
    assert completion.choices[0].message.content == GREETING + "Hello"
    assert completion.usage is not None and completion.usage.completion_tokens > 0


def test_tools_reasoning_and_usage_over_websocket(proxy: Mitmdump) -> None:
    chunks = stream(
        proxy, "[scenario:tools] both", tools=TOOLS, stream_options={"include_usage": True}
    )
    firsts = [t for c in chunks if c.choices for t in c.choices[0].delta.tool_calls or [] if t.id]
    assert [t.index for t in firsts] == [0, 1]
    assert chunks[-2].choices[0].finish_reason == "tool_calls"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    reasoning = stream(proxy, "[scenario:reasoning] think")
    assert "".join(
        (c.choices[0].delta.model_extra or {}).get("reasoning_content") or ""
        for c in reasoning
        if c.choices
    )


@pytest.mark.parametrize(
    ("model", "sent", "effort"),
    [
        ("openai/gpt-5.5", "gpt-5.5", None),
        ("GPT-5.5", "gpt-5.5", None),
        ("gpt-5.5-2026-04-23", "gpt-5.5-2026-04-23", None),
        ("gpt-5.5(high)", "gpt-5.5", "high"),
        ("gpt-5.5-xhigh", "gpt-5.5", "xhigh"),
    ],
)
def test_model_name_variants_take_the_websocket_route(
    proxy: Mitmdump, model: str, sent: str, effort: str | None
) -> None:
    completion = client(proxy).chat.completions.create(
        model=model, messages=ask("[scenario:echo_request]")
    )
    upstream = json.loads(completion.choices[0].message.content or "")
    assert upstream["model"] == sent
    if effort is not None:
        assert upstream["reasoning"]["effort"] == effort
    assert completion.model == model


@pytest.mark.parametrize("scenario", ["failed", "close_mid_stream"])
def test_failures_after_the_first_byte_are_error_chunks(proxy: Mitmdump, scenario: str) -> None:
    with pytest.raises(openai.APIError) as caught:
        stream(proxy, f"[scenario:{scenario}]")
    assert not isinstance(caught.value, openai.APIConnectionError)  # an error chunk, not a cut


@pytest.mark.parametrize(
    ("scenario", "status"),
    [("error_event", 429), ("http_error:503", 503), ("rate_limit", 429), ("failed", 500)],
)
def test_failures_before_the_first_byte_keep_their_status(
    proxy: Mitmdump, scenario: str, status: int
) -> None:
    body = {"model": "gpt-5.5", "messages": ask(f"[scenario:{scenario}]")}
    got, _, raw = post_raw(proxy, json.dumps(body).encode())
    assert got == status, raw
    assert set(json.loads(raw)["error"]) == {"message", "type", "param", "code"}
    if scenario != "failed":  # failed comes after some text: a streaming client got bytes
        with pytest.raises(openai.APIStatusError) as caught:
            stream(proxy, f"[scenario:{scenario}]")
        assert caught.value.status_code == status


def test_an_unknown_model_refused_over_http_is_learned_as_websocket(proxy: Mitmdump) -> None:
    model = f"ws-only-{uuid.uuid4().hex[:8]}"
    for _ in range(2):
        completion = client(proxy).chat.completions.create(model=model, messages=ask("hi"))
        assert completion.choices[0].message.content == GREETING + "hi"
    retries = [line for line in proxy.lines if model in line and "retrying over websocket" in line]
    assert len(retries) == 1, proxy.log[-3000:]
    proxy.wait_for_log(f"{model}: learned that it needs websocket")


def test_a_refused_websocket_handshake_falls_back_to_http(tmp_path: Path) -> None:
    with (
        emulator_subprocess("--refuse-websocket", "--http-models", "gpt-5.5") as url,
        run_mitmdump(
            f"reverse:{origin(url)}",
            tmp_path,
            {"responses_url": url, "responses_rewrite": "all"},
        ) as proxy,
    ):
        for _ in range(2):
            chunks = stream(proxy, "hi")
            assert text_of(chunks) == GREETING + "hi"
        falls = [line for line in proxy.lines if "retrying over http" in line]
        assert len(falls) == 1, proxy.log[-3000:]
        # gpt-5.5 is a model the catalog says prefers the WebSocket: the log says so plainly.
        proxy.wait_for_log("gpt-5.5: the catalog says it prefers the WebSocket, but")


def _established(port: int) -> int:
    """Established TCP connections to 127.0.0.1:port, from /proc (Linux)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01":
                count += 1
    return count


def test_a_client_that_leaves_closes_the_upstream_websocket(tmp_path: Path) -> None:
    with (
        emulator_subprocess() as url,
        run_mitmdump(
            f"reverse:{origin(url)}", tmp_path, {"responses_url": url, "responses_rewrite": "all"}
        ) as proxy,
    ):
        port = int(origin(url).rsplit(":", 1)[1])
        sock = socket.create_connection(("127.0.0.1", proxy.port))
        body = json.dumps(
            {"model": "gpt-5.5", "stream": True, "messages": ask("[scenario:slow:300] go")}
        ).encode()
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            + f"content-length: {len(body)}\r\n\r\n".encode()
            + body
        )
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        assert _established(port) >= 1
        sock.close()
        deadline = time.monotonic() + 1.0
        while _established(port) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _established(port) == 0


async def test_fifty_concurrent_streams_over_both_routes(proxy: Mitmdump) -> None:
    aclient = openai.AsyncOpenAI(base_url=proxy.base_url, api_key="sk-test", max_retries=0)

    async def one(i: int) -> tuple[str, str]:
        model = "gpt-5.5" if i % 2 else "gpt-5-codex"
        chunks = await aclient.chat.completions.create(
            model=model, messages=ask(f"request {i}"), stream=True
        )
        text = "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices])
        return text, GREETING + f"request {i}"

    results = await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(50))), 120)
    await aclient.close()
    assert all(got == want for got, want in results)


def test_transparent_interception_of_api_openai_com(emulator_url: str, tmp_path: Path) -> None:
    options = {
        "responses_url": emulator_url,
        "responses_rewrite": "all",
        "connection_strategy": "lazy",
    }
    with run_mitmdump("regular", tmp_path, options) as proxy:
        http_client = openai.DefaultHttpxClient(
            proxy=f"http://127.0.0.1:{proxy.port}",
            verify=ssl.create_default_context(cafile=str(tmp_path / "mitmproxy-ca-cert.pem")),
        )
        intercepted = openai.OpenAI(api_key="sk-test", http_client=http_client, max_retries=0)
        for model in ("gpt-5.5", "gpt-5-codex"):
            completion = intercepted.chat.completions.create(model=model, messages=ask("hey"))
            assert completion.choices[0].message.content == GREETING + "hey"
        http_client.close()
