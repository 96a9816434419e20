"""The architecture's import rules, checked on the source: each folder is one layer.

The pure layers (the package's top-level modules, protocol/, request/, response/, upstream/,
call/, views/) import no I/O library; the I/O front ends each import only what they need.
ruff's banned-imports rule says the same in pyproject.toml; this test says it per folder.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "chat2responses"

GUARDED = {
    "mitmproxy",
    "websockets",
    "asyncio",
    "aiohttp",
    "socket",
    "threading",
    "redis",
    "prometheus_client",
}
PURE = ("protocol", "request", "response", "upstream", "call", "views")
# folder (or module) → the guarded libraries it may import
ALLOWED: dict[str, set[str]] = {
    **{layer: set() for layer in PURE},
    "glue": {"mitmproxy", "asyncio"},
    # transports/metrics.py serves /metrics with prometheus_client's own server
    "transports": {"asyncio", "aiohttp", "socket", "redis", "prometheus_client"},
    "transports/websocket": {"websockets", "asyncio"},
    "emulator": {"asyncio", "aiohttp", "socket"},
    # the command: probes ports and watches its children's output
    "cli": {"socket", "threading"},
}
# The most an I/O folder's modules may be: glue modules are thin (DESIGN: glue ≤ ~300 lines).
GLUE_LINES = 300


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def _layer(path: Path) -> str:
    """The folder a module belongs to (its deepest listed folder), or "" at the top."""
    rel = path.relative_to(PACKAGE).parent.as_posix()
    while rel not in ALLOWED and rel not in ("", "."):
        rel = rel.rpartition("/")[0]
    return "" if rel == "." else rel


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_imports_only_what_its_layer_allows(path: Path) -> None:
    rel = path.relative_to(PACKAGE).as_posix()
    allowed = ALLOWED.get(_layer(path), set())
    if rel == "addon.py":  # the installed entry script: it builds the glue's addons
        allowed = set()
    guarded = _imports(path) & GUARDED
    assert guarded <= allowed, f"{rel} imports {sorted(guarded)}"


def test_the_top_level_holds_only_a_few_modules() -> None:
    """A newcomer reads the layers from the folder list: the top level is the entry points and
    the options, nothing else."""
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    entry_points = ["__init__.py", "__main__.py", "addon.py", "quiet.py"]
    assert top == sorted([*entry_points, "options.py", "settings.py"])
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"} == {
        *PURE,
        "glue",
        "transports",
        "emulator",
        "cli",
    }


def test_every_pure_layer_is_checked_and_has_its_core() -> None:
    names = {p.relative_to(PACKAGE).as_posix() for p in MODULES}
    core = {
        "request/translate.py",
        "response/translate.py",
        "protocol/sse.py",
        "protocol/events.py",
        "upstream/catalog.py",
        "call/policy.py",
    }
    assert core <= names
    assert all(_layer(PACKAGE / name) in PURE for name in core)


def test_only_the_glue_package_imports_mitmproxy() -> None:
    importers = {_layer(p) for p in MODULES if "mitmproxy" in _imports(p)}
    assert importers == {"glue"}


def test_only_the_websocket_package_imports_websockets() -> None:
    importers = {_layer(p) for p in MODULES if "websockets" in _imports(p)}
    assert importers == {"transports/websocket"}


@pytest.mark.parametrize(
    "path", sorted((PACKAGE / "glue").glob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_glue_modules_stay_small(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= GLUE_LINES
