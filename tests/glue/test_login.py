"""glue/login.py's `current_login`: one login per file, token endpoint and client version, kept
across calls, and its refresh given the calls' proxy and TLS settings every time."""

from __future__ import annotations

import ssl
from dataclasses import replace
from pathlib import Path

from chat2responses.glue.login import current_login
from chat2responses.settings import AuthMode, Settings
from chat2responses.upstream.proxies import DIRECT, Egress


def test_client_auth_has_no_login() -> None:
    assert current_login(Settings(), None) is None


async def test_the_login_is_kept_and_takes_the_current_egress_and_tls(tmp_path: Path) -> None:
    settings = replace(Settings(), auth=AuthMode.CODEX, codex_auth_file=str(tmp_path / "a.json"))
    first_tls, second_tls = ssl.create_default_context(), ssl.create_default_context()
    login = current_login(settings, None, DIRECT, first_tls)
    assert login is not None and login.ssl is first_tls and login.egress is DIRECT
    hop = Egress(hop="h1")
    again = current_login(settings, login, hop, second_tls)
    assert again is login and again.ssl is second_tls and again.egress is hop
    other = replace(settings, codex_auth_file=str(tmp_path / "b.json"))
    fresh = current_login(other, login, hop, second_tls)
    assert fresh is not None and fresh is not login and fresh.ssl is second_tls
    await fresh.aclose()
