"""What `pip install .` ships: every package of the tree, and every data file in it (a wheel
without `upstream/models.json` installs and then fails on the first call; the editable install
the suite runs from would not notice)."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "chat2responses"


def _setuptools() -> dict[str, object]:
    config: dict[str, object] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"][
        "setuptools"
    ]
    return config


def test_every_package_directory_is_found() -> None:
    find = _setuptools()["packages"]
    assert isinstance(find, dict)
    patterns = find["find"]["include"]
    found = {".".join(init.parent.relative_to(ROOT).parts) for init in PACKAGE.rglob("__init__.py")}
    assert all(any(fnmatch.fnmatch(name, p) for p in patterns) for name in found)
    # A folder of modules without an __init__.py would be left out of the wheel.
    folders = {p.parent for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts}
    assert all((folder / "__init__.py").is_file() for folder in folders)


def test_every_data_file_is_package_data() -> None:
    data = _setuptools()["package-data"]
    assert isinstance(data, dict)
    files = [
        p
        for p in PACKAGE.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    ]
    assert files  # models.json at least
    for path in files:
        package = ".".join(path.parent.relative_to(ROOT).parts)
        assert any(fnmatch.fnmatch(path.name, g) for g in data.get(package, [])), path
