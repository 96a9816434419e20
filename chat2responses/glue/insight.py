"""What a finished call leaves besides its flow's own display: its record in the conversation
ledger, in the flow's metadata, in the per-call log and in the metrics; its console line and its
upstream leg (glue/legs.py).

Owns the record's way out of a call (`ended`), and back in from a saved flow that mitmproxy loads
(`loaded`: `mitmweb -r FLOWS`, or a file opened in mitmweb, fills the ledger, so the Conversation
view shows a saved conversation too), and the two options' I/O (`responses_metrics`: the
/metrics server; `responses_calls_log`: the log file), started and stopped as they change. Must
not: write anything when an option is off, or let a failure here disturb a call (the caller
keeps display failures away from the proxy).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import replace

from mitmproxy import http

from chat2responses.call.job import CallJob
from chat2responses.call.ledger import Ledger
from chat2responses.call.record import CallRecord, record_of
from chat2responses.call.report import summary
from chat2responses.glue import display
from chat2responses.glue.legs import Legs
from chat2responses.settings import Settings
from chat2responses.transports.calls_log import CallsLog
from chat2responses.transports.metrics import Metrics

logger = logging.getLogger(__name__)

META = display.META
MAX_SOCKET_RECORDS = 200  # records kept in one client socket flow's metadata


def record_in(flow: http.HTTPFlow) -> CallRecord | None:
    """The record a rewritten flow carries in its metadata (under the flow's own id: a flow
    copied into mitmweb gets a new one); for a client's socket, its last call's."""
    found = records_in(flow)
    return found[-1] if found else None


def records_in(flow: http.HTTPFlow) -> list[CallRecord]:
    """The records a flow carries: a rewritten call's one, or each of a client socket's calls
    (their ids follow the flow's: `<flow id>.<n>`)."""
    meta = flow.metadata.get(META)
    if not isinstance(meta, dict):
        return []
    record = CallRecord.from_dict(meta.get("record"))
    if record is not None:
        return [replace(record, id=flow.id)]
    kept = meta.get("records")
    found = [CallRecord.from_dict(r) for r in kept] if isinstance(kept, list) else []
    return [replace(r, id=f"{flow.id}.{n}") for n, r in enumerate(found, 1) if r is not None]


def instance_name() -> str:
    """This proxy process, as the records name it: host and process id."""
    return f"{os.uname().nodename}-{os.getpid()}"


class Insight:
    def __init__(self) -> None:
        self.ledger = Ledger()
        self.legs = Legs()
        self.instance = instance_name()
        self.metrics: Metrics | None = None
        self.calls_log: CallsLog | None = None
        self._metrics_at: tuple[str, int] | None = None

    def configure(self, settings: Settings) -> None:
        """Start, move or stop the metrics server and the log as the options say (ValueError
        when the address cannot be listened on or the file cannot be opened)."""
        if settings.metrics != self._metrics_at:
            if self.metrics is not None:
                self.metrics.stop()
            self.metrics, self._metrics_at = None, None
            if settings.metrics is not None:
                metrics = Metrics()
                try:
                    metrics.serve(*settings.metrics)
                except OSError as err:
                    host, port = settings.metrics
                    raise ValueError(
                        f"responses_metrics: cannot listen on {host}:{port}: {err.strerror or err}"
                    ) from err
                self.metrics, self._metrics_at = metrics, settings.metrics
        path = self.calls_log.path if self.calls_log is not None else None
        wanted = settings.calls_log
        if path is None or not wanted or str(path) != os.path.expanduser(wanted):
            if wanted:
                opened = CallsLog(wanted)  # raises before the old one is let go
                self.stop_log()
                self.calls_log = opened
            else:
                self.stop_log()

    def ended(
        self,
        flow: http.HTTPFlow,
        job: CallJob,
        websockets_open: Callable[[], int],
        call_id: str = "",
    ) -> CallRecord:
        """The record of a call whose flow just ended, or of the call `call_id` on a client's
        Responses WebSocket (`flow` is the socket's: a record per call, under META "records"):
        filed, and written where it goes. `websockets_open` is asked only for the metrics."""
        end = time.monotonic()
        quota = job.quota
        snapshot = quota.book.get(quota.account) if quota is not None else None
        used = {w.name: w.used_percent for w in snapshot.windows} if snapshot is not None else {}
        seen = display.seen(flow, end=end, instance=self.instance, quota_used=used)
        if call_id:  # the call's own id and start; its status is the call's, not the 101's
            began = job.times.received if job.times.received is not None else end
            seen = replace(seen, flow_id=call_id, at=time.time() - (end - began), status=None)
        record = self.ledger.add(record_of(job, seen))
        line = summary(record)
        meta = flow.metadata.setdefault(META, {})
        if not call_id:
            meta["record"] = record.as_dict()
            meta["summary"] = line  # what the flow list shows (glue/display.py)
        elif len(kept := meta.setdefault("records", [])) < MAX_SOCKET_RECORDS:
            kept.append(record.as_dict())
        if self.metrics is not None:
            self.metrics.observe(record, websockets_open=websockets_open())
        if self.calls_log is not None:
            self.calls_log.write(record)
        logger.info(line)
        self.legs.show(flow, job, record)
        return record

    def loaded(self, flow: http.HTTPFlow) -> None:
        """A flow mitmproxy loaded from a file: its records, filed."""
        for record in records_in(flow):
            self.ledger.add(record)

    def conversation(
        self, flow: http.HTTPFlow, others: Iterable[http.HTTPFlow]
    ) -> list[CallRecord]:
        """`flow`'s conversation up to it (a client socket's: up to its last call): from the
        ledger, else rebuilt from the records of `others` (the flows mitmweb holds: a file
        opened in its UI is not loaded through the addon's hooks), else `flow`'s own record."""
        own = records_in(flow)
        last = own[-1].id if own else flow.id
        turns = self.ledger.conversation(last)
        if turns or not own:
            return turns
        scratch = Ledger()
        records = [r for f in others for r in records_in(f)]
        for record in sorted(records, key=lambda r: r.at):
            scratch.add(record)
        return scratch.conversation(last) or [scratch.add(own[-1])]

    def stop_log(self) -> None:
        log, self.calls_log = self.calls_log, None
        if log is not None:
            log.close()

    def stop(self) -> None:
        self.stop_log()
        if self.metrics is not None:
            self.metrics.stop()
        self.metrics, self._metrics_at = None, None
