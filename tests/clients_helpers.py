"""Shared by the third-party client tests (e2e/test_clients.py): what the proxy logged for the
calls a test made, what reached the emulator in a tool round trip, and the Node dependencies of
the Vercel AI SDK script.

A tool round trip ends with a follow-up user message asking the emulator to echo the request it
received (`[scenario:echo_request]`, its answer is that request's JSON), so a test can check what
the client's tool call and tool result became upstream.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
import subprocess
import time
from types import ModuleType
from typing import Any

from tests.proxy_helpers import ROOT, Mitmdump

GREETING = "Hello from the emulator. You said: "
NODE_DIR = ROOT / "tests" / "node"
QUESTION = "[scenario:tool] weather in Paris?"
FOLLOW_UP = "[scenario:echo_request] thanks"
TOOL_RESULT = "sunny"
# The emulator's call: the declared tool, each argument a placeholder of its schema type.
EXPECTED_CALL = ("get_weather", {"city": "emulator"})
# How the proxy reaches the emulator for each model: gpt-5.5 is WebSocket-only (the catalog says
# so); gpt-5-codex goes over HTTP.
TRANSPORT = {"gpt-5.5": "websocket", "gpt-5-codex": "http"}
MODELS = list(TRANSPORT)


def wait_for_route(proxy: Mitmdump, since: int, model: str, count: int = 1) -> list[str]:
    """The proxy's report lines, logged after line `since`, for `count` calls to `model` over
    its transport; waits a little, as the line comes when the flow ends."""
    route, needle = f"{TRANSPORT[model]} · ", f" · {model} → {model} ("
    deadline = time.monotonic() + 5
    while True:
        found = [line for line in proxy.lines[since:] if needle in line and route in line]
        if len(found) >= count or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    logged = "\n".join(proxy.lines[since:])
    assert len(found) >= count, f"{count} of {needle!r} expected in the log:\n{logged}"
    assert all(f"{route}200 · " in line for line in found), found
    return found


def _text_of(value: Any) -> str:
    """A tool output or message content as text: a string, or its text parts joined."""
    if isinstance(value, str):
        return value
    return "".join(part.get("text", "") for part in value if isinstance(part, dict))


def assert_round_trip_upstream(echo: str, call_id: str) -> None:
    """`echo` is the emulator's copy of the follow-up's upstream request, with its effective input
    (a request continued on the WebSocket session with `previous_response_id` has the earlier
    input and output put in front, session.py). In the Responses shape: the question, the first
    turn's reasoning as a whole item (the upstream runs with `store: false`, so a client's
    `item_reference` cannot resolve there: the proxy replays what it kept), the tool call and its
    result paired by `call_id`, then the follow-up."""
    body = json.loads(echo)
    items: list[dict[str, Any]] = body["input"]
    kinds = [item.get("type", "message") for item in items]
    assert kinds == ["message", "reasoning", "function_call", "function_call_output", "message"]
    question, reasoning, call, result, follow_up = items
    assert _text_of(question["content"]) == QUESTION
    assert reasoning["encrypted_content"]
    assert (call["call_id"], call["name"], json.loads(call["arguments"])) == (
        call_id,
        *EXPECTED_CALL,
    )
    assert (result["call_id"], _text_of(result["output"])) == (call_id, TOOL_RESULT)
    assert (follow_up["role"], _text_of(follow_up["content"])) == ("user", FOLLOW_UP)
    assert body["store"] is False


def load_litellm() -> ModuleType:
    """LiteLLM, told to read its model price map from the package instead of fetching it."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    return litellm


def close_litellm_clients(litellm: ModuleType) -> None:
    """Close the HTTP clients LiteLLM keeps between calls (it leaves them open at exit)."""
    for client in list(litellm.in_memory_llm_clients_cache.cache_dict.values()):
        close = getattr(client, "close", None)
        if callable(close) and not inspect.iscoroutinefunction(close):
            close()
    litellm.in_memory_llm_clients_cache.flush_cache()


def ensure_node_modules() -> str:
    """Install tests/node's locked packages (`npm ci`) unless that lock is already installed;
    the path of `node`."""
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "the Vercel AI SDK tests need Node.js 20+ and npm on PATH"
    lock = (NODE_DIR / "package-lock.json").read_bytes()
    stamp = NODE_DIR / "node_modules" / ".chat2responses-lock"
    digest = hashlib.sha256(lock).hexdigest()
    if not stamp.is_file() or stamp.read_text() != digest:
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NODE_DIR,
            check=True,
            timeout=300,
        )
        stamp.write_text(digest)
    return node
