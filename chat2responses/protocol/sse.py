"""Server-sent events: an incremental decoder for the upstream stream, and the encoder for ours.

Owns the SSE framing rules (WHATWG HTML "event stream interpretation") and nothing above them: it
never parses JSON and never looks at event types. The decoder takes bytes split anywhere (one socket
read is not one event) and returns whole messages; its memory is bounded by `max_event_bytes`.

Rules enforced here, as the spec states them:
1. Lines end with CRLF, LF or CR. A CR at the end of one feed may pair with an LF at the start of
   the next, so that LF is remembered and skipped.
2. A blank line dispatches the pending event; an event with no `data` field is dropped.
3. `data` lines are joined with LF; one leading space after the colon is removed; a line with no
   colon is a field name with an empty value; lines starting with a colon are comments.
4. A UTF-8 byte order mark at the very start of the stream is dropped.
5. `id` and `retry` are accepted and ignored: nothing downstream reconnects.

Work stays on bytes until an event is complete, so a multi-byte character split across feeds needs
no decoder state. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from chat2responses.protocol.errors import UpstreamProtocolError
from chat2responses.protocol.wire import utf8

_BOM = b"\xef\xbb\xbf"
_EVENT_LINE = b"event: "

_MAX_CACHED_NAMES = 64

DONE = b"data: [DONE]\n\n"


@dataclass(frozen=True, slots=True)
class SSEMessage:
    """One dispatched event. `event` is None when the event had no (or an empty) `event` field."""

    event: str | None
    data: str


class SSEDecoder:
    """Incremental SSE decoder: call `feed` with every read, then `finish` once at end of stream."""

    def __init__(self, max_event_bytes: int = 8 * 1024 * 1024) -> None:
        self._max = max_event_bytes
        # Bytes of the event still waiting for its blank line; never contains CR (rule 1).
        self._pending = bytearray()
        self._skip_lf = False
        # The stream start, held back until we know whether it is a BOM (rule 4).
        self._head: bytes | None = b""
        self._names: dict[bytes, str] = {}

    def feed(self, data: bytes) -> list[SSEMessage]:
        """Decode `data`; returns the events it completed (possibly none)."""
        if type(data) is not bytes:  # bytearray/memoryview slices are unhashable (name cache)
            data = bytes(data)
        if self._head is not None:
            data = self._strip_bom(data)
        if not data:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if data[:1] == b"\n":
                data = data[1:]
        if b"\r" in data:
            data = self._normalize(data)
        pending = self._pending
        if pending:
            # Only rescan the held bytes when this feed can end an event: keeps a large event
            # arriving in many small reads linear instead of quadratic.
            if b"\n\n" not in data and not (pending[-1:] == b"\n" and data[:1] == b"\n"):
                pending += data
                self._check_pending()
                return []
            pending += data
            data = bytes(pending)
        blocks = data.split(b"\n\n")
        tail = blocks.pop()
        if tail:
            # A leading LF of the tail is a blank line with nothing pending: drop it.
            self._pending = bytearray(tail.lstrip(b"\n"))
            self._check_pending()
        elif pending:
            pending.clear()
        if len(data) > self._max:
            self._check_blocks(blocks)
        return self._messages(blocks)

    def finish(self) -> list[SSEMessage]:
        """End of stream: an unterminated last event is dispatched too (lenient), then reset."""
        if self._head:
            self._pending += self._head
        block = bytes(self._pending).strip(b"\n")
        self._pending = bytearray()
        self._skip_lf = False
        self._head = b""
        message = _parse_fields(block) if block else None
        return [message] if message is not None else []

    def _messages(self, blocks: list[bytes]) -> list[SSEMessage]:
        out: list[SSEMessage] = []
        names, new, set_event, set_data = self._names, _new, _set_event, _set_data
        for block in blocks:
            # Fast path, once per upstream event: the framing every Responses server uses, one
            # `event: x` line then one `data: {...}` line. Event lines repeat, so their decoded
            # names are cached (bounded: the upstream chooses them).
            head, sep, value = block.partition(b"\ndata: ")
            if sep and b"\n" not in value:
                name = names.get(head)
                if name is None and head.startswith(_EVENT_LINE) and b"\n" not in head:
                    name = head[7:].decode("utf-8", "replace")
                    if len(names) < _MAX_CACHED_NAMES:
                        names[head] = name
                if name is not None:
                    message = new(SSEMessage)
                    set_event(message, name or None)
                    set_data(message, value.decode("utf-8", "replace"))
                    out.append(message)
                    continue
            if block:
                parsed = _parse_fields(block)
                if parsed is not None:
                    out.append(parsed)
        return out

    def _strip_bom(self, data: bytes) -> bytes:
        head = (self._head or b"") + data
        if len(head) < len(_BOM) and _BOM.startswith(head):
            self._head = head
            return b""
        self._head = None
        return head[len(_BOM) :] if head.startswith(_BOM) else head

    def _normalize(self, data: bytes) -> bytes:
        if data.endswith(b"\r"):
            self._skip_lf = True
        return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")

    def _check_pending(self) -> None:
        # The held bytes may still include the newline that ends the event's last line.
        if len(self._pending) > self._max + 1:
            raise UpstreamProtocolError(f"upstream SSE event exceeds {self._max} bytes")

    def _check_blocks(self, blocks: list[bytes]) -> None:
        # A block excludes the LF ending its last line; the held-bytes check allows for it.
        if any(len(block) > self._max for block in blocks):
            raise UpstreamProtocolError(f"upstream SSE event exceeds {self._max} bytes")


# A frozen dataclass's __init__ assigns each field through object.__setattr__, which costs as
# much as the rest of the fast path together; the fast path fills the two slots directly.
_new = object.__new__
_set_event = SSEMessage.__dict__["event"].__set__
_set_data = SSEMessage.__dict__["data"].__set__


def _parse_fields(block: bytes) -> SSEMessage | None:
    """Any mix of fields, comments and multi-line data (rules 2 and 3)."""
    event = b""
    data: list[bytes] = []
    for line in block.split(b"\n"):
        if not line or line.startswith(b":"):
            continue
        name, _, value = line.partition(b":")
        if value.startswith(b" "):
            value = value[1:]
        if name == b"data":
            data.append(value)
        elif name == b"event":
            event = value
    if not data:
        return None
    return SSEMessage(
        event.decode("utf-8", "replace") or None,
        b"\n".join(data).decode("utf-8", "replace"),
    )


def encode_data(payload: str) -> bytes:
    """One `data:` event; a payload with line breaks becomes several `data:` lines (rule 3)."""
    if "\n" in payload or "\r" in payload:
        return _data_lines(payload) + b"\n"
    return b"data: " + utf8(payload) + b"\n\n"


def encode_event(event: str, payload: str) -> bytes:
    """One event with an `event:` line, as Responses servers frame theirs."""
    if "\n" in event or "\r" in event:
        raise ValueError("an SSE event name cannot contain a line break")
    return b"event: " + event.encode() + b"\n" + _data_lines(payload) + b"\n"


def _data_lines(payload: str) -> bytes:
    lines = payload.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return b"".join(b"data: " + utf8(line) + b"\n" for line in lines)
