"""The catalog in use: the embedded one, the upstream's own list (fetched in the background),
and the user's `responses_catalog` file, layered in that order and rebuilt when one changes."""

from __future__ import annotations

import logging
from typing import Any

from chat2responses.glue.calls import catalog_fetcher, load_catalog
from chat2responses.settings import Settings
from chat2responses.transports.catalog_fetch import CatalogFetcher
from chat2responses.transports.login_refresh import CodexLogin
from chat2responses.upstream.catalog import Catalog

logger = logging.getLogger(__name__)


class Catalogs:
    def __init__(self) -> None:
        self.catalog = Catalog.default()
        self.path = ""
        self.fetcher: CatalogFetcher | None = None
        self._version = 0

    def load(self, path: str) -> Catalog:
        """Read `path` now (a ValueError leaves everything as it was), and use it."""
        self.catalog, self.path = load_catalog(path, self._live()), path
        return self.catalog

    def current(self) -> Catalog:
        """The catalog in use, with the upstream's own list layered in when it changed."""
        fetcher = self.fetcher
        if fetcher is not None and fetcher.version != self._version:
            self._version = fetcher.version
            try:
                self.catalog = load_catalog(self.path, fetcher.live)
            except ValueError as exc:  # the user's file went bad meanwhile: keep what was
                logger.warning("chat2responses: catalog not updated: %s", exc)
        return self.catalog

    def fetch(self, settings: Settings, login: CodexLogin | None, ssl: Any) -> None:
        """(Re)start fetching the upstream's own list, when `settings` say there is one."""
        self.stop()
        self.fetcher = catalog_fetcher(settings, login, ssl)
        self._version = 0
        if self.fetcher is not None:
            self.fetcher.start()

    def stop(self) -> None:
        if self.fetcher is not None:
            self.fetcher.stop()
            self.fetcher = None

    def _live(self) -> bytes | None:
        return self.fetcher.live if self.fetcher is not None else None
