"""The client identity the Codex backend sees, and the model gating it drives.

The Codex backend gates models on the client's version: a catalog entry's
`minimal_client_version` is compared with the version the client names in its `User-Agent`
(`codex_cli_rs/<version> (…)`) and `version` headers, and `GET …/models?client_version=` lists
fewer models to older versions (reference/codex-backend-2026.md §8). So every call this project
makes to that backend speaks as one current Codex CLI, as the CLI itself does
(codex-rs/login/src/auth/default_client.rs: `originator`, the `User-Agent`; the built-in
provider's `version` header, codex-rs/model-provider-info): `identity_headers` for the HTTP and
WebSocket calls and the catalog fetch, `refresh_headers` for the token refresh (the CLI's auth
client sends no `version`).

Rule 1: one identity per process, from `responses_client_version` (default `CODEX_CLI_VERSION`,
        the newest Codex CLI this project knows); the originator is the interactive CLI's
        (`codex_cli_rs`, which every model accepts); the client's own `User-Agent` and
        `originator` never reach the backend.
Rule 2: a model whose `minimal_client_version` is above that version is refused before anything
        goes upstream: a 400 naming the version it needs and the option to set.
Rule 3: a client that names a Codex originator (`is_codex_originator`), in its `originator`
        header or at the start of its `User-Agent` (`is_codex_client`), is a Codex client: it is
        sent the backend's vendor events as they came, and told not to retry in the form it
        honours (call/giving_up.py).

Pure: the host's description is read once from `platform` (no I/O beyond that).
"""

from __future__ import annotations

import platform
import re
from collections.abc import Iterable, Mapping
from functools import cache

from chat2responses.protocol.errors import ClientError

# The newest Codex CLI release this project knows (npm `@openai/codex`, December 2026). What its
# `codex exec` sends is tests/fixtures/codex_cli_0.171.0.json.
CODEX_CLI_VERSION = "0.171.0"
ORIGINATOR = "codex_cli_rs"
OPTION = "responses_client_version"

Version = tuple[int, int, int]

_VERSION = re.compile(r"(\d{1,6})\.(\d{1,6})\.(\d{1,6})(?:-[0-9A-Za-z.]{1,32})?")
# `<originator>/<version>` at the start of a Codex User-Agent.
_AGENT = re.compile(r"^([A-Za-z0-9_ .-]{1,64})/(\d{1,6}\.\d{1,6}\.\d{1,6})")
# The originators of OpenAI's own Codex clients (default_client.rs `is_first_party_originator`,
# plus `codex exec`'s own and the desktop apps').
_CODEX_ORIGINATORS = frozenset(
    {"codex_cli_rs", "codex_exec", "codex-tui", "codex_vscode", "codex_chatgpt_desktop"}
)


def parse_version(value: object) -> Version | None:
    """`"0.153.0"` (a pre-release suffix allowed) or `[0, 153, 0]` as a comparable triple;
    None for anything else."""
    if isinstance(value, str):
        found = _VERSION.fullmatch(value.strip())
        return (int(found[1]), int(found[2]), int(found[3])) if found else None
    if not isinstance(value, list | tuple) or len(value) != 3:
        return None
    if all(isinstance(part, int) and not isinstance(part, bool) for part in value):
        return (value[0], value[1], value[2])
    return None


def version_text(version: Version) -> str:
    return ".".join(str(part) for part in version)


def check_client_version(value: str) -> str:
    """`responses_client_version` as given, checked (a ValueError names the option)."""
    text = value.strip()
    if parse_version(text) is None:
        raise ValueError(
            f"{OPTION} must be a Codex CLI version such as {CODEX_CLI_VERSION!r}, not {value!r}"
        )
    return text


@cache
def _host() -> str:
    """`Linux 6.8.0; x86_64`, as the CLI's `os_info` names the host (best effort)."""
    system = platform.system() or "Unknown"
    release = re.sub(r"[^0-9.].*$", "", platform.release()) or "0.0.0"
    machine = platform.machine() or "unknown"
    return f"{system} {release}; {machine}"


def user_agent(version: str) -> str:
    """The CLI's `User-Agent`: `codex_cli_rs/<version> (<os> <os version>; <arch>) <terminal>`;
    a proxy has no terminal, which the CLI names `unknown`."""
    return f"{ORIGINATOR}/{version} ({_host()}) unknown"


def identity_headers(version: str) -> dict[str, str]:
    """The headers that name the client on every call to the Codex backend (rule 1)."""
    return {"originator": ORIGINATOR, "user-agent": user_agent(version), "version": version}


def refresh_headers(version: str) -> dict[str, str]:
    """What the CLI's login client sends the token endpoint: its originator and User-Agent."""
    return {"originator": ORIGINATOR, "user-agent": user_agent(version)}


def with_identity(headers: Mapping[str, str], version: str) -> dict[str, str]:
    """`headers` (lower-case names) with the client's own identity replaced by ours (rule 1)."""
    out = {k: v for k, v in headers.items() if k not in ("originator", "user-agent", "version")}
    out.update(identity_headers(version))
    return out


def version_of(headers: Mapping[str, str]) -> Version | None:
    """The client version a request names: its `version` header, else its `User-Agent`'s
    `<originator>/<version>` (as the backend reads it); None when it names none."""
    given = parse_version(headers.get("version", ""))
    if given is not None:
        return given
    found = _AGENT.match(headers.get("user-agent", "").strip())
    return parse_version(found[2]) if found else None


def is_codex_originator(originator: str | None) -> bool:
    """Whether a client calls itself one of OpenAI's Codex clients (rule 3)."""
    name = (originator or "").strip()
    return name in _CODEX_ORIGINATORS or name.startswith("Codex ")


def is_codex_client(fields: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether a request's raw header `fields` name a Codex originator (rule 3): its `originator`
    header, or the `<originator>/<version>` its `User-Agent` begins with."""
    for name, value in fields:
        key, text = name.lower(), value.decode("latin-1").strip()
        if key == b"user-agent" and (found := _AGENT.match(text)) is not None:
            text = found[1]
        elif key != b"originator":
            continue
        if is_codex_originator(text):
            return True
    return False


def too_old_for(model: str, minimal: Version | None, version: str) -> ClientError | None:
    """Rule 2: the 400 for a call to `model` that needs `minimal` when we speak as `version`."""
    current = parse_version(version)
    if minimal is None or current is None or current >= minimal:
        return None
    needed = version_text(minimal)
    return ClientError(
        f"The model '{model}' needs Codex CLI {needed} or newer, and chat2responses speaks to "
        f"the Codex backend as Codex CLI {version}: set the option {OPTION} to {needed} or "
        f"newer (e.g. --set {OPTION}={max(needed, CODEX_CLI_VERSION, key=_key)}).",
        param="model",
        code="client_version_too_old",
    )


def _key(text: str) -> Version:
    return parse_version(text) or (0, 0, 0)
