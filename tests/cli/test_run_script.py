"""`scripts/run` for real: a busy port refused up front, the banner, one console line per call,
`--verbose`, and Ctrl-C stopping every child. Everything listens on 127.0.0.1 only."""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from openai import OpenAI

from tests.run_helpers import READY, RUN, busy_port, listens, scripts_run

MESSAGES = [{"role": "user", "content": "Say hello"}]


def test_a_busy_port_is_refused_before_anything_starts() -> None:
    with busy_port() as port:
        for args, env in ((["--port", str(port)], {}), ([], {"C2R_PORT": str(port)})):
            started = time.monotonic()
            done = subprocess.run(
                [str(RUN), *args],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
                env={**os.environ, **env},
            )
            assert done.returncode == 2, done.stderr
            assert f"port {port} on 127.0.0.1 is already in use" in done.stderr
            assert "--port N (or C2R_PORT=N)" in done.stderr
            assert "emulator: serving" not in done.stdout + done.stderr
            assert "is ready" not in done.stdout + done.stderr
            assert time.monotonic() - started < 30


@pytest.mark.parametrize(
    ("option", "message", "started"),
    [
        (
            "responses_rewrite=sometimes",
            "responses_rewrite must be one of 'catalog', 'all', not 'sometimes' (after --)",
            False,
        ),
        (
            "responses_retry=1",
            "there is no option responses_retry; did you mean responses_retries? (after --)",
            False,
        ),
        # Only the addon can tell, once mitmproxy runs it; mitmproxy has opened its port then.
        ("responses_catalog=/nonexistent/c.json", "cannot read /nonexistent/c.json", True),
    ],
)
def test_a_bad_addon_option_after_the_double_dash_is_one_clear_line(
    option: str, message: str, started: bool
) -> None:
    """Never 'ready', and no traceback: neither the addon's nor one from a readiness probe
    that mitmproxy was handling when it exited."""
    done = subprocess.run(
        [str(RUN), "--port", "0", "--", "--set", option],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert message in output
    assert ("mitmdump exited (status 1); see its output above" in output) is started
    assert ("emulator: serving" in output) is started
    assert "Traceback" not in output and "is ready" not in output


def test_a_run_prints_one_line_per_call_and_ctrl_c_stops_everything() -> None:
    with scripts_run("--port", "0") as running:
        ready = running.wait_for(READY)
        port, upstream = int(ready[1]), ready[2]
        emulator_port = int(upstream.split(":")[2].split("/")[0])
        client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-local")
        answer = client.chat.completions.create(model="gpt-5-codex", messages=MESSAGES)  # type: ignore[arg-type]
        assert answer.choices[0].message.content
        stream = client.chat.completions.create(model="gpt-5.5", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        # Not a chat call: passed through to the upstream, and silent on the console.
        with contextlib.suppress(urllib.error.HTTPError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/not-a-chat-path", timeout=10)
        running.wait_for(re.compile(r"· 200 · .*gpt-5\.5 → "))
        # An IDE keeps its connection open: Ctrl-C must not print its disconnect (or a traceback).
        kept = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        kept.request("GET", "/_chat2responses/status")
        assert kept.getresponse().read().startswith(b"chat2responses status")
        time.sleep(0.5)
        running.ctrl_c()
        assert running.process.wait(timeout=15) == 130
        kept.close()
    console = running.after_banner()
    assert len(console) == 2, console
    assert all(" → " in line and "tokens" in line for line in console), console
    assert "Loading script" not in running.text, running.text
    assert not listens(port) and not listens(emulator_port)


def test_verbose_brings_back_mitmproxys_own_lines() -> None:
    with scripts_run("--port", "0", env={"C2R_VERBOSE": "1"}) as running:
        port = int(running.wait_for(READY)[1])
        client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-local")
        client.chat.completions.create(model="gpt-5-codex", messages=MESSAGES)  # type: ignore[arg-type]
        running.wait_for(re.compile(r"client connect"))
        running.wait_for(re.compile(r"POST http://127\.0\.0\.1:\d+/v1/chat/completions"))
        running.wait_for(re.compile(r"gpt-5-codex → "))


@pytest.mark.parametrize(
    ("python", "message"),
    [
        ("/nonexistent/python3", "C2R_PYTHON=/nonexistent/python3: no such program."),
        ("true", "chat2responses needs 3.12 or newer."),  # a program, but not a Python 3.12
    ],
)
def test_a_c2r_python_that_cannot_build_the_venv_is_refused_not_passed_over(
    tmp_path: Path, python: str, message: str
) -> None:
    venv = tmp_path / "venv"
    done = subprocess.run(
        [str(RUN), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "C2R_VENV": str(venv), "C2R_PYTHON": python},
    )
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert not venv.exists()
