"""What the call machine (call/machine.py) asks its runner (transports/call.py) to do.

- `Open`: make this attempt, after `attempt.delay` seconds: send `payload` over `attempt.route`,
  with `headers`, then the login's (fetched at send time), then `extra`; on `socket` when the
  attempt continues a conversation there. With `here`, nothing is sent: those are its events
  (a warm-up over HTTP, attempt_request.py rule 4).
- `Write`: these bytes to the client.
- `Linger`: these bytes to the client; a stop sequence ended the answer's text: keep reading for
  at most `seconds` more, only for the usage the terminal event carries, then say `lingered`.
- `Finish`: the answer's end: the last bytes of a stream, or a whole JSON answer; `close`: stop
  reading the upstream and close it (the answer ended before the upstream's did), else read it
  to its end.
- `Fail`: end the answer with `error`: its body and status before the answer's head went out,
  `chunk` as the stream's last bytes after it.

Pure data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from chat2responses.call.policy import Attempt
from chat2responses.protocol.errors import ProxyError
from chat2responses.protocol.events import Event


@dataclass(frozen=True, slots=True)
class Open:
    attempt: Attempt
    payload: str  # the JSON body (HTTP) or the `response.create` frame (WebSocket)
    headers: Mapping[str, str]  # before the login's
    extra: Mapping[str, str]  # after the login's: the conversation's and the route's
    socket: object | None = None  # the conversation's socket this attempt continues on
    here: tuple[Event, ...] | None = None  # the answer, made without the upstream


@dataclass(frozen=True, slots=True)
class Write:
    data: bytes


@dataclass(frozen=True, slots=True)
class Linger:
    data: bytes
    seconds: float


@dataclass(frozen=True, slots=True)
class Finish:
    data: bytes
    close: bool = False


@dataclass(frozen=True, slots=True)
class Fail:
    error: ProxyError
    chunk: bytes | None = None


Command = Open | Write | Linger | Finish | Fail

LINGER = 2.0  # seconds a stopped answer waits for its usage (rule 7)
