"""Shared fixtures: the emulator and a real mitmdump with the addon, started once per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.emulator_helpers import emulator_subprocess
from tests.proxy_helpers import Mitmdump, run_mitmdump


@pytest.fixture(scope="session")
def emulator_url() -> Iterator[str]:
    with emulator_subprocess() as url:
        yield url


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


@pytest.fixture(scope="session")
def proxy(emulator_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mitmdump]:
    """mitmdump in reverse mode in front of the emulator, rewriting every chat request."""
    confdir: Path = tmp_path_factory.mktemp("mitmproxy")
    options = {"responses_url": emulator_url, "responses_rewrite": "all"}
    with run_mitmdump(f"reverse:{_origin(emulator_url)}", confdir, options) as running:
        yield running


@pytest.fixture(scope="session")
def http_proxy(emulator_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mitmdump]:
    """The same, with `responses_transport=http` forced."""
    confdir: Path = tmp_path_factory.mktemp("mitmproxy-http")
    options = {
        "responses_url": emulator_url,
        "responses_rewrite": "all",
        "responses_transport": "http",
    }
    with run_mitmdump(f"reverse:{_origin(emulator_url)}", confdir, options) as running:
        yield running
