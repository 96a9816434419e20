"""`chat2responses keys add NAME --file PATH`: a new key for one person of a keys file.

Prints the new key on stdout, alone on its line (a script can capture it), and appends only its
SHA-256 to the file (`NAME SHA256`, request/client_keys.py), creating the file readable by its
owner only. The key is shown once: the file cannot give it back. A person may hold several keys
(a new one before the old line is deleted); a running proxy reads the change on its next request.

Must not: keep or log the key anywhere but stdout.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from chat2responses.cli.commands import CliError
from chat2responses.request.client_keys import key_line, parse_keys

KEY_PREFIX = "sk-c2r-"


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def add_key(name: str, path: Path) -> str:
    """Append a new key's line for `name` to `path`; returns the key."""
    key = new_key()
    try:
        line = key_line(name, key)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    try:
        existing = path.read_bytes() if path.exists() else b""
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    try:
        parse_keys(existing.decode("utf-8"), str(path))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CliError(f"{path} is not a keys file as it stands ({exc}); mend it first") from None
    prefix = "\n" if existing and not existing.endswith(b"\n") else ""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as out:
            out.write(prefix + line)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror}") from None
    return key


def run_keys_add(name: str, file: str) -> int:
    path = Path(file).expanduser()
    key = add_key(name, path)
    print(key, flush=True)
    print(
        f"chat2responses: added a key for {name} to {path} (only its SHA-256 is kept there). "
        f"Give {name} the key above: it is not shown again. A proxy started with "
        f"--set responses_client_keys={path} takes it on its next request.",
        file=sys.stderr,
    )
    return 0
