"""The `chat2responses` command's pure parts: flags and variables, upstreams, command lines, ports.

A real run (children, banner, console, Ctrl-C) is tests/cli/test_run_script.py.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from chat2responses.cli import build_parser, main, settings_from
from chat2responses.cli.commands import (
    ENTRY_SCRIPT,
    QUIET_SCRIPT,
    CliError,
    Upstream,
    banner,
    check_mitmproxy_args,
    mitmproxy_command,
    option_values,
    options_set_by,
    origin,
    resolve_upstream,
)
from chat2responses.cli.processes import claim_port, port_is_free

EMU = "http://127.0.0.1:4321/backend-api/codex"

UPSTREAMS = [
    # (--upstream, --auth, --rewrite) → (url, auth, rewrite)
    (("emulator", "", ""), (EMU, "client", "all")),
    (("", "", ""), (EMU, "client", "all")),
    (("codex", "", ""), ("https://chatgpt.com/backend-api/codex", "codex", "all")),
    (("openai", "", ""), ("https://api.openai.com/v1", "client", "catalog")),
    (("https://example.test/v1/", "", ""), ("https://example.test/v1", "client", "catalog")),
    (
        ("https://h.test/backend-api/codex", "", ""),
        ("https://h.test/backend-api/codex", "client", "all"),
    ),
    (
        ("codex", "client", "catalog"),
        ("https://chatgpt.com/backend-api/codex", "client", "catalog"),
    ),
    (("openai", "codex", "all"), ("https://api.openai.com/v1", "codex", "all")),
]


@pytest.mark.parametrize(("given", "want"), UPSTREAMS)
def test_upstream_names_and_their_defaults(
    given: tuple[str, str, str], want: tuple[str, str, str]
) -> None:
    name, auth, rewrite = given
    upstream = resolve_upstream(name, EMU, auth, rewrite)
    assert (upstream.url, upstream.auth, upstream.rewrite) == want


def test_the_emulator_upstream_refreshes_a_login_at_the_emulator_only() -> None:
    # A real ~/.codex login tried on the emulator (`--auth codex`) must never be refreshed at
    # auth.openai.com: the emulator has its own token endpoint, on its own port.
    emulator = resolve_upstream("emulator", EMU, "codex", "")
    assert emulator.refresh_url == origin(EMU) + "/oauth/token"
    command = mitmproxy_command("mitmdump", emulator, port=1, web_port=None, verbose=False)
    assert f"responses_codex_refresh_url={emulator.refresh_url}" in _after(command, "--set")
    for name in ("codex", "openai", "https://h.test/backend-api/codex"):
        upstream = resolve_upstream(name, EMU, "codex", "")
        assert upstream.refresh_url == ""
        command = mitmproxy_command("mitmdump", upstream, port=1, web_port=None, verbose=False)
        assert not any(
            s.startswith("responses_codex_refresh_url") for s in _after(command, "--set")
        )


def test_an_unknown_upstream_is_refused_with_the_choices() -> None:
    with pytest.raises(CliError, match="URL, codex, openai or emulator, not 'opnai'"):
        resolve_upstream("opnai", EMU, "", "")


def _parse(*argv: str) -> tuple[object, ...]:
    args = build_parser().parse_args(["run", *argv])
    s = settings_from(args, ())
    return (s.upstream, s.port, s.web, s.web_port, s.auth, s.rewrite, s.verbose)


def test_defaults_with_an_empty_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("UPSTREAM", "PORT", "WEB", "WEB_PORT", "AUTH", "REWRITE", "VERBOSE"):
        monkeypatch.delenv(f"C2R_{name}", raising=False)
    assert _parse() == ("emulator", 8080, False, 8081, "", "", False)


def test_each_variable_sets_its_flag_and_the_flag_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "C2R_UPSTREAM": "openai",
        "C2R_PORT": "9000",
        "C2R_WEB": "1",
        "C2R_WEB_PORT": "9001",
        "C2R_AUTH": "codex",
        "C2R_REWRITE": "all",
        "C2R_VERBOSE": "yes",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert _parse() == ("openai", 9000, True, 9001, "codex", "all", True)
    assert _parse("--upstream", "codex", "--port", "9100", "--auth", "client")[:5] == (
        "codex",
        9100,
        True,
        9001,
        "client",
    )


def test_every_flag_and_variable_is_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = capsys.readouterr().out
    for word in ("--upstream", "--port", "--web", "--web-port", "--auth", "--rewrite"):
        assert word in text
    for word in ("--verbose", "-- MITMPROXY_ARGS", "C2R_UPSTREAM", "C2R_PORT", "C2R_WEB=1"):
        assert word in text
    for word in ("C2R_WEB_PORT", "C2R_AUTH", "C2R_REWRITE", "C2R_VERBOSE", "C2R_PYTHON"):
        assert word in text
    assert "C2R_VENV" in text and "C2R_INSTALLER" in text
    assert "set -euo" not in text


def test_a_bad_port_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["run", "--port", "eighty"])
    assert exited.value.code == 2
    assert "not a port number: 'eighty'" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--port", "--web-port"])
def test_intercept_checks_its_ports_as_run_does(
    flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["intercept", "proxy", flag, "70000"])  # starts nothing
    assert exited.value.code == 2
    assert "not a port number: '70000'" in capsys.readouterr().err


def test_script_prints_the_installed_entry_script(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["script"]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path == ENTRY_SCRIPT and path.is_file() and path.name == "addon.py"
    assert (path.parent / "upstream" / "models.json").is_file()


def test_the_emulator_command_passes_its_arguments_through() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "chat2responses", "emulator", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert "--refuse-websocket" in done.stdout and "--ws-only-models" in done.stdout
    assert done.stdout.startswith("usage: chat2responses emulator [-h]")
    bad = subprocess.run(
        [sys.executable, "-m", "chat2responses", "emulator", "--port", "x"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert bad.returncode == 2
    assert "chat2responses emulator: error: argument --port: invalid int value: 'x'" in bad.stderr


UP = Upstream("http://127.0.0.1:4321/backend-api/codex", "emu", "client", "all")


def _after(command: list[str], flag: str) -> list[str]:
    return [command[i + 1] for i, word in enumerate(command) if word == flag]


def test_the_quiet_mitmdump_command() -> None:
    """Quieted from mitmproxy's first line by the launcher, not by a script it loads (which
    mitmproxy announces before the script can quiet anything)."""
    command = mitmproxy_command("mitmdump", UP, port=8080, web_port=None, verbose=False)
    assert command[:4] == [sys.executable, "-m", "chat2responses.glue.launch", "mitmdump"]
    assert _after(command, "--mode") == ["reverse:http://127.0.0.1:4321"]
    assert _after(command, "--listen-host") == ["127.0.0.1"]
    assert _after(command, "--listen-port") == ["8080"]
    assert _after(command, "-s") == [str(ENTRY_SCRIPT)]
    assert str(QUIET_SCRIPT) not in command
    assert _after(command, "--set") == [
        "connection_strategy=lazy",
        "flow_detail=0",
        f"responses_url={UP.url}",
        "responses_auth=client",
        "responses_rewrite=all",
    ]


def test_verbose_drops_the_quieting_and_extra_arguments_come_last() -> None:
    extra = ("--set", "flow_detail=3")
    command = mitmproxy_command("mitmdump", UP, port=1, web_port=None, verbose=True, extra=extra)
    assert Path(command[0]).name == "mitmdump"
    assert _after(command, "-s") == [str(ENTRY_SCRIPT)]
    assert "flow_detail=0" not in command
    assert command[-2:] == list(extra)


@pytest.mark.parametrize(
    ("tool", "extra", "replaced", "kept_after"),
    [
        (
            "mitmdump",
            ["--set", "flow_detail=3"],
            "flow_detail=0",
            {"--set": ["connection_strategy=lazy", f"responses_url={UP.url}"]},
        ),
        ("mitmdump", ["--set=responses_rewrite=catalog"], "responses_rewrite=all", {}),
        ("mitmdump", ["--set", "responses_url=http://h/v1"], f"responses_url={UP.url}", {}),
        ("mitmweb", ["--web-open-browser"], "web_open_browser=false", {}),
    ],
)
def test_an_option_given_after_the_double_dash_replaces_ours(
    tool: str, extra: list[str], replaced: str, kept_after: dict[str, list[str]]
) -> None:
    """mitmproxy refuses an option given twice ('Received multiple values for flow_detail'),
    or keeps a flag's value over a --set of the same option: so ours is left out."""
    web_port = 8181 if tool == "mitmweb" else None
    command = mitmproxy_command(tool, UP, port=8080, web_port=web_port, verbose=False, extra=extra)
    assert command[-len(extra) :] == extra
    assert replaced not in command[: -len(extra)]
    for flag, values in kept_after.items():
        assert all(value in _after(command, flag) for value in values)
    assert _after(command, "-s")[-1] == str(ENTRY_SCRIPT)


@pytest.mark.parametrize("mode", [["--mode", "socks5@1080"], ["-mregular@9"]])
def test_a_mode_after_the_double_dash_is_one_more_listener(mode: list[str]) -> None:
    """mitmproxy takes several modes: run's reverse proxy stays, on the port it waits for."""
    command = mitmproxy_command("mitmdump", UP, port=8080, web_port=None, verbose=False, extra=mode)
    assert _after(command, "--mode")[0] == "reverse:http://127.0.0.1:4321"
    assert _after(command, "--listen-port") == ["8080"] and command[-len(mode) :] == mode


@pytest.mark.parametrize(
    ("args", "options"),
    [
        ([], set()),
        (["--set", "a=1", "--set=b=2", "--set", "c"], {"a", "b", "c"}),
        (["--listen-port", "1", "-p2", "--mode=regular", "-m", "x"], {"listen_port", "mode"}),
        (["--no-web-open-browser", "--flow-detail", "2"], {"web_open_browser", "flow_detail"}),
        (["-s", "x.py", "--ssl-insecure", "-k", "--set"], set()),  # others, and a dangling --set
    ],
)
def test_the_options_a_command_line_sets(args: list[str], options: set[str]) -> None:
    assert options_set_by(args) == options


def test_mitmweb_gets_its_ui_port_and_no_dumper_option() -> None:
    command = mitmproxy_command("mitmweb", UP, port=1, web_port=8181, verbose=False)
    assert command[3] == "mitmweb"
    assert Path(mitmproxy_command("mitmweb", UP, port=1, web_port=8181, verbose=True)[0]).name == (
        "mitmweb"
    )
    assert _after(command, "--web-host") == ["127.0.0.1"]
    assert _after(command, "--web-port") == ["8181"]
    assert "web_open_browser=false" in command
    assert "flow_detail=0" not in command


def test_a_busy_port_is_refused_naming_it_and_the_way_out() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert not port_is_free(port)
        with pytest.raises(CliError) as refused:
            claim_port(port, "mitmdump", "--port", "C2R_PORT")
    message = str(refused.value)
    assert f"port {port} on 127.0.0.1 is already in use" in message
    assert "--port N" in message and "C2R_PORT=N" in message
    suggested = int(re.search(r"e\.g\. --port (\d+);", message)[1])  # type: ignore[index]
    assert suggested != port and port_is_free(suggested)
    assert port_is_free(port)
    assert claim_port(port, "mitmdump", "--port", "C2R_PORT") == port


def test_port_zero_picks_a_free_port() -> None:
    port = claim_port(0, "mitmdump", "--port", "C2R_PORT")
    assert port > 0 and port_is_free(port)


@pytest.mark.parametrize(
    ("args", "values"),
    [
        ([], {}),
        (["--set", "a=1", "--set=b=x=y", "--set", "c", "-p", "9"], {"a": "1", "b": "x=y"}),
        (["--set", "a=1", "--set", "a=2"], {"a": "2"}),
    ],
)
def test_the_values_a_command_line_sets(args: list[str], values: dict[str, str]) -> None:
    assert option_values(args) == values


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "responses_transport=pigeon"], "responses_transport must be one of"),
        (["--set=responses_keepalive=soon"], "responses_keepalive must be a whole number"),
        (["--set", "responses_retry=1"], "did you mean responses_retries?"),
    ],
)
def test_a_bad_addon_option_is_refused_before_anything_starts(
    args: list[str], message: str
) -> None:
    with pytest.raises(CliError, match=message) as caught:
        check_mitmproxy_args(args)
    assert str(caught.value).endswith("(after --)")


def test_other_options_are_mitmproxys_to_check() -> None:
    check_mitmproxy_args(["--set", "flow_detail=3", "--set", "responses_retries=3", "-k"])
    check_mitmproxy_args(["--mode", "socks5@1080", "-s", "mine.py"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-p", "9090"], "listen_port is run's to set, not mitmproxy's after --: use --port N"),
        (["--listen-port=9090"], "use --port N"),
        (["--set", "listen_port=9090"], "use --port N"),
        (["--web-port", "9"], "use --web-port N"),
        (["--set", "listen_host=0.0.0.0"], "run listens on 127.0.0.1 only"),
        (["--web-host", "::1"], "run listens on 127.0.0.1 only"),
    ],
)
def test_where_run_listens_is_refused_after_the_double_dash(args: list[str], message: str) -> None:
    """run waits on its own port and address: one given to mitmproxy instead would be waited
    for in vain."""
    with pytest.raises(CliError, match=re.escape(message)):
        check_mitmproxy_args(args)


@pytest.mark.parametrize(
    ("name", "model", "key", "shown"),
    [
        ("emulator", "gpt-5.5", "sk-local", "the bundled emulator (http://127.0.0.1:5/"),
        ("openai", "gpt-5.5", "$OPENAI_API_KEY", "the OpenAI API (https://api.openai.com/v1)"),
        ("codex", "gpt-5.5", "sk-local", "the ChatGPT Codex backend (https://chatgpt.com/"),
        ("http://127.0.0.1:9/v1", "gpt-5.5", "$OPENAI_API_KEY", "upstream http://127.0.0.1:9/v1."),
    ],
)
def test_the_banner_tries_a_model_the_upstream_rewrites_with_the_key_it_needs(
    name: str, model: str, key: str, shown: str
) -> None:
    upstream = resolve_upstream(name, "http://127.0.0.1:5/backend-api/codex", "", "")
    text = banner("mitmdump", 8080, upstream, None)
    assert shown in text
    assert "mitmweb UI" not in text
    assert "from another shell:  chat2responses status\n" in text
    assert f'"model":"{model}"' in text and f'model="{model}"' in text
    assert f"Bearer {key}" in text
    # The SDK reads OPENAI_API_KEY itself; a placeholder only where no key goes upstream.
    assert ('api_key="sk-local"' in text) is (key == "sk-local")


def test_version_names_the_project_mitmproxy_and_python(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert re.fullmatch(r"chat2responses \S+ \(mitmproxy 12\.\S+, Python 3\.\d+\.\d+\)\n", out)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--prot", "8282"], "unrecognized arguments: --prot 8282 (did you mean --port?)"),
        (["run", "--upstrem", "codex"], "(did you mean --upstream?)"),
        (["run", "--zzz"], "unrecognized arguments: --zzz\n"),
        (["--verbose", "run"], "(--verbose goes after the command: chat2responses run --verbose)"),
        (["run", "--set", "flow_detail=3"], "(mitmproxy's arguments go after --: chat2responses"),
    ],
)
def test_a_mistyped_flag_gets_the_commands_usage_and_the_near_miss(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as done:
        main(args)
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: chat2responses run [options]")
    assert message in err


def test_the_banner_names_mitmwebs_address_and_the_status_command_for_its_port() -> None:
    upstream = resolve_upstream("emulator", EMU, "", "")
    url = "http://127.0.0.1:8181/?token=0123abcd"
    text = banner("mitmweb", 9090, upstream, url, ".venv/bin/chat2responses")
    assert f"  mitmweb UI:  {url}\n" in text
    assert "from another shell:  .venv/bin/chat2responses status --port 9090\n" in text


def test_web_port_implies_web(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WEB", "WEB_PORT"):
        monkeypatch.delenv(f"C2R_{name}", raising=False)
    assert _parse("--web-port", "9001")[2:4] == (True, 9001)
    assert _parse("--web")[2:4] == (True, 8081)
    assert _parse()[2:4] == (False, 8081)
    monkeypatch.setenv("C2R_WEB_PORT", "9002")
    assert _parse()[2:4] == (True, 9002)


def test_the_ui_port_may_not_be_the_proxys() -> None:
    with pytest.raises(CliError, match="--web-port 9090 is the port of the proxy itself"):
        claim_port(9090, "mitmweb's UI", "--web-port", "C2R_WEB_PORT", taken=9090)


def test_no_free_port_nearby_leaves_only_port_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("chat2responses.cli.processes.port_is_free", lambda port: False)
    with pytest.raises(CliError) as refused:
        claim_port(8080, "mitmdump", "--port", "C2R_PORT")
    assert "(or C2R_PORT=N), --port 0 picks a free one." in str(refused.value)
