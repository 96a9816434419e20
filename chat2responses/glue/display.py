"""What mitmweb, the console and saved flows show of a rewritten call's own flow.

The client's flow is left as the client saw it: its own request (put back by `restore` on every
path — answered, failed, or the proxy stopping) and the answer it received (for a stream, a
bounded copy stored for display only, `annotate`, with the comment). What the flow says of its
call goes into its record (`seen`); the Responses request and the upstream's answer go into a
second flow (glue/legs.py). mitmweb's flow list gets the comment column (`show_comment_column`).

Must not: hold or show a credential (the driver records headers already redacted).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mitmproxy import http

from chat2responses.call.job import CallJob
from chat2responses.call.record import CallRecord, Seen
from chat2responses.call.report import details, summary

META = "chat2responses"  # the key of the addon's part of a flow's metadata

# mitmweb's flow list with the comment column (its default has none): the summary at a glance.
WEB_COLUMNS = ("icon", "path", "method", "status", "time", "comment")


@dataclass(frozen=True, slots=True)
class Original:
    """The client's own request, kept to put back when the call ends: the fields the glue
    changes, as they were (mitmproxy's header fields are an immutable tuple: kept, not copied)."""

    flow: http.HTTPFlow
    target: tuple[bytes, str, int, bytes, bytes]  # scheme, host, port, authority, path
    fields: tuple[tuple[bytes, bytes], ...]
    content: bytes | None

    @classmethod
    def of(cls, flow: http.HTTPFlow) -> Original:
        data = flow.request.data
        target = (data.scheme, data.host, data.port, data.authority, data.path)
        return cls(flow, target, data.headers.fields, data.content)


def restore(original: Original) -> None:
    data = original.flow.request.data
    data.scheme, data.host, data.port, data.authority, data.path = original.target
    data.headers.fields = original.fields
    data.content = original.content


def seen(
    flow: http.HTTPFlow,
    *,
    end: float,
    instance: str,
    quota_used: Mapping[str, float],
) -> Seen:
    """What the flow says of its call, for its record (call/record.py)."""
    status = flow.response.status_code if flow.response is not None else None
    return Seen(
        flow_id=flow.id,
        at=flow.request.timestamp_start,
        end=end,
        instance=instance,
        status=status,
        flow_error=flow.error.msg if flow.error is not None else None,
        quota_used=quota_used,
    )


def annotate(flow: http.HTTPFlow, job: CallJob, record: CallRecord) -> None:
    """The flow's comment and summary from its record, and the streamed answer (a bounded
    copy) stored in the flow, for display."""
    meta = flow.metadata.setdefault(META, {})
    line = meta.get("summary")  # the line glue/insight.py just logged for this record
    line = line if isinstance(line, str) else summary(record)
    flow.comment = details(record, line)
    meta.update({"summary": line, "route": record.route})
    if flow.response is not None and job.outcome.client:
        flow.response.content = job.outcome.client


def show_comment_column(options: Any) -> None:
    """In mitmweb, show the comment column (which holds each call's summary), unless the user
    chose the columns: `web_columns` still at mitmweb's default."""
    if "web_columns" not in options:
        return
    if list(options.web_columns) == list(options.default("web_columns")):
        options.update(web_columns=list(WEB_COLUMNS))


def is_event_stream(headers: Any) -> bool:
    content_type = str(headers.get("content-type", ""))
    return content_type.split(";", maxsplit=1)[0].strip().lower() == "text/event-stream"
