"""The quiet console: quiet.py's levels (the script), and glue/launch.py (how `run` starts a
quiet mitmproxy)."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from chat2responses.quiet import LEVELS, QuietMitmproxy


@pytest.fixture(autouse=True)
def _levels_back() -> Iterator[None]:
    saved = {name: logging.getLogger(name).level for name in LEVELS}
    yield
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def _loader(exiting: bool) -> SimpleNamespace:
    should_exit = asyncio.Event()
    if exiting:
        should_exit.set()
    return SimpleNamespace(master=SimpleNamespace(should_exit=should_exit))


def test_loaded_it_quiets_mitmproxy_but_not_mitmwebs_address() -> None:
    logging.getLogger("mitmproxy").setLevel(logging.NOTSET)
    ours = logging.getLogger("chat2responses").level
    QuietMitmproxy().load(_loader(exiting=False))
    assert logging.getLogger("mitmproxy.proxy.server").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("mitmproxy.tools.web.master").getEffectiveLevel() == logging.INFO
    assert logging.getLogger("chat2responses").level == ours


@pytest.mark.parametrize(("exiting", "level"), [(False, logging.NOTSET), (True, logging.WARNING)])
def test_unloaded_it_puts_the_levels_back_unless_mitmproxy_is_exiting(
    exiting: bool, level: int
) -> None:
    """Exiting, the levels stay: put back, the shutdown's 'client disconnect' lines would show."""
    logging.getLogger("mitmproxy").setLevel(logging.NOTSET)
    quiet = QuietMitmproxy()
    quiet.load(_loader(exiting))
    quiet.done()
    assert logging.getLogger("mitmproxy").level == level


def test_the_launcher_refuses_anything_but_mitmdump_and_mitmweb() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "chat2responses.glue.launch", "mitmproxy"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "usage: python -m chat2responses.glue.launch mitmdump|mitmweb" in done.stderr


def test_the_launcher_runs_mitmdump_with_its_arguments() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "chat2responses.glue.launch", "mitmdump", "--version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Mitmproxy: 12." in done.stdout


def test_a_late_ctrl_c_ends_the_launcher_quietly(monkeypatch: pytest.MonkeyPatch) -> None:
    # A Ctrl-C that lands while mitmproxy stops, once its own handlers are gone, is raised in
    # whatever runs then: the user's stop all the same, never a traceback on the console.
    from mitmproxy.tools import main as tools

    from chat2responses.glue import launch

    def interrupted(args: list[str]) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(tools, "mitmdump", interrupted)
    assert launch.main(["mitmdump", "--version"]) == 130
