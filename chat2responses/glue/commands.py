"""The addon's commands: `chat2responses.status` and `chat2responses.reload_catalog`.

mitmweb runs only commands named by lowercase letters and dots (its route is `[a-z.]+`), so each
is also registered as `responses.status` and `responses.reloadcatalog`: the same command under a
name mitmweb's command bar and API accept.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from mitmproxy import command, exceptions

if TYPE_CHECKING:
    from chat2responses.glue.hooks import Chat2Responses

logger = logging.getLogger(__name__)


class Commands:
    def __init__(self, main: Chat2Responses) -> None:
        self.main = main

    @command.command("chat2responses.status")  # type: ignore[untyped-decorator]
    def status(self) -> str:
        """Quota per account (digests only), the routes learned from upstreams, and calls per
        person (with responses_client_keys)."""
        text = self.main.team.status()
        logger.info(text)
        return text

    @command.command("responses.status")  # type: ignore[untyped-decorator]
    def status_alias(self) -> str:
        """The same as chat2responses.status."""
        return self.status()  # type: ignore[no-any-return]

    @command.command("chat2responses.reload_catalog")  # type: ignore[untyped-decorator]
    def reload_catalog(self) -> str:
        """Re-read the responses_catalog file (and the embedded catalog)."""
        main = self.main
        try:
            catalog = main.catalogs.load(main.settings.catalog_path)
        except ValueError as exc:
            raise exceptions.CommandError(str(exc)) from None
        message = f"chat2responses: catalog reloaded, {len(catalog.slugs())} models"
        logger.info(message)
        return message

    @command.command("responses.reloadcatalog")  # type: ignore[untyped-decorator]
    def reload_alias(self) -> str:
        """The same as chat2responses.reload_catalog."""
        return self.reload_catalog()  # type: ignore[no-any-return]
