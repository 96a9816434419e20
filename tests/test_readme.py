"""The README's first part, run as written: the set-up and quick-start commands and the
troubleshooting cases that can run here, each checked against what the README says they print.

Taken from the README itself (its code blocks), with one change: port 8080 becomes a free port
(`C2R_PORT`, which the commands read, or the same substitution in a URL), so that two runs of the
suite never collide. Everything listens on 127.0.0.1; nothing leaves the machine.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from chat2responses.cli.processes import free_port
from tests.run_helpers import READY, ROOT, Running, busy_port, running

README = (ROOT / "README.md").read_text()
PYTHON = str(Path(sys.executable))
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def section(title: str) -> str:
    """The text under the heading `## title`, up to the next heading of that level or above."""
    start = README.index(f"\n## {title}\n")
    end = re.compile(r"^#{1,2} ", re.MULTILINE).search(README, start + 4)
    return README[start : end.start() if end else len(README)]


def blocks(text: str, language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(text) if lang == language]


def block_with(text: str, language: str, needle: str) -> str:
    found = [body for body in blocks(text, language) if needle in body]
    assert len(found) == 1, f"one {language} block with {needle!r} in the README, not {found}"
    return found[0]


def at_port(text: str, port: int) -> str:
    return text.replace("127.0.0.1:8080", f"127.0.0.1:{port}")


def shell(command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.fixture(scope="module")
def quick_start() -> Iterator[tuple[Running, int]]:
    """`scripts/run` as the set-up section says, on a free port."""
    setup = block_with(section("Set-up: two commands"), "sh", "scripts/run")
    command = setup.splitlines()[0].split("#")[0].strip()
    assert command == "scripts/run"
    port = free_port()
    with running([str(ROOT / command)], env={"C2R_PORT": str(port)}) as proxy:
        proxy.wait_for(READY)
        yield proxy, port


def test_the_banner_is_the_one_the_readme_shows(quick_start: tuple[Running, int]) -> None:
    proxy, port = quick_start
    shown = block_with(section("Set-up: two commands"), "text", "chat2responses is ready")
    banner = proxy.text[proxy.text.index("chat2responses is ready") :]
    banner = banner[: banner.index("Press Ctrl-C to stop.")] + "Press Ctrl-C to stop.\n"
    emulator = re.search(r"http://127\.0\.0\.1:\d+/backend-api/codex", banner)
    assert emulator is not None
    expected = at_port(shown, port).replace("http://127.0.0.1:41234/backend-api/codex", emulator[0])
    # The status line names the port when it is not 8080, so the command works as printed.
    expected = expected.replace("chat2responses status\n", f"chat2responses status --port {port}\n")
    assert banner == expected


def test_the_python_snippet_prints_the_emulators_answer(quick_start: tuple[Running, int]) -> None:
    proxy, port = quick_start
    text = section("Set-up: two commands")
    snippet = block_with(text, "python", "from openai import OpenAI")
    done = subprocess.run(
        [PYTHON, "-c", at_port(snippet, port)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    said = re.search(r"It prints `([^`]+)`", text)
    assert said is not None and done.stdout == said[1] + "\n"
    # The console line has the shape the README shows.
    example = re.search(r"one line per rewritten call, e\.g\.\n`([^`]+)`", README)
    assert example is not None
    shape = re.sub(r"\\ ", " ", re.escape(example[1]))
    shape = re.sub(r"\d+", r"\\d+", shape).replace("Thu", r"\w+")
    # A reset later than today is shown with its weekday (resets Tue 00:00), as any hour may be.
    shape = shape.replace(r"\(resets ", r"\(resets (?:\w+ )?")
    proxy.wait_for(re.compile(shape))


def test_the_try_it_curl_line_streams_an_answer(quick_start: tuple[Running, int]) -> None:
    _, port = quick_start
    shown = block_with(section("Set-up: two commands"), "text", "chat2responses is ready")
    curl = shown[shown.index("curl ") : shown.index("\n  python:")]
    done = shell(at_port(curl, port))
    assert done.returncode == 0, done.stderr
    events = [line for line in done.stdout.splitlines() if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]"
    text = "".join(
        (json.loads(e[6:])["choices"] or [{}])[0].get("delta", {}).get("content") or ""
        for e in events[:-1]
    )
    assert text == "Hello from the emulator. You said: Say hello"


def test_the_status_command_prints_what_the_readme_shows(
    quick_start: tuple[Running, int],
) -> None:
    _, port = quick_start
    text = section("Seeing what happened")
    command = block_with(text, "sh", "chat2responses status").split("#")[0].strip()
    shown = block_with(text, "text", "chat2responses status").splitlines()
    done = shell(command, env={"C2R_PORT": str(port)})  # as the comment says: or C2R_PORT=N
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [lines[0], lines[1], lines[3]] == [shown[0], shown[1], shown[3]]
    account = r"  [0-9a-f]{12}: 5 h \d+ % \(resets [^)]+\), weekly \d+ % \(resets [^)]+\), "
    assert re.fullmatch(account + r"credits none \[plus\]", lines[2]), lines[2]
    assert re.fullmatch(account + r"credits none \[plus\]", shown[2])


def test_every_tools_setting_points_at_the_proxy() -> None:
    """The quick start's settings are well-formed, and each names the base URL and gpt-5.5."""
    text = section("Quick start: point your tool at it")
    base = "http://127.0.0.1:8080/v1"
    continue_ = YAML(typ="safe").load(block_with(text, "yaml", "provider: openai"))
    assert continue_["models"][0] | {"name": ""} == {
        "name": "",
        "provider": "openai",
        "model": "gpt-5.5",
        "apiBase": base,
        "apiKey": "sk-local",
    }
    zed = json.loads(block_with(text, "json", "language_models"))
    provider = zed["language_models"]["openai_compatible"]["chat2responses"]
    assert provider["api_url"] == base and provider["available_models"][0]["name"] == "gpt-5.5"
    codex = tomllib.loads(block_with(text, "toml", "model_providers"))
    assert codex["model"] == "gpt-5.5" and codex["model_provider"] == "chat2responses"
    assert codex["model_providers"]["chat2responses"]["base_url"] == base
    assert codex["model_providers"]["chat2responses"]["wire_api"] == "responses"
    opencode = json.loads(block_with(text, "json", "opencode.ai/config.json"))
    options = opencode["provider"]["chat2responses"]["options"]
    assert options["baseURL"] == base and opencode["model"] == "chat2responses/gpt-5.5"
    aider = block_with(text, "sh", "aider")
    assert f"--openai-api-base {base}" in aider and "--model openai/gpt-5.5" in aider
    for tool in ("Cline", "JetBrains AI Assistant"):
        paragraph = text[text.index(f"**{tool}**") :].split("\n\n")[0]
        assert f"`{base}`" in paragraph and "`sk-local`" in paragraph, tool


def test_troubleshooting_a_busy_port() -> None:
    shown = block_with(section("Troubleshooting"), "text", "is already in use")
    with busy_port() as port:
        done = shell("scripts/run", env={"C2R_PORT": str(port)})
    assert done.returncode == 2
    assert "e.g. --port 8090;" in shown  # an example: a port free when it was printed
    expected = re.escape(shown.replace("8080", str(port)).rstrip("\n"))
    expected = expected.replace(re.escape("--port 8090;"), r"--port \d+;")
    assert re.fullmatch(expected, done.stderr.rstrip("\n")), done.stderr


def test_troubleshooting_a_401_from_the_login(tmp_path: Path) -> None:
    shown = block_with(section("Troubleshooting"), "text", "request refused (401)").strip()
    port = free_port()
    env = {"C2R_PORT": str(port), "HOME": str(tmp_path)}  # a home with no Codex login
    with running([str(ROOT / "scripts" / "run"), "--upstream", "codex"], env=env) as proxy:
        proxy.wait_for(READY)
        curl = _banner_curl(proxy)
        done = shell(curl)
        answer = json.loads(done.stdout)["error"]
        assert answer["code"] == "codex_login_missing"
        line = proxy.wait_for(re.compile(r"request refused \(401\): .*"))[0]
    assert line == shown.replace("/home/you", str(tmp_path))


def test_troubleshooting_a_model_the_catalog_does_not_list(tmp_path: Path) -> None:
    text = section("Troubleshooting")
    catalog = tmp_path / "catalog.json"
    catalog.write_text(block_with(text, "json", '"models"'))
    port = free_port()
    command = [str(ROOT / "scripts" / "run"), "--rewrite", "catalog"]
    command += ["--", "--set", f"responses_catalog={catalog}"]
    with running(command, env={"C2R_PORT": str(port)}) as proxy:
        proxy.wait_for(READY)
        curl = _banner_curl(proxy)
        assert '"model":"gpt-5.5"' in curl  # a catalog model: the Try-it line works here too
        assert "data: [DONE]" in shell(curl).stdout
        unlisted = shell(curl.replace('"model":"gpt-5.5"', '"model":"not-listed"'))
        error = json.loads(unlisted.stdout)["error"]
        said = re.search(r'`(\{"error": \{"message": "[^`]+)`', text)
        assert said is not None
        assert error["message"] == json.loads(said[1].replace("…, ", ""))["error"]["message"]
        assert error["code"] == "unknown_url"
        listed = shell(curl.replace('"model":"gpt-5.5"', '"model":"my-model"'))
        assert "data: [DONE]" in listed.stdout  # added by the README's catalog file
        proxy.wait_for(re.compile(r"http · 200 · .*my-model → my-model"))
    assert "not-listed" not in "".join(proxy.after_banner())  # passed through: silent


def test_troubleshooting_no_python_3_12(tmp_path: Path) -> None:
    text = section("Troubleshooting")
    said = re.search(r"`scripts/run` ends with `([^`]+)`", text)
    assert said is not None
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "C2R_VENV": str(tmp_path / "venv")}
    done = subprocess.run(
        ["bash", "scripts/run"], capture_output=True, text=True, env=env, cwd=ROOT, check=False
    )
    assert done.returncode == 2
    assert done.stderr.startswith(said[1].replace("\n", " "))


def test_troubleshooting_a_certificate_the_tool_does_not_trust(tmp_path: Path) -> None:
    """The interception recipe's explicit proxy (`scripts/intercept proxy`, here the same command
    from .venv, on a free port), with its CA in a fresh home: refused until the client trusts it,
    then rewritten."""
    recipe = section("Intercepting a tool you cannot configure")
    assert re.search(r"^scripts/intercept proxy +#", recipe, re.MULTILINE)
    assert "export HTTPS_PROXY=http://127.0.0.1:8080 SSL_CERT_FILE=" in recipe
    port = free_port()
    command = [str(ROOT / ".venv" / "bin" / "chat2responses"), "intercept", "proxy"]
    with running([*command, "--port", str(port)], env={"HOME": str(tmp_path)}) as proxy:
        proxy.wait_for(re.compile(r"chat2responses is ready: "))
        client = _CLIENT.format(port=port)
        refused = shell(f"{PYTHON} -c '{client}'", env={"HTTPS_PROXY": f"http://127.0.0.1:{port}"})
        assert refused.returncode != 0
        assert "CERTIFICATE_VERIFY_FAILED" in refused.stderr
        text = section("Troubleshooting")
        logged = re.search(r"and mitmproxy\nlogs `([^`]+)`", text)
        assert logged is not None
        proxy.wait_for(re.compile(re.escape(logged[1].replace("\n", " "))))
        ca = tmp_path / ".mitmproxy" / "mitmproxy-ca-cert.pem"
        assert f"`{'~/.mitmproxy/mitmproxy-ca-cert.pem'}`" in text and ca.is_file()
        trusted = shell(
            f"{PYTHON} -c '{client}'",
            env={"HTTPS_PROXY": f"http://127.0.0.1:{port}", "SSL_CERT_FILE": str(ca)},
        )
        assert trusted.returncode == 0, trusted.stderr
        assert trusted.stdout == "Hello from the emulator. You said: Say hello\n"


_CLIENT = (
    "from openai import OpenAI; "
    'print(OpenAI(api_key="sk-test", max_retries=0).chat.completions.create(model="gpt-5.5", '
    'messages=[{{"role": "user", "content": "Say hello"}}]).choices[0].message.content)'
)


def _banner_curl(proxy: Running) -> str:
    """The "Try it" curl line of a running `scripts/run`, as printed."""
    text = proxy.text
    return text[text.index("  curl -sN ") : text.index("\n  python:")].strip()


def test_every_emulator_scenario_has_its_line() -> None:
    from chat2responses.emulator.triggers import ARGUMENTS, Scenario

    rows = re.findall(r"^\| `([a-z0-9_]+)(:N)?` \| (.+) \|$", section("The emulator"), re.M)
    listed = {name: (bool(arg), said) for name, arg, said in rows}
    assert set(listed) == {s.value for s in Scenario}
    for scenario in Scenario:
        takes, said = listed[scenario.value]
        assert takes is (scenario in ARGUMENTS), scenario
        if scenario in ARGUMENTS:  # its bounds and default, as --help says them
            argument = ARGUMENTS[scenario]
            dash = "\N{EN DASH}"
            assert f"({argument.low}{dash}{argument.high}, default {argument.default})" in said


def test_every_path_the_module_map_names_exists() -> None:
    rows = [
        line for line in section("Architecture and module map").splitlines() if line[:3] == "| `"
    ]
    assert rows
    named = set()
    for row in rows:
        cells = row.strip("|").split(" | ")
        first, *others = re.findall(r"`([^`]+)`", cells[0])
        folder = ROOT / first if (ROOT / first).is_dir() else (ROOT / first).parent
        named.add(folder.name)
        for path in [first, *(str(folder / o) for o in others)]:
            assert (ROOT / path).exists(), path
        for name in re.findall(r"`([a-z_/]+\.(?:py|json)|[a-z_]+/)`", cells[-1]):
            assert (folder / name).exists() or (ROOT / name).exists(), f"{first}: {name}"
    layers = {p.name for p in (ROOT / "chat2responses").iterdir() if p.is_dir()} - {"__pycache__"}
    assert layers <= named  # every folder of the package has its row


def test_every_link_inside_the_readme_has_its_heading() -> None:
    def anchor(heading: str) -> str:
        return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")

    headings = {anchor(h) for h in re.findall(r"^#{1,4} (.+)$", README, re.M)}
    assert set(re.findall(r"\]\(#([^)]+)\)", README)) <= headings
    for path in re.findall(r"\]\((?!#|https?:)([^)]+)\)", README):
        assert (ROOT / path).exists(), path  # LICENSE, the screenshots
