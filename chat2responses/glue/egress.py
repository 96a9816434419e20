"""Where the addon's own upstream calls go: the `Egress` value, from mitmproxy's options and the
environment, given to the driver, the login and the catalog fetch (upstream/proxies.py).

Owns reading `mode`, `upstream_auth` and the process environment once per change, the process's
hop mark, and saying in the log (without credentials) which proxy the calls take. Must not open
a connection.
"""

from __future__ import annotations

import logging
import os
import secrets

from mitmproxy import ctx

from chat2responses.upstream.proxies import Egress

logger = logging.getLogger(__name__)

EGRESS_OPTIONS = frozenset({"mode", "upstream_auth"})
# This process's hop mark (routing rule 3): random, so that no client sends it by chance, and
# per process, so that one instance behind another is not taken for a loop.
HOP = secrets.token_hex(12)


def refreshed(before: Egress, updated: set[str]) -> Egress:
    """`before`, or, when one of mitmproxy's `mode`/`upstream_auth` changed (or nothing was
    configured yet), the egress they and the environment ask for now. A ValueError names a
    proxy that cannot be used; a change is said once in the log."""
    if before.hop and not updated & EGRESS_OPTIONS:
        return before
    modes = list(getattr(ctx.options, "mode", None) or ())
    auth = getattr(ctx.options, "upstream_auth", None) or ""  # declared by mitmproxy's addon
    egress = Egress.configure(modes, auth, os.environ, HOP)
    if egress != before and (egress.upstream or egress.http or egress.https):
        logger.info("chat2responses: upstream calls go %s", egress.describe())
    return egress
