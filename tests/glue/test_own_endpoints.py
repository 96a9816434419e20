"""The addon's own endpoints under /_chat2responses/: answered in the request hook, never
forwarded, and only to this machine's own programs."""

from __future__ import annotations

import json

import pytest
from mitmproxy.test import taddons, tflow, tutils

from chat2responses.call.memory import Lesson
from chat2responses.call.policy import Route
from chat2responses.glue.commands import Commands
from chat2responses.glue.hooks import Chat2Responses
from chat2responses.glue.own_endpoints import is_loopback


def own_flow(
    path: str = "/_chat2responses/status",
    method: str = "GET",
    peer: str = "127.0.0.1",
    headers: tuple[tuple[bytes, bytes], ...] = (),
) -> tflow.HTTPFlow:
    request = tutils.treq(method=method.encode(), path=path.encode(), headers=list(headers))
    flow = tflow.tflow(req=request)
    flow.client_conn.peername = (peer, 50000)
    return flow


@pytest.mark.parametrize("rewrite", ["catalog", "all"])
def test_status_is_answered_with_the_commands_text(rewrite: str) -> None:
    addon = Chat2Responses()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, responses_rewrite=rewrite)
        addon.state.memory.learn(
            "http://up/responses", addon.catalog.match("mystery"), Lesson(Route.HTTP), now=0.0
        )
        flow = own_flow()
        addon.request(flow)
        assert flow.response is not None and flow.response.status_code == 200
        assert flow.response.headers["content-type"] == "text/plain; charset=utf-8"
        text = flow.response.get_text()
        assert text == tctx.command(Commands(addon).status) + "\n"
        assert "mystery at http://up/responses: http" in text
        assert not addon.calls  # nothing was rewritten, nothing goes upstream


@pytest.mark.parametrize(
    ("path", "method", "status", "message"),
    [
        ("/_chat2responses/nope", "GET", 404, "no such chat2responses endpoint"),
        ("/_chat2responses/", "GET", 404, "known: /_chat2responses/status"),
        ("/_chat2responses/status", "POST", 405, "use GET"),
        ("/_chat2responses/status", "DELETE", 405, "use GET"),
    ],
)
def test_anything_else_under_the_prefix_is_an_error_and_never_forwarded(
    path: str, method: str, status: int, message: str
) -> None:
    addon = Chat2Responses()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, responses_rewrite="all")
        flow = own_flow(path, method)
        addon.request(flow)
        assert flow.response is not None and flow.response.status_code == status
        error = json.loads(flow.response.content or b"")["error"]
        assert message in error["message"]
        if status == 405:
            assert flow.response.headers["allow"] == "GET"


@pytest.mark.parametrize(
    ("peer", "headers"),
    [
        ("192.168.1.20", ()),  # another machine
        ("::ffff:10.0.0.7", ()),
        ("127.0.0.1", ((b"origin", b"http://attacker.example"),)),  # a web page's request
        ("127.0.0.1", ((b"sec-fetch-site", b"same-origin"),)),  # a DNS-rebound page's fetch
        ("127.0.0.1", ((b"sec-fetch-site", b"cross-site"),)),
    ],
)
def test_only_this_machines_own_programs_get_the_status(
    peer: str, headers: tuple[tuple[bytes, bytes], ...]
) -> None:
    addon = Chat2Responses()
    with taddons.context(addon):
        flow = own_flow(peer=peer, headers=headers)
        addon.request(flow)
        assert flow.response is not None and flow.response.status_code == 403
        assert "chat2responses status" not in flow.response.get_text()
        assert json.loads(flow.response.content or b"")["error"]["type"] == "permission_error"


def test_a_typed_url_is_answered() -> None:
    """A person typing the URL in a browser: `Sec-Fetch-Site: none`."""
    addon = Chat2Responses()
    with taddons.context(addon):
        flow = own_flow(headers=((b"sec-fetch-site", b"none"),))
        addon.request(flow)
        assert flow.response is not None and flow.response.status_code == 200


@pytest.mark.parametrize("path", ["/v1/_chat2responses/status", "/_chat2responsesstatus", "/x"])
def test_other_paths_are_not_ours(path: str) -> None:
    addon = Chat2Responses()
    with taddons.context(addon):
        flow = own_flow(path)
        addon.request(flow)
        assert flow.response is None


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("fe80::1%eth0", False),
        ("10.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("localhost", False),  # a peer is an address, never a name
        ("", False),
    ],
)
def test_loopback_addresses(address: str, loopback: bool) -> None:
    assert is_loopback(address) is loopback
