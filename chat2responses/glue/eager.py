"""mitmproxy's default `connection_strategy=eager`, made harmless for rewritten calls.

In reverse mode mitmproxy connects to the target as soon as a client connects, before any request
is read, and drops the client if that fails: with the upstream down, a chat client would get no
answer at all. A rewritten call never uses that connection, so for a plain-HTTP reverse target it
is made to the loopback driver instead (always up); a request that is passed through is then
addressed to the real target again, and opens its own connection there. A TLS target's eager
connection also fetches the certificate shown to the client, so it is left alone.

This addon must come before `Chat2Responses` in the addon list: its `request` hook runs first.
"""

from __future__ import annotations

from mitmproxy import connection, ctx, http
from mitmproxy.net.http import url
from mitmproxy.proxy.mode_specs import ReverseMode
from mitmproxy.proxy.server_hooks import ServerConnectionHookData

from chat2responses.transports.driver import Driver


class EagerConnections:
    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self._fresh: set[str] = set()  # connected, no server connection yet
        self._redirected: set[str] = set()  # clients whose eager connection went to the driver

    def client_connected(self, client: connection.Client) -> None:
        if ctx.options.connection_strategy == "eager":
            self._fresh.add(client.id)

    def client_disconnected(self, client: connection.Client) -> None:
        self._fresh.discard(client.id)
        self._redirected.discard(client.id)

    def server_connect(self, data: ServerConnectionHookData) -> None:
        if data.client.id not in self._fresh:
            return
        self._fresh.discard(data.client.id)
        mode = data.client.proxy_mode
        if isinstance(mode, ReverseMode) and mode.scheme == "http" and self.driver.started:
            data.server.address = ("127.0.0.1", self.driver.port)
            self._redirected.add(data.client.id)

    def request(self, flow: http.HTTPFlow) -> None:
        """mitmproxy addresses a reverse-mode request to its connection's address, and (without
        `keep_host_header`) names that address in its Host: put the real target back in both, so
        a request passed through opens its own connection there, a rewritten one goes to the
        target's upstream, and a saved flow never names the driver."""
        mode = flow.client_conn.proxy_mode
        if flow.client_conn.id in self._redirected and isinstance(mode, ReverseMode):
            req = flow.request
            host_header = req.host_header
            req.host, req.port = mode.address
            if getattr(ctx.options, "keep_host_header", False):
                req.host_header = host_header  # the client's own, as it asked
            else:
                req.host_header = url.hostport(mode.scheme, *mode.address)
