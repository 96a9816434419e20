"""The architecture's import rules, checked on the source: the core stays sans-I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ADDON = Path(__file__).resolve().parent.parent / "chat2responses"

# module (relative to chat2responses/) → the guarded top-level modules it may import
GUARDED = {"mitmproxy", "websockets", "asyncio", "aiohttp", "socket", "threading"}
ALLOWED = {
    **{f"glue/{p.name}": {"mitmproxy"} for p in (ADDON / "glue").glob("*.py")},
    "chat2responses.py": {"mitmproxy"},
    **{
        f"transports/websocket/{p.name}": {"websockets", "asyncio"}
        for p in (ADDON / "transports" / "websocket").glob("*.py")
    },
    "transports/http.py": {"asyncio", "aiohttp"},
    "transports/call.py": {"asyncio", "aiohttp"},
    "transports/answer.py": {"asyncio"},
    "transports/loopback.py": {"asyncio", "socket"},
    "transports/job.py": {"asyncio"},
    "transports/attempt_events.py": {"asyncio"},
    "transports/driver.py": {"asyncio", "aiohttp", "socket"},
    "emulator/server.py": {"asyncio", "aiohttp", "socket"},
    "emulator/__main__.py": {"asyncio", "aiohttp", "socket"},
    "emulator/websocket.py": {"asyncio", "aiohttp", "socket"},
    "login_refresh.py": {"asyncio", "aiohttp"},
    "transports/sessions.py": {"asyncio", "aiohttp"},
    "transports/catalog_fetch.py": {"asyncio", "aiohttp"},
    # the command: probes ports and watches its children's output
    "cli/processes.py": {"socket", "threading"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


MODULES = sorted(p for p in ADDON.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ADDON)))
def test_module_imports_only_what_its_layer_allows(path: Path) -> None:
    rel = str(path.relative_to(ADDON))
    guarded = _imports(path) & GUARDED
    assert guarded <= ALLOWED.get(rel, set()), f"{rel} imports {sorted(guarded)}"


def test_the_core_modules_exist_and_are_checked() -> None:
    names = {str(p.relative_to(ADDON)) for p in MODULES}
    core = {"translate_request.py", "translate_stream.py", "sse.py", "events.py", "catalog.py"}
    assert core <= names
    assert all(name not in ALLOWED for name in core)


def test_only_the_glue_package_imports_mitmproxy() -> None:
    importers = {str(p.relative_to(ADDON)) for p in MODULES if "mitmproxy" in _imports(p)}
    assert importers <= {"chat2responses.py"} | {
        str(p.relative_to(ADDON)) for p in (ADDON / "glue").glob("*.py")
    }


@pytest.mark.parametrize(
    "path", sorted((ADDON / "glue").glob("*.py")), ids=lambda p: str(p.relative_to(ADDON))
)
def test_glue_modules_stay_small(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= 300


def test_only_the_websocket_package_imports_websockets() -> None:
    importers = {str(p.relative_to(ADDON)) for p in MODULES if "websockets" in _imports(p)}
    assert importers
    assert all(name.startswith("transports/websocket/") for name in importers), importers
