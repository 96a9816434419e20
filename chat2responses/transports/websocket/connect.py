"""websockets' `connect`, following a redirect only within the same origin.

websockets follows a handshake's redirect to another origin itself, keeping every header but
`Authorization` and cookies: the login's account id (and the conversation's frame after it)
would go along. Here a redirect is followed only as upstream/redirects.py allows; any other is
the 502 `upstream_redirect` it builds.
"""

from __future__ import annotations

from typing import Final

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from chat2responses.protocol.errors import UpstreamError
from chat2responses.upstream.redirects import redirect_target


class SameOriginConnect(connect):
    """websockets' `connect`, following a redirect only within the same origin
    (upstream/redirects.py): websockets itself follows one to another origin, keeping every
    header but `Authorization` and cookies (the account id would go along)."""

    _hops = 0

    def process_redirect(self, exc: Exception) -> Exception | str:
        if not isinstance(exc, InvalidStatus) or exc.response.status_code not in _REDIRECTS:
            return super().process_redirect(exc)
        location = exc.response.headers.get("Location")
        try:
            redirect_target(self.uri, exc.response.status_code, location, "GET", self._hops)
        except UpstreamError as refused:
            return refused
        self._hops += 1
        return super().process_redirect(exc)


_REDIRECTS: Final = frozenset({300, 301, 302, 303, 307, 308})
