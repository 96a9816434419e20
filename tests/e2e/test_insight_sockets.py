"""A client's own Responses WebSocket, seen whole (glue/sockets.py): each call on it is a record
like a chat call's, so its socket flow in mitmweb has every call's summary in its comment, the
Conversation view of the socket shows its turns, the per-call log has a line per call, and the
report reads them from a saved flow file.

A real mitmweb (reverse proxy, the addon from its entry script, the calls log on) in front of the
emulator; the openai SDK's `responses.connect()` chains three turns of gpt-5.5 (the upstream
WebSocket route) by `previous_response_id` on one client socket.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.e2e.test_client_websocket import answer
from tests.emulator_helpers import emulator_subprocess
from tests.mitmweb_helpers import Flow, Mitmweb, run_mitmweb

MODEL = "gpt-5.5"
TURNS = 3


@dataclass
class Seen:
    web: Mitmweb
    log: Path
    scratch: Path
    socket: Flow  # the client's socket flow, ended


def _socket_ended(flows: list[Flow]) -> bool:
    return any(f.get("comment", "").startswith("client websocket · ") for f in flows)


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seen]:
    scratch = tmp_path_factory.mktemp("insight-sockets")
    log = scratch / "calls.jsonl"
    with emulator_subprocess() as emulator_url, run_mitmweb(
        emulator_url, scratch / "mitmproxy", {"responses_calls_log": str(log)}
    ) as web:  # fmt: skip
        api = openai.OpenAI(base_url=web.base_url, api_key="sk-socket-secret", max_retries=0)
        with api.responses.connect() as connection:
            previous = None
            for turn in range(1, TURNS + 1):
                extra = {"previous_response_id": previous} if previous else {}
                done = answer(connection, model=MODEL, input=f"socket turn {turn}", **extra)
                assert done.type == "response.completed", done
                previous = done.response.id
        flows = web.wait_for_flows(_socket_ended)
        socket = next(f for f in flows if _socket_ended([f]))
        yield Seen(web, log, scratch, socket)


def test_the_socket_flows_comment_has_each_calls_summary(seen: Seen) -> None:
    lines = seen.socket["comment"].splitlines()
    assert lines[0] == f"client websocket · chat2responses served {TURNS} response(s) on it"
    assert len(lines) == 1 + TURNS
    for line in lines[1:]:
        assert re.match(r"websocket · 200 · first token [\d.]+ ms · ", line), line
    assert " · full · " in lines[1]
    assert all(" · continued " in line for line in lines[2:])


def test_the_conversation_view_of_the_socket_shows_its_calls(seen: Seen) -> None:
    text = seen.web.content(seen.socket["id"], "request", "Conversation")["text"]
    lines = text.splitlines()
    assert lines[0].startswith("conversation ") and f"{TURNS} turns up to this call" in lines[0]
    header = re.split(r"\s{2,}", lines[1].strip())
    rows = [dict(zip(header, re.split(r"\s{2,}", line.strip()), strict=False))
            for line in lines[2 : 2 + TURNS]]  # fmt: skip
    assert [row["turn"] for row in rows] == ["1", "2", "3"]
    assert {row["route"].rsplit("·", 1)[0] for row in rows} == {rows[0]["route"].split("·")[0]}
    assert [row["route"].rsplit("·", 1)[1] for row in rows] == ["1", "2", "3"]  # one socket
    assert lines[1 + TURNS].endswith("← this call")


def test_the_calls_log_has_a_line_per_call_on_the_socket(seen: Seen) -> None:
    deadline = time.monotonic() + 5  # the log is flushed within FLUSH_AFTER of a call
    while (text := seen.log.read_text()).count("\n") < TURNS and time.monotonic() < deadline:
        time.sleep(0.05)
    logged: list[dict[str, Any]] = [json.loads(line) for line in text.splitlines()]
    assert [line["id"] for line in logged] == [f"{seen.socket['id']}.{n}" for n in (1, 2, 3)]
    assert all(line["kind"] == "responses" and line["status"] == 200 for line in logged)
    assert "sk-socket-secret" not in text and "socket turn" not in text


def test_the_report_reads_the_sockets_calls(seen: Seen) -> None:
    flows_file = seen.scratch / "flows"
    flows_file.write_bytes(seen.web.get("/flows/dump"))
    out = seen.scratch / "report.html"
    done = subprocess.run(
        [sys.executable, "-m", "chat2responses", "report", str(flows_file), "-o", str(out)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(f"{TURNS} rewritten calls in 1 conversation")
