"""The Responses WebSocket client: one response per socket at a time, start to terminal.

Owns the upstream side of the WebSocket route (reference/openai-protocols.md §4): the handshake,
the `response.create` text frame, reading event frames until the first terminal event, and either
closing the socket or handing it back to a `WebSocketPool` for the next response. This package is
the only place that imports `websockets`, and `errors.upstream_errors` is the only place its
exceptions (and the socket layer's) become the project's `UpstreamError` tree.

- `stream.py`: one response's events on one socket (`open_response_stream`);
- `connect.py`: a fresh socket's handshake (`open_socket`);
- `pool.py`: idle sockets kept for the next response (`WebSocketPool`);
- `errors.py`: websockets' failures as the project's errors, and closing a socket in bounded time;
- `receive.py`: the next message with silence bounded, and a reused socket's first sign of life;
- `tls.py`: the TLS contexts for wss:// upstreams.

Reuse rules (§4.4-4.5: a connection carries responses one after another, for at most 60 minutes):
1. A socket is owned by one response at a time: `acquire` takes it out of the pool.
2. It goes back only after `response.completed` or `response.incomplete`; after anything else
   (an error event, `response.failed`, a protocol error, a timeout, the consumer leaving) it is
   closed, as a socket without a pool always is.
3. Idle sockets are keyed by URL, TLS context and a digest of the handshake headers; they expire
   after `idle_ttl`, are never reused past `max_age` (the server's limit is 60 minutes), and one
   that has received anything while idle is closed rather than reused.
4. A reused socket that turns out dead (closed while idle, failing on send, closing before the
   first frame) or answers first with `websocket_connection_limit_reached` is replaced by a fresh
   one, once, before any frame of the response has been yielded.
5. A reused socket (the pool's or a conversation's) is sent a ping with its `response.create`
   and must answer within upstream/liveness.py's wait, with the pong or any frame: one that does
   not is dead (an idle drop websockets' keep-alive would notice only after about 40 s). It is
   dropped without a closing handshake, with every idle socket to the same upstream; the pool's
   is replaced by a fresh one (rule 4), a conversation's is a continuation miss.

It must not interpret events beyond the cheap `parse_event` check, the terminal test and rule 4,
and must never log handshake header values (they carry credentials): only the URL, with any
userinfo and query removed.
"""

from chat2responses.transports.websocket.pool import WebSocketPool
from chat2responses.transports.websocket.stream import open_response_stream
from chat2responses.transports.websocket.tls import websocket_ssl_context

__all__ = ["WebSocketPool", "open_response_stream", "websocket_ssl_context"]
