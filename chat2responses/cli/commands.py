"""What `chat2responses run` starts, as values: the upstream it means and the children's commands.

Owns: the table of named upstreams and their default `responses_auth`/`responses_rewrite`, and
the exact mitmdump/mitmweb and emulator command lines. Pure: no process is started here, nothing
is read from the environment but where this Python lives.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PACKAGE = __package__.rpartition(".")[0] if __package__ else "chat2responses"
PACKAGE_DIR = Path(__file__).resolve().parent.parent
ENTRY_SCRIPT = PACKAGE_DIR / "addon.py"
QUIET_SCRIPT = PACKAGE_DIR / "quiet.py"
EMULATOR_NAMES = frozenset({"", "emulator"})


class CliError(Exception):
    """Something the user can fix; printed as one message, exit status 2."""


@dataclass(frozen=True, slots=True)
class Upstream:
    url: str
    label: str
    auth: str
    rewrite: str


# name → (URL, label, default auth, default rewrite); the emulator's URL is known once it listens
NAMED_UPSTREAMS = {
    "codex": ("https://chatgpt.com/backend-api/codex", "the ChatGPT Codex backend", "codex", "all"),
    "openai": ("https://api.openai.com/v1", "the OpenAI API", "client", "catalog"),
}


def check_upstream(name: str) -> None:
    """Refuses a `--upstream` value that means nothing, before anything starts."""
    known = name in NAMED_UPSTREAMS or name in EMULATOR_NAMES
    if not known and not name.startswith(("http://", "https://")):
        raise CliError(f"--upstream takes a URL, codex, openai or emulator, not {name!r}")


def resolve_upstream(name: str, emulator_url: str | None, auth: str, rewrite: str) -> Upstream:
    """The upstream `--upstream name` means, with `auth`/`rewrite` defaulted where empty."""
    check_upstream(name)
    if name in NAMED_UPSTREAMS:
        url, label, default_auth, default_rewrite = NAMED_UPSTREAMS[name]
    elif name in EMULATOR_NAMES:
        if not emulator_url:
            raise CliError("the emulator upstream needs the emulator's URL")
        url, label, default_auth, default_rewrite = (
            emulator_url,
            "the bundled emulator",
            "client",
            "all",
        )
    else:
        url = name.rstrip("/")
        label, default_auth = url, "client"
        default_rewrite = "all" if "/backend-api/codex" in url else "catalog"
    return Upstream(url, label, auth or default_auth, rewrite or default_rewrite)


def origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def tool_command(tool: str) -> list[str]:
    """mitmdump/mitmweb from this environment: the script beside this Python, else via -c."""
    sibling = Path(sys.executable).parent / tool
    if sibling.is_file():
        return [str(sibling)]
    return [sys.executable, "-c", f"from mitmproxy.tools.main import {tool}; {tool}()"]


def emulator_command(verbose: bool) -> list[str]:
    """The bundled emulator on a free loopback port; quiet unless `verbose` (it logs each call)."""
    command = [sys.executable, "-m", f"{PACKAGE}.emulator", "--host", "127.0.0.1", "--port", "0"]
    return command if verbose else [*command, "--log-level", "WARNING"]


def mitmproxy_command(
    tool: str,
    upstream: Upstream,
    *,
    port: int,
    web_port: int | None,
    verbose: bool,
    extra: Sequence[str] = (),
) -> list[str]:
    """The proxy's command line; `extra` (what followed `--`) comes last, so it wins."""
    command = [*tool_command(tool), "--mode", f"reverse:{origin(upstream.url)}"]
    command += ["--listen-host", "127.0.0.1", "--listen-port", str(port)]
    command += ["--set", "connection_strategy=lazy"]
    if not verbose:
        command += ["-s", str(QUIET_SCRIPT)]
        if tool == "mitmdump":  # the dumper's flow lines; mitmweb has no dumper
            command += ["--set", "flow_detail=0"]
    command += ["-s", str(ENTRY_SCRIPT)]
    command += ["--set", f"responses_url={upstream.url}"]
    command += ["--set", f"responses_auth={upstream.auth}"]
    command += ["--set", f"responses_rewrite={upstream.rewrite}"]
    if web_port is not None:
        command += ["--web-host", "127.0.0.1", "--web-port", str(web_port)]
        command += ["--set", "web_open_browser=false"]
    return [*command, *extra]
