"""The catalog in use: the embedded one, the upstream's own list (fetched in the background),
and the user's `responses_catalog` file, layered in that order and rebuilt when one changes.

The file is read only when its option is set or the reload command runs (never on a request's
way), in bounded time (transports/files.py: a regular file of at most MAX_CATALOG_FILE_BYTES).

When the upstream's own list names a model the Codex CLI version the addon speaks as is too old
for (its `minimal_client_version`), the log says so once per model and version: calls to it get
a 400 naming the option to set (upstream/identity.py rule 2).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from chat2responses.settings import Settings
from chat2responses.transports.catalog_fetch import CatalogFetcher
from chat2responses.transports.files import read_small_file
from chat2responses.transports.login_refresh import CodexLogin
from chat2responses.upstream.catalog import LIVE_NAME, Catalog, CatalogError
from chat2responses.upstream.catalog_layers import embedded_catalog
from chat2responses.upstream.identity import CODEX_CLI_VERSION, OPTION, parse_version, version_text
from chat2responses.upstream.profiles import CODEX, profile_for_url
from chat2responses.upstream.proxies import DIRECT, Egress

logger = logging.getLogger(__name__)

MAX_CATALOG_FILE_BYTES = 16 << 20


class Catalogs:
    def __init__(self) -> None:
        self.catalog = Catalog.default()
        self.path = ""
        self._user: tuple[bytes, str] | None = None  # the file's bytes and name, as last read
        self.fetcher: CatalogFetcher | None = None
        self._version = 0
        self.client_version = CODEX_CLI_VERSION
        self._told: set[tuple[str, str]] = set()  # (model, client version) said in the log

    def load(self, path: str) -> Catalog:
        """Read `path` now (a ValueError leaves everything as it was), and use it."""
        user = read_catalog_file(path)
        self.catalog = layered_catalog(user, self._live())
        self.path, self._user = path, user
        return self.catalog

    def current(self) -> Catalog:
        """The catalog in use, with the upstream's own list layered in when it changed."""
        fetcher = self.fetcher
        if fetcher is not None and fetcher.version != self._version:
            self._version = fetcher.version
            try:
                self.catalog = layered_catalog(self._user, fetcher.live)
            except ValueError as exc:  # the user's file went bad meanwhile: keep what was
                logger.warning("chat2responses: catalog not updated: %s", exc)
            self._tell_too_new()
        return self.catalog

    def _tell_too_new(self) -> None:
        """Say once per model and version which listed models need a newer client."""
        current = parse_version(self.client_version)
        if current is None:
            return
        too_new = []
        for slug in self.catalog.slugs():
            info = self.catalog.match(slug).info
            needed = info.minimal_client_version if info is not None else None
            if (
                needed is not None
                and needed > current
                and (slug, self.client_version) not in self._told
            ):
                self._told.add((slug, self.client_version))
                too_new.append(f"{slug} (needs {version_text(needed)})")
        if too_new:
            logger.warning(
                "the upstream lists models that need a newer Codex CLI than %s, which "
                "chat2responses speaks as: %s; calls to them get a 400 until %s is raised",
                self.client_version,
                ", ".join(too_new),
                OPTION,
            )

    def fetch(
        self, settings: Settings, login: CodexLogin | None, ssl: Any, egress: Egress = DIRECT
    ) -> None:
        """(Re)start fetching the upstream's own list, when `settings` say there is one."""
        self.stop()
        self.fetcher = catalog_fetcher(settings, login, ssl, egress)
        self._version = 0
        self.client_version = settings.client_version
        if self.fetcher is not None:
            self.fetcher.start()

    def stop(self) -> None:
        if self.fetcher is not None:
            self.fetcher.stop()
            self.fetcher = None

    def _live(self) -> bytes | None:
        return self.fetcher.live if self.fetcher is not None else None


def load_catalog(path: str, live: bytes | None = None) -> Catalog:
    """embedded < live (the upstream's own /models answer) < the responses_catalog file. A live
    answer that cannot be read is left out (and said so); a bad file is a ValueError."""
    return layered_catalog(read_catalog_file(path), live)


def read_catalog_file(path: str) -> tuple[bytes, str] | None:
    """The responses_catalog file's bytes and name (None: no file); a ValueError naming it."""
    if not path:
        return None
    file = Path(path).expanduser()
    try:
        return read_small_file(file, MAX_CATALOG_FILE_BYTES), str(file)
    except OSError as exc:
        raise ValueError(f"responses_catalog: cannot read {file}: {exc.strerror}") from None


def layered_catalog(file: tuple[bytes, str] | None, live: bytes | None) -> Catalog:
    """See `load_catalog`."""
    user, name = file if file is not None else (None, "responses_catalog")
    if live is not None:
        try:
            return Catalog.layered(embedded_catalog(), live, user, user_name=name)
        except CatalogError as exc:
            if not str(exc).startswith(LIVE_NAME):
                raise
            logger.warning("the upstream's model catalog is left out: %s", exc)
    return Catalog.layered(embedded_catalog(), None, user, user_name=name)


def catalog_fetcher(
    settings: Settings, login: CodexLogin | None, ssl: Any, egress: Egress = DIRECT
) -> Any:
    """A fetcher of the upstream's own catalog, when the upstream publishes one (the Codex
    backend and the emulator do) and responses_catalog_refresh allows it."""
    url = settings.responses_url
    if not url or settings.catalog_refresh <= 0 or profile_for_url(url) is not CODEX:
        return None
    headers = login.headers if login is not None else None
    return CatalogFetcher(
        url,
        interval=settings.catalog_refresh,
        headers=headers,
        ssl=ssl,
        client_version=settings.client_version,
        egress=egress,
    )
