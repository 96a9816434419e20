"""The I/O front end toward upstreams, and the loopback driver mitmproxy sends rewritten calls to.

`driver` (the loopback server) and `loopback` (its HTTP/1.1), `call` (the runner of the call
machine) and `answer` (what mitmproxy relays), `upstream` (one attempt's way out), `http` and
`websocket/` (the two Responses transports), the login file and its refresh, the catalog fetch.
Every decision lives in the pure layers; these modules only do what they are told.
"""
