"""`mitmdump -s "$(chat2responses script)"` with a mitmproxy 12 installed on its own: a virtual
environment that holds mitmproxy and its dependencies only (no chat2responses, no aiohttp, no
websockets), as a distribution package or `pipx install mitmproxy` would give.

The environments are built with uv from its cache (the versions this checkout's `.venv` already
holds), so they take a few seconds; pip, from the index, where there is no uv.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from openai import OpenAI

from chat2responses.addon import site_directories
from tests.emulator_helpers import emulator_subprocess
from tests.run_helpers import ROOT, running

MESSAGES = [{"role": "user", "content": "Say hello"}]
LISTENING = re.compile(r"listening at 127\.0\.0\.1:(\d+)")


def _uv() -> str | None:
    beside = Path(sys.executable).parent / "uv"
    return str(beside) if beside.is_file() else shutil.which("uv")


def _venv(where: Path, *requirements: str, constraints: Path) -> Path:
    """A fresh virtual environment at `where` on this Python, with `requirements` installed at
    the versions `constraints` names; returns its python."""
    base = getattr(sys, "_base_executable", sys.executable)
    python = where / "bin" / "python"
    if uv := _uv():
        subprocess.run([uv, "venv", "-q", "--python", base, str(where)], check=True)
        install = [uv, "pip", "install", "-q", "--python", str(python)]
    else:
        subprocess.run([base, "-m", "venv", str(where)], check=True)
        install = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*install, "-c", str(constraints), *requirements], check=True, timeout=600)
    return python


@pytest.fixture(scope="module")
def constraints(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The versions of this environment, so that uv takes every package from its cache."""
    pins = [
        f"{dist.metadata['Name']}=={dist.version}"
        for dist in importlib.metadata.distributions()
        if dist.metadata["Name"] and dist.metadata["Name"].lower() != "chat2responses"
    ]
    path = tmp_path_factory.mktemp("pins") / "constraints.txt"
    path.write_text("\n".join(sorted(set(pins))) + "\n")
    return path


@pytest.fixture(scope="module")
def foreign_mitmdump(tmp_path_factory: pytest.TempPathFactory, constraints: Path) -> Path:
    """mitmdump from an environment of its own, with nothing of this project in it."""
    where = tmp_path_factory.mktemp("foreign") / "venv"
    version = importlib.metadata.version("mitmproxy")
    python = _venv(where, f"mitmproxy=={version}", constraints=constraints)
    probe = "import importlib.util as u; print([u.find_spec(n) is None for n in %r])"
    names = ("chat2responses", "aiohttp", "websockets")
    absent = subprocess.run(
        [str(python), "-c", probe % (names,)],
        cwd=where,
        capture_output=True,
        text=True,
        check=False,
    )
    assert absent.stdout.strip() == "[True, True, True]", absent.stdout + absent.stderr
    return where / "bin" / "mitmdump"


def _checkout_script() -> Path:
    """What this checkout's `chat2responses script` prints (an editable install)."""
    done = subprocess.run(
        [sys.executable, "-m", "chat2responses", "script"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(done.stdout.strip())


def _installed_script(tmp_path: Path, constraints: Path) -> Path:
    """What `chat2responses script` prints from a regular (non-editable) install elsewhere."""
    python = _venv(tmp_path / "tool", str(ROOT), constraints=constraints)
    done = subprocess.run(
        [str(python.parent / "chat2responses"), "script"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(done.stdout.strip())


@pytest.fixture(params=["checkout", "installed"])
def script(request: pytest.FixtureRequest, tmp_path: Path, constraints: Path) -> Iterator[Path]:
    path = (
        _checkout_script()
        if request.param == "checkout"
        else _installed_script(tmp_path, constraints)
    )
    assert path.name == "addon.py" and path.is_file()
    if request.param == "installed":
        assert ROOT not in path.parents
    yield path


def test_the_printed_script_runs_in_a_mitmproxy_installed_on_its_own(
    foreign_mitmdump: Path, script: Path, tmp_path: Path
) -> None:
    with emulator_subprocess() as upstream:
        command = [
            str(foreign_mitmdump),
            "-s",
            str(script),
            "--mode",
            f"reverse:{upstream.split('/backend-api')[0]}",
            "--listen-host",
            "127.0.0.1",
            "--listen-port",
            "0",
            "--set",
            f"confdir={tmp_path / 'confdir'}",
            "--set",
            f"responses_url={upstream}",
            "--set",
            "responses_rewrite=all",
        ]
        env = {"C2R_VENV": os.environ.get("C2R_VENV", str(ROOT / ".venv"))}
        with running(command, env=env, cwd=tmp_path) as proxy:
            port = int(proxy.wait_for(LISTENING)[1])
            client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-local")
            for model in ("gpt-5.5", "gpt-5-codex"):  # the WebSocket route, and HTTP
                answer = client.chat.completions.create(model=model, messages=MESSAGES)  # type: ignore[arg-type]
                assert answer.choices[0].message.content == (
                    "Hello from the emulator. You said: Say hello"
                )
            proxy.wait_for(re.compile(r"http · 200 · .*gpt-5-codex → gpt-5-codex"))
        assert "Traceback" not in proxy.text and "ModuleNotFoundError" not in proxy.text, proxy.text


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    return path


def test_an_installed_package_finds_its_own_site_directory(tmp_path: Path) -> None:
    site = tmp_path / "venv" / "lib" / "python3.12" / "site-packages"
    package = _touch(site / "chat2responses" / "__init__.py").parent
    assert site_directories(package) == [site]


def test_a_checkout_finds_its_venv_this_pythons_version_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkout = tmp_path / "checkout"
    package = _touch(checkout / "chat2responses" / "__init__.py").parent
    _touch(checkout / "pyproject.toml")
    mine = f"python{sys.version_info.major}.{sys.version_info.minor}"
    other = _touch(checkout / ".venv/lib/python3.99/site-packages/x.py").parent
    own = _touch(checkout / f".venv/lib/{mine}/site-packages/x.py").parent
    monkeypatch.delenv("C2R_VENV", raising=False)
    assert site_directories(package) == [checkout, own, other]
    elsewhere = _touch(tmp_path / "elsewhere" / f"lib/{mine}/site-packages/x.py").parent
    monkeypatch.setenv("C2R_VENV", str(tmp_path / "elsewhere"))
    assert site_directories(package) == [checkout, elsewhere]


def test_a_lone_file_finds_nothing(tmp_path: Path) -> None:
    assert site_directories(tmp_path / "chat2responses") == []
