"""The upstream's own model catalog, fetched in the background: `GET {responses_url}/models`.

The Codex backend (and the emulator) publish the models they serve in the same `{"models": [...]}`
shape as the embedded catalog, with an ETag (`x-models-etag`, or `ETag`) the Codex CLI caches
by. `CatalogFetcher` asks for it at start and every `interval` seconds, with `If-None-Match`; the
glue reads `live` whenever `version` changed and layers it: embedded < live < the user's file.

Rules:
1. A failed fetch keeps what was there, and says so once (again only after a success).
2. Bounded: one request at a time, a timeout, at most MAX_CATALOG_BYTES read; the answer is
   read whole, however many reads it takes.
3. Through the proxy `egress` chooses for the URL (upstream/proxies.py), with the hop mark; the
   login's headers go only to this upstream: a redirect is followed within the same origin only
   (upstream/redirects.py).
4. It asks as the Codex CLI the addon speaks as (upstream/identity.py): `client_version` in the
   query (the backend answers 400 without it, and lists fewer models to older versions), and
   the CLI's `originator`, `User-Agent` and `version` headers.
"""

from __future__ import annotations

import asyncio
import logging
import ssl as ssl_module
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode, urlsplit, urlunsplit

from aiohttp import ClientError, ClientSession, ClientTimeout, StreamReader, TCPConnector

from chat2responses.transports.http import following_redirects
from chat2responses.transports.sessions import close_session_now, upstream_session
from chat2responses.upstream.identity import CODEX_CLI_VERSION, identity_headers
from chat2responses.upstream.proxies import DIRECT, Egress
from chat2responses.upstream.routing import redacted_url

logger = logging.getLogger(__name__)

MAX_CATALOG_BYTES = 4 * 1024 * 1024
TIMEOUT = 20.0

Headers = Callable[[], Awaitable[dict[str, str]]]


def models_url(responses_url: str, client_version: str = CODEX_CLI_VERSION) -> str:
    """`{responses_url}/models?client_version=…` (rule 4), the base URL's own query kept."""
    parts = urlsplit(responses_url)
    query = "&".join(q for q in (parts.query, urlencode({"client_version": client_version})) if q)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/models", query=query))


class CatalogFetcher:
    def __init__(
        self,
        responses_url: str,
        *,
        interval: float,
        headers: Headers | None = None,
        ssl: ssl_module.SSLContext | None = None,
        client_version: str = CODEX_CLI_VERSION,
        egress: Egress = DIRECT,
    ) -> None:
        self.url = models_url(responses_url, client_version)
        self._egress = egress
        self.client_version = client_version
        self.interval = interval
        self.live: bytes | None = None
        self.version = 0  # bumped each time `live` changes
        self._headers = headers
        self._ssl = ssl
        self._etag: str | None = None
        self._failing = False
        self._task: asyncio.Task[None] | None = None
        self._session: ClientSession | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._session is not None:
            close_session_now(self._session)
            self._session = None

    async def _run(self) -> None:
        while True:
            await self.fetch()
            if self.interval <= 0:
                return
            await asyncio.sleep(self.interval)

    async def fetch(self) -> bool:
        """Fetch once; True when the catalog changed. Never raises (rule 1)."""
        try:
            changed = await self._fetch()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any failure keeps what was there
            if not self._failing:
                logger.warning(
                    "could not fetch the upstream's model catalog from %s (%s); using the "
                    "catalog chat2responses has",
                    redacted_url(self.url),
                    _reason(exc),
                )
            self._failing = True
            return False
        if self._failing:
            logger.info("the upstream's model catalog is reachable again")
        self._failing = False
        return changed

    async def _fetch(self) -> bool:
        headers = {"accept": "application/json", **identity_headers(self.client_version)}
        headers.update(self._egress.headers())
        if self._headers is not None:
            headers.update(await self._headers())
        if self._etag:
            headers["if-none-match"] = self._etag
        async with following_redirects(
            self._client(),
            "GET",
            self.url,
            egress=self._egress,
            headers=headers,
            ssl=self._ssl or True,
        ) as answer:
            if answer.status == 304:
                return False
            if answer.status != 200:
                raise RuntimeError(f"HTTP {answer.status}")
            body = await _read_whole(answer.content)
            etag = answer.headers.get("x-models-etag") or answer.headers.get("etag")
        if body == self.live:
            return False
        self.live, self._etag = body, etag
        self.version += 1
        logger.debug("model catalog fetched from %s", redacted_url(self.url))
        return True

    def _client(self) -> ClientSession:
        if self._session is None or self._session.closed:
            self._session = upstream_session(
                # One request an hour: no connection is kept open between them.
                connector=TCPConnector(force_close=True),
                timeout=ClientTimeout(total=TIMEOUT),
            )
        return self._session


async def _read_whole(content: StreamReader) -> bytes:
    """The whole answer, at most MAX_CATALOG_BYTES (rule 2): one read returns what has arrived."""
    body = bytearray()
    while chunk := await content.read(min(1 << 16, MAX_CATALOG_BYTES + 1 - len(body))):
        body += chunk
        if len(body) > MAX_CATALOG_BYTES:
            raise RuntimeError(f"more than {MAX_CATALOG_BYTES} bytes")
    return bytes(body)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, (ClientError, OSError, TimeoutError)):
        return getattr(exc, "strerror", None) or type(exc).__name__
    return str(exc) or type(exc).__name__
