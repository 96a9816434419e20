"""The agents people run on a subscription, through a real mitmdump against the emulator: the
Codex CLI 0.171 (`codex exec`) and opencode 1.18 (`opencode run`), pinned in tests/agents.

The emulator plays an agent's turn (`[scenario:agent:N]`, emulator/agent.py): it calls the agent's
own shell tool with `echo c2r-agent-$((6*7))`, and answers from what came back; `c2r-agent-42` in
the answer proves a shell really ran the command and its output travelled back. gpt-5.5 goes
over the upstream WebSocket through one proxy, and over HTTP through another
(`responses_transport=http`; this emulator serves gpt-5.5 over HTTP too)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chat2responses.emulator.agent import MARK
from tests.agents_helpers import LoggingEmulator, codex, ensure_agents, logging_emulator, opencode
from tests.proxy_helpers import Mitmdump, run_mitmdump

ROUTES = ("websocket", "http")


@pytest.fixture(scope="module")
def setup(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LoggingEmulator, dict[str, Mitmdump]]]:
    ensure_agents()
    with logging_emulator("--http-models", "gpt-5.5") as emulator:
        origin = emulator.url.split("/backend-api", maxsplit=1)[0]
        base = {"responses_url": emulator.url, "responses_rewrite": "all"}
        http = {**base, "responses_transport": "http"}
        with (
            run_mitmdump(f"reverse:{origin}", tmp_path_factory.mktemp("ws"), base) as ws,
            run_mitmdump(f"reverse:{origin}", tmp_path_factory.mktemp("http"), http) as hp,
        ):
            yield emulator, {"websocket": ws, "http": hp}


def summaries(proxy: Mitmdump, since: int, count: int, model: str = "gpt-5.5") -> list[str]:
    """The call summaries for `model` logged after line `since`, once there are `count`."""
    needle = f"{model} → {model} ("
    deadline = time.monotonic() + 5
    while True:
        found = [line for line in proxy.lines[since:] if needle in line]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


@pytest.mark.parametrize("route", ROUTES)
def test_codex_runs_a_shell_command_and_answers_from_its_output(
    setup: tuple[LoggingEmulator, dict[str, Mitmdump]], tmp_path: Path, route: str
) -> None:
    _, proxies = setup
    proxy = proxies[route]
    since = len(proxy.lines)
    ran = codex(tmp_path, proxy.base_url, "[scenario:agent] run the check")
    assert ran.returncode == 0, ran.output
    assert MARK in ran.last, ran.output
    lines = summaries(proxy, since, 2)
    assert len(lines) == 2 and all(f"{route} · 200 · " in line for line in lines)


def test_codex_continues_its_turns_on_the_websocket_route(
    setup: tuple[LoggingEmulator, dict[str, Mitmdump]], tmp_path: Path
) -> None:
    _, proxies = setup
    proxy = proxies["websocket"]
    since = len(proxy.lines)
    ran = codex(tmp_path, proxy.base_url, "[scenario:agent:3] check three times")
    assert ran.returncode == 0 and MARK in ran.last, ran.output
    lines = summaries(proxy, since, 4)
    assert len(lines) == 4
    assert [" · continued " in line for line in lines] == [False, True, True, True], lines


def test_codex_speaks_the_responses_websocket_on_its_first_try(
    setup: tuple[LoggingEmulator, dict[str, Mitmdump]], tmp_path: Path
) -> None:
    """`supports_websockets = true`: it opens the WebSocket on /v1/responses (it got a 405 seven
    times, then fell back to HTTP 6 s late)."""
    _, proxies = setup
    proxy = proxies["websocket"]
    since = len(proxy.lines)
    ran = codex(tmp_path, proxy.base_url, "[scenario:agent:2] over the socket", websockets=True)
    assert ran.returncode == 0 and MARK in ran.last, ran.output
    # A warm-up (`generate: false`) first, then the turn's three requests, each continued.
    lines = summaries(proxy, since, 4)
    assert len(lines) == 4 and all(" · 200 · " in line for line in lines)
    assert [" · continued " in line for line in lines] == [False, True, True, True], lines
    logged = "\n".join(proxy.lines[since:])
    assert "refused (405)" not in logged and "not allowed" not in logged
    assert "Falling back" not in ran.output and "falling back" not in ran.output


def test_codex_shows_an_outage_soon_after_few_upstream_calls(
    setup: tuple[LoggingEmulator, dict[str, Mitmdump]], tmp_path: Path
) -> None:
    """An upstream that answers 503 to everything: the proxy retries twice, then answers in the
    form the Codex CLI gives up on (it made 90 upstream calls over 94 s)."""
    emulator, proxies = setup
    since = len(emulator.lines)
    ran = codex(tmp_path, proxies["websocket"].base_url, "[scenario:http_error:503] an outage")
    assert ran.returncode != 0
    assert "at capacity" in ran.output, ran.output
    assert ran.seconds <= 15
    assert 1 <= len(emulator.requests_since(since, "503")) <= 18


def test_codex_shows_a_usage_limit_at_once(
    setup: tuple[LoggingEmulator, dict[str, Mitmdump]], tmp_path: Path
) -> None:
    _, proxies = setup
    ran = codex(tmp_path, proxies["websocket"].base_url, "[scenario:usage_limit] a limit")
    assert ran.returncode != 0
    # The Codex CLI gives the reset's time of day, and its date when that is not today.
    again = r"try again at (?:[A-Z][a-z]{2} \d{1,2}\w\w, \d{4} )?\d{1,2}:\d{2} [AP]M"
    assert "usage limit" in ran.output and re.search(again, ran.output), ran.output
    assert ran.seconds <= 5


def test_opencode_runs_a_ten_turn_tool_loop_continued_on_the_websocket_route(
    setup: tuple[LoggingEmulator, dict[str, Mitmdump]], tmp_path: Path
) -> None:
    """The AI SDK re-serialises every call's arguments when it replays them: compared by
    meaning, its turns continue on the kept socket (0 of 67 did)."""
    _, proxies = setup
    proxy = proxies["websocket"]
    since = len(proxy.lines)
    ran = opencode(tmp_path, proxy.base_url, "[scenario:agent:9] check it nine times")
    assert ran.returncode == 0 and MARK in ran.output, ran.output
    lines = summaries(proxy, since, 10)
    assert len(lines) == 10 and all(" · 200 · " in line for line in lines)
    assert sum(" · continued " in line for line in lines) >= 9, lines


def test_opencode_runs_a_shell_command_over_the_http_route(
    setup: tuple[LoggingEmulator, dict[str, Mitmdump]], tmp_path: Path
) -> None:
    _, proxies = setup
    proxy = proxies["http"]
    since = len(proxy.lines)
    ran = opencode(tmp_path, proxy.base_url, "[scenario:agent] run the check")
    assert ran.returncode == 0 and MARK in ran.output, ran.output
    lines = summaries(proxy, since, 2)
    assert len(lines) == 2 and all("http · 200 · " in line for line in lines)
