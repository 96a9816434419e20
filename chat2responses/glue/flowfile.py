"""The records of a saved flow file (`mitmdump -w FILE`, mitmweb's Save): what the report reads.

Owns reading mitmproxy's flow format (mitmproxy.io) and taking each rewritten call's record out
of its flow's metadata (glue/insight.py puts it there when the call ends). Must not need the
proxy running, nor hold anything of a flow but its record. Flows that are not rewritten calls
(upstream legs, passed-through requests, other traffic) are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from mitmproxy import exceptions, http, io

from chat2responses.call.ledger import Ledger
from chat2responses.call.record import CallRecord
from chat2responses.glue.insight import records_in


class FlowFileError(ValueError):
    """A file that cannot be read as saved flows (the message says which and why)."""


def records(path: Path) -> list[CallRecord]:
    """Every rewritten call's record in the flow file at `path`."""
    found: list[CallRecord] = []
    try:
        with path.open("rb") as file:
            for flow in io.FlowReader(file).stream():
                if isinstance(flow, http.HTTPFlow):
                    found += records_in(flow)
    except OSError as err:
        raise FlowFileError(f"cannot read {path}: {err.strerror or err}") from err
    except exceptions.FlowReadException as err:
        raise FlowFileError(f"{path} is not a mitmproxy flow file: {err}") from err
    return found


def conversations(found: Iterable[CallRecord]) -> list[list[CallRecord]]:
    """The records as conversations (call/ledger.py), in the order they happened: flows of
    several files (several instances, or before and after a restart) are one timeline."""
    ledger = Ledger(conversations=100_000, turns=100_000)
    for record in sorted(found, key=lambda r: r.at):
        ledger.add(record)
    return ledger.conversations()
