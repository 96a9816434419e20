"""ready: the start handshake of `chat2responses run` with the addon in its mitmproxy child."""

from __future__ import annotations

from pathlib import Path

import pytest

from chat2responses.glue.ready import READY_VARIABLE, announce_ready, read_web_url


def test_the_file_run_named_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ready = tmp_path / "ready"
    monkeypatch.setenv(READY_VARIABLE, str(ready))
    announce_ready()
    assert ready.read_text() == '{"web_url": null}\n'  # not mitmweb
    assert read_web_url(ready) is None


def test_mitmwebs_address_with_its_token_is_read_back(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    ready.write_text('{"web_url": "http://127.0.0.1:8081/?token=abc"}\n')
    assert read_web_url(ready) == "http://127.0.0.1:8081/?token=abc"
    for broken in ("", "ready\n", "[1]", '{"web_url": 5}'):
        ready.write_text(broken)
        assert read_web_url(ready) is None
    assert read_web_url(tmp_path / "missing") is None


def test_nothing_is_written_outside_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(READY_VARIABLE, raising=False)
    monkeypatch.chdir(tmp_path)
    announce_ready()
    assert list(tmp_path.iterdir()) == []


def test_a_file_that_cannot_be_written_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(READY_VARIABLE, str(tmp_path / "missing" / "ready"))
    announce_ready()
    assert "cannot tell chat2responses run it is up" in caplog.text
