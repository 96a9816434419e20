"""`chat2responses report`: flow files in, one HTML page out; a file that is not flows is one
clear line and exit status 1."""

from __future__ import annotations

from pathlib import Path

import pytest
from mitmproxy import io
from mitmproxy.test import tflow

from chat2responses.cli import main
from chat2responses.glue.flowfile import FlowFileError, conversations, records
from chat2responses.glue.insight import META
from tests.records_helpers import fp, record


def write_flows(path: Path, *turns: dict[str, object]) -> list[str]:
    """Saved flows: one rewritten call per turn, then an upstream leg and a passed-through
    request (no record: skipped). Returns the calls' flow ids."""
    ids = []
    with path.open("wb") as file:
        writer = io.FlowWriter(file)
        for turn in turns:
            flow = tflow.tflow(resp=True)
            flow.metadata[META] = {"record": record(id="old-id", **turn).as_dict()}
            writer.add(flow)
            ids.append(flow.id)
        writer.add(tflow.tflow(resp=True))
        writer.add(tflow.twebsocketflow())
    return ids


TURNS = (
    {"at": 100.0, "input_tokens": 3000, "cached_tokens": 0, "digests": fp("ab")},
    {"at": 110.0, "input_tokens": 3100, "cached_tokens": 0, "digests": fp("abcd"),
     "instance": "other-host-9"},
)  # fmt: skip


def test_records_of_a_flow_file_and_their_conversations(tmp_path: Path) -> None:
    ids = write_flows(tmp_path / "flows", *TURNS)
    found = records(tmp_path / "flows")
    assert [r.id for r in found] == ids  # a record goes by its flow's id
    (conversation,) = conversations(reversed(found))  # in the order they happened
    assert [t.turn for t in conversation] == [1, 2]
    assert conversation[1].miss == ("instance changed (host-1 → other-host-9)",)


def test_not_a_flow_file(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    with pytest.raises(FlowFileError, match="is not a mitmproxy flow file"):
        records(bad)
    with pytest.raises(FlowFileError, match="cannot read"):
        records(tmp_path / "missing")


def test_the_command_writes_the_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_flows(tmp_path / "a", TURNS[0])
    write_flows(tmp_path / "b", TURNS[1])  # two instances' files: one timeline
    out = tmp_path / "report.html"
    assert main(["report", str(tmp_path / "a"), str(tmp_path / "b"), "-o", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"{out}: 2 rewritten calls in 1 conversation"
    page = out.read_text()
    assert "instance changed (host-1 → other-host-9)" in page
    assert page.count('<svg class="chart"') == 3


def test_the_command_says_what_it_could_not_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "junk").write_bytes(b"\x00\x01junk")
    assert main(["report", str(tmp_path / "junk"), "-o", str(tmp_path / "r.html")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("chat2responses report: ") and "junk" in err
    assert not (tmp_path / "r.html").exists()
