"""What `pip install .` ships: pyproject's explicit package list must name every package, or a
wheel installs without it (the editable install the suite runs from would not notice)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_directory_is_listed_in_pyproject() -> None:
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "chat2responses").rglob("__init__.py")
    }
    assert found == listed
