"""`Server-Timing` on every rewritten answer (call/timing.py), through a real mitmdump: chat and
`/v1/responses`, streamed (SSE) and whole (JSON), over the WebSocket and HTTP routes, answered
or failed by the upstream. The addon's own time (`c2r`) is below the total wherever a total is
known: in the header of a whole answer, and the client's own measure of a stream.
"""

from __future__ import annotations

import time

import httpx
import pytest

from chat2responses.call.timing import parse_server_timing
from tests.proxy_helpers import Mitmdump

MODELS = ["gpt-5.5", "gpt-5-codex"]  # the WebSocket route, the HTTP route


def _body(path: str, model: str, stream: bool, text: str) -> dict[str, object]:
    if path == "/v1/chat/completions":
        return {"model": model, "stream": stream, "messages": [{"role": "user", "content": text}]}
    return {"model": model, "stream": stream, "input": text}


def _call(proxy: Mitmdump, path: str, body: dict[str, object]) -> tuple[httpx.Response, float]:
    """The answer, read to its end, and the client's measure of it in milliseconds."""
    start = time.monotonic()
    with httpx.Client(timeout=30) as client:
        answer = client.post(
            proxy.base_url.removesuffix("/v1") + path,
            json=body,
            headers={"authorization": "Bearer sk-test"},
        )
    return answer, (time.monotonic() - start) * 1000


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/responses"])
@pytest.mark.parametrize("model", MODELS)
def test_an_answer_says_where_its_time_went(
    proxy: Mitmdump, model: str, path: str, stream: bool
) -> None:
    answer, elapsed = _call(proxy, path, _body(path, model, stream, f"timing {path} {stream}"))
    assert answer.status_code == 200, answer.text
    kind = answer.headers["content-type"]
    assert kind.startswith("text/event-stream" if stream else "application/json"), kind
    timing = parse_server_timing(answer.headers["server-timing"])
    assert {"c2r", "upstream"} <= set(timing), timing
    assert 0 <= timing["c2r"] < elapsed
    if stream:  # the head went out with the first bytes: no total yet (timing rule 2)
        assert "total" not in timing
    else:
        assert timing["c2r"] + timing["upstream"] <= timing["total"] <= elapsed


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/responses"])
def test_an_upstream_error_says_it_too(proxy: Mitmdump, path: str, stream: bool) -> None:
    """An error before any byte is a whole answer: its header has the total."""
    body = _body(path, "gpt-5-codex", stream, "[scenario:http_error:400] fail me")
    answer, elapsed = _call(proxy, path, body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["message"]
    timing = parse_server_timing(answer.headers["server-timing"])
    assert {"c2r", "upstream", "total"} <= set(timing), timing
    assert timing["c2r"] < timing["total"] <= elapsed
