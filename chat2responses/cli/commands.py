"""What `chat2responses run` starts, as values: the upstream it means and the children's commands.

Owns: the table of named upstreams and their default `responses_auth`/`responses_rewrite`, and
the exact mitmdump/mitmweb and emulator command lines. Pure: no process is started here, nothing
is read from the environment but where this Python lives.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from urllib.parse import urlsplit

from chat2responses.settings import Settings
from chat2responses.upstream.catalog import Catalog
from chat2responses.upstream.login import REFRESH_URL
from chat2responses.upstream.profiles import profile_for_url
from chat2responses.upstream.routing import ours_under_catalog

PACKAGE = __package__.rpartition(".")[0] if __package__ else "chat2responses"
PACKAGE_DIR = Path(__file__).resolve().parent.parent
ENTRY_SCRIPT = PACKAGE_DIR / "addon.py"
QUIET_SCRIPT = PACKAGE_DIR / "quiet.py"
EMULATOR_NAMES = frozenset({"", "emulator"})
EMULATOR_LABEL = "the bundled emulator"


class CliError(Exception):
    """Something the user can fix; printed as one message, exit status 2."""


@dataclass(frozen=True, slots=True)
class Upstream:
    url: str
    label: str
    auth: str
    rewrite: str
    # The login's token endpoint, when not the real one: the emulator's own, so that a real
    # login tried against it is never refreshed at auth.openai.com (nor anything else sent out).
    refresh_url: str = ""


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
            EMULATOR_LABEL,
            "client",
            "all",
        )
    else:
        url = name.rstrip("/")
        label, default_auth = url, "client"
        default_rewrite = "all" if "/backend-api/codex" in url else "catalog"
    # The emulator serves the token endpoint at the real one's path, on its own origin.
    refresh_url = origin(url) + urlsplit(REFRESH_URL).path if name in EMULATOR_NAMES else ""
    return Upstream(url, label, auth or default_auth, rewrite or default_rewrite, refresh_url)


def origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def tool_command(tool: str, *, verbose: bool = True) -> list[str]:
    """mitmdump/mitmweb from this environment: the script beside this Python (else via -c);
    not `verbose`, through glue/launch.py, which quiets mitmproxy before its first line."""
    if not verbose:
        return [sys.executable, "-m", f"{PACKAGE}.glue.launch", tool]
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
    modes: Sequence[str] = (),
) -> list[str]:
    """The proxy's command line; `extra` (what followed `--`) comes last, and an option it sets
    replaces the one set here (mitmproxy refuses an option given twice, or quietly keeps the
    wrong one). A mode it gives is one more listener (mitmproxy takes several); the address and
    ports are `run`'s own (check_mitmproxy_args refuses them after `--`). `modes` (intercept's,
    each with its listen address) replace the reverse proxy on 127.0.0.1:`port`."""
    theirs = options_set_by(extra)
    command = tool_command(tool, verbose=verbose)
    if modes:
        command += [word for mode in modes for word in ("--mode", mode)]
    else:
        command += ["--mode", f"reverse:{origin(upstream.url)}"]
        command += ["--listen-host", "127.0.0.1", "--listen-port", str(port)]
    ours: list[tuple[str, list[str]]] = [
        ("connection_strategy", ["--set", "connection_strategy=lazy"]),
    ]
    if not verbose and tool == "mitmdump":  # the dumper's flow lines; mitmweb has no dumper
        ours.append(("flow_detail", ["--set", "flow_detail=0"]))
    ours += [
        ("responses_url", ["--set", f"responses_url={upstream.url}"]),
        ("responses_auth", ["--set", f"responses_auth={upstream.auth}"]),
        ("responses_rewrite", ["--set", f"responses_rewrite={upstream.rewrite}"]),
    ]
    if upstream.refresh_url:
        refresh = f"responses_codex_refresh_url={upstream.refresh_url}"
        ours.append(("responses_codex_refresh_url", ["--set", refresh]))
    if web_port is not None:
        command += ["--web-host", "127.0.0.1", "--web-port", str(web_port)]
        ours.append(("web_open_browser", ["--set", "web_open_browser=false"]))
    for option, words in ours:
        if option not in theirs:
            command += words
    return [*command, "-s", str(ENTRY_SCRIPT), *extra]


# mitmproxy's own flags for the options set above (mitmproxy/tools/cmdline.py).
_FLAGS = {
    "--mode": "mode",
    "-m": "mode",
    "--listen-host": "listen_host",
    "--listen-port": "listen_port",
    "-p": "listen_port",
    "--web-host": "web_host",
    "--web-port": "web_port",
    "--web-open-browser": "web_open_browser",
    "--no-web-open-browser": "web_open_browser",
    "--flow-detail": "flow_detail",
    "--allow-hosts": "allow_hosts",
    "--ignore-hosts": "ignore_hosts",
}


def _set_specs(args: Sequence[str]) -> Iterator[str]:
    """The `NAME[=VALUE]` of each `--set NAME[=VALUE]` or `--set=NAME[=VALUE]` in `args`."""
    for i, word in enumerate(args):
        if word == "--set" and i + 1 < len(args):
            yield args[i + 1]
        elif word.startswith("--set="):
            yield word.removeprefix("--set=")


def options_set_by(args: Sequence[str]) -> frozenset[str]:
    """The mitmproxy options that `args` sets: by `--set` or by one of the flags in _FLAGS
    (`--flag VALUE`, `--flag=VALUE`, `-pVALUE`)."""
    found = {spec.partition("=")[0] for spec in _set_specs(args)}
    for word in args:
        flag = word.partition("=")[0] if word.startswith("--") else word[:2]
        if word.startswith("-") and flag in _FLAGS:
            found.add(_FLAGS[flag])
    return frozenset(found)


def option_values(args: Sequence[str]) -> dict[str, str]:
    """The `--set NAME=VALUE` (`--set=NAME=VALUE`) values in `args`, by option name."""
    pairs = (spec.partition("=") for spec in _set_specs(args))
    return {name: value for name, equals, value in pairs if equals}


# Where `run` listens: its own flags say it (it checks those ports and waits on them).
_OWN_PLACES = {
    "listen_port": "use --port N",
    "web_port": "use --web-port N",
    "listen_host": "run listens on 127.0.0.1 only (run mitmdump yourself for another address)",
    "web_host": "run listens on 127.0.0.1 only (run mitmweb yourself for another address)",
}


def check_mitmproxy_args(args: Sequence[str]) -> None:
    """Refuses, before anything starts, what `args` (the mitmproxy arguments after `--`) must
    not set: where `run` listens, and a bad value (or an unknown name) of an addon option,
    on which mitmproxy would open its port, then exit."""
    if clashes := sorted(options_set_by(args) & _OWN_PLACES.keys()):
        option = clashes[0]
        raise CliError(f"{option} is run's to set, not mitmproxy's after --: {_OWN_PLACES[option]}")
    ours = {k: v for k, v in option_values(args).items() if k.startswith("responses_")}
    try:
        Settings.from_strings(ours)
    except ValueError as exc:
        raise CliError(f"{exc} (after --)") from None


# The model "Try it" asks for, first choice first: the catalog's headline model (current, and one
# `GET /v1/models` lists), or on the OpenAI API a model it serves through the Responses API only.
TRY_MODELS = {NAMED_UPSTREAMS["openai"][0]: ("gpt-5.5", "gpt-5-codex")}
DEFAULT_TRY_MODELS = ("gpt-5.5",)


def try_model(upstream: Upstream) -> str:
    """A model the addon rewrites for `upstream` as `run` sets it up (the embedded catalog, and
    `responses_rewrite`): a model it would pass through would not show the addon at all."""
    candidates = TRY_MODELS.get(upstream.url, DEFAULT_TRY_MODELS)
    if upstream.rewrite == "all":
        return candidates[0]
    catalog, profile = Catalog.default(), profile_for_url(upstream.url)
    for model in candidates:
        if ours_under_catalog(catalog.match(model), profile, chat=True):
            return model
    raise CliError(f"no model of {candidates} is rewritten for {upstream.url}")  # a broken catalog


def banner(
    tool: str,
    port: int,
    upstream: Upstream,
    web_url: str | None = None,
    command: str = "chat2responses",
) -> str:
    """What `run` prints once ready; `web_url`: mitmweb's, with its token; `command`: how the
    user runs this command from their shell (for the status line)."""
    base = f"http://127.0.0.1:{port}/v1"
    emulator = upstream.label == EMULATOR_LABEL
    # The client's key goes upstream unless the emulator or the Codex login answers.
    own_key = not emulator and upstream.auth == "client"
    key = "$OPENAI_API_KEY" if own_key else "sk-local"
    client = f'OpenAI(base_url="{base}"' + ("" if own_key else ', api_key="sk-local"') + ")"
    model = try_model(upstream)
    message = '"messages":[{"role":"user","content":"Say hello"}]'
    body = f'{{"model":"{model}","stream":true,{message}}}'
    where = upstream.label
    if upstream.url != upstream.label:
        where += f" ({upstream.url})"
    lines = [
        "",
        f"chat2responses is ready: {tool} on 127.0.0.1:{port}, upstream {where}.",
        f"  OpenAI base URL for your client:  {base}",
    ]
    if web_url is not None:
        lines.append(f"  mitmweb UI:  {web_url}")
    lines += [
        "Try it:",
        f"  curl -sN {base}/chat/completions -H 'content-type: application/json' \\",
        f'    -H "authorization: Bearer {key}" \\',
        f"    -d '{body}'",
        f"  python: {client}.chat.completions.create(",
        f'              model="{model}", messages=[{{"role": "user", "content": "Say hello"}}])',
        f"Quota and learned routes, from another shell:  {command} status"
        + ("" if port == 8080 else f" --port {port}"),
        "Each rewritten call prints one line below (--verbose: mitmproxy's own lines too).",
        "Press Ctrl-C to stop.",
        "",
    ]
    return "\n".join(lines)


def version_text() -> str:
    """`chat2responses --version`: its version, and mitmproxy's and Python's beside it."""

    def of(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    python = platform.python_version()
    return f"chat2responses {of('chat2responses')} (mitmproxy {of('mitmproxy')}, Python {python})"
