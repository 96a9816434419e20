"""glue.verbosity: the package logger follows the verbosity mitmproxy shows."""

from __future__ import annotations

import logging

import pytest
from mitmproxy.addons import termlog
from mitmproxy.test import taddons

from chat2responses.glue.verbosity import LOGGER, Verbosity, level_for


@pytest.mark.parametrize(
    ("verbosities", "level"),
    [
        ([], logging.DEBUG),  # a tool with no verbosity option: nothing is held back
        (["debug"], logging.DEBUG),
        (["info"], logging.INFO),
        (["warn"], logging.INFO),  # the summary line still reaches mitmweb's event log
        (["error"], logging.INFO),
        (["info", "debug"], logging.DEBUG),
    ],
)
def test_level_for(verbosities: list[str], level: int) -> None:
    assert level_for(verbosities) == level


@pytest.fixture
def package_logger() -> logging.Logger:
    logger = logging.getLogger(LOGGER)
    before = logger.level
    yield logger
    logger.setLevel(before)


def test_the_package_logger_follows_termlog_verbosity_and_is_put_back(
    package_logger: logging.Logger,
) -> None:
    package_logger.setLevel(logging.NOTSET)
    addon = Verbosity()
    log = termlog.TermLog()
    with taddons.context(log, addon) as tctx:
        tctx.configure(addon)
        assert package_logger.level == logging.INFO  # mitmdump's default: info
        assert not package_logger.isEnabledFor(logging.DEBUG)
        tctx.configure(log, termlog_verbosity="debug")
        addon.configure({"termlog_verbosity"})
        assert package_logger.isEnabledFor(logging.DEBUG)
        tctx.configure(log, termlog_verbosity="warn")
        addon.configure({"termlog_verbosity"})
        assert package_logger.level == logging.INFO
        addon.done()
    assert package_logger.level == logging.NOTSET


def test_without_a_verbosity_option_debug_lines_stay(package_logger: logging.Logger) -> None:
    package_logger.setLevel(logging.WARNING)
    addon = Verbosity()
    with taddons.context(addon) as tctx:
        tctx.configure(addon)
        assert package_logger.level == logging.DEBUG
        addon.done()
    assert package_logger.level == logging.WARNING
