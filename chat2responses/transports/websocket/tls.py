"""TLS contexts for wss:// upstreams, verified as mitmproxy verifies its own upstreams."""

from __future__ import annotations

import functools
import ssl as ssl_module
from typing import Any
from urllib.parse import urlsplit

# mitmproxy verifies upstreams against certifi's bundle (it depends on certifi); without it, the
# system store.
_CA_BUNDLE: str | None
try:
    import certifi

    _CA_BUNDLE = certifi.where()
except ImportError:  # pragma: no cover
    _CA_BUNDLE = None


def ssl_argument(context: ssl_module.SSLContext | None) -> dict[str, Any]:
    """`connect`'s keyword for `context`: none at all for a ws:// URL."""
    return {} if context is None else {"ssl": context}


def tls_context(url: str, context: ssl_module.SSLContext | None) -> ssl_module.SSLContext | None:
    """The context a socket to `url` uses (`context`, else the shared default); None for ws://."""
    # websockets refuses an `ssl` argument for ws:// URLs, so there is one for wss:// only.
    if urlsplit(url).scheme.lower() != "wss":
        return None
    return context if context is not None else default_context()


def websocket_ssl_context(insecure: bool, trusted_ca: str | None) -> ssl_module.SSLContext:
    """A TLS context for wss:// upstreams honouring mitmproxy's upstream-verification options.

    `insecure` (mitmproxy's `ssl_insecure`) turns verification off; `trusted_ca`
    (`ssl_verify_upstream_trusted_ca`) trusts that PEM file instead of the default bundle;
    otherwise certifi's bundle (mitmproxy's own default) or the system store.
    """
    if insecure:
        context = ssl_module.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl_module.CERT_NONE
        return context
    if trusted_ca:
        try:
            return ssl_module.create_default_context(cafile=trusted_ca)
        except (OSError, ssl_module.SSLError) as exc:
            raise ValueError(f"cannot load the trusted CA file {trusted_ca!r}: {exc}") from None
    return _new_default_context()


def _new_default_context() -> ssl_module.SSLContext:
    return ssl_module.create_default_context(cafile=_CA_BUNDLE)


@functools.cache
def default_context() -> ssl_module.SSLContext:
    # Loading a CA bundle takes milliseconds; one verifying context serves every connection.
    return _new_default_context()
