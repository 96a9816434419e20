"""glue/flows.py: `holder` (the driver is told to wait for mitmproxy's intercept only when that
intercept is on; otherwise the call starts in the request hook), and rule 3: a flow the addon
answers itself loses the Basic credentials mitmproxy's `upstream_auth` put on it."""

from __future__ import annotations

import base64

import pytest
from mitmproxy.addons.intercept import Intercept
from mitmproxy.addons.upstream_auth import UpstreamAuth
from mitmproxy.proxy.mode_specs import ProxyMode
from mitmproxy.test import taddons, tflow

from chat2responses.glue.display import restore
from chat2responses.glue.flows import forget_upstream_auth, holder, original_of


def test_without_intercept_the_call_is_not_held() -> None:
    with taddons.context(Intercept()):
        assert holder(tflow.tflow()) is None


def test_with_intercept_on_the_holder_reads_the_flow_as_it_is_then() -> None:
    with taddons.context(Intercept()) as tctx:
        tctx.configure(tctx.master.addons.get("intercept"), intercept="~q")
        flow = tflow.tflow()
        held = holder(flow)
        assert held is not None and held() is False
        flow.intercept()
        assert held() is True
        flow.resume()
        assert held() is False


def test_with_no_intercept_addon_loaded_the_call_is_not_held() -> None:
    with taddons.context():
        assert holder(tflow.tflow()) is None


# ---- forget_upstream_auth (rule 3) ----------------------------------------------------------

BASIC = "Basic " + base64.b64encode(b"user:s3cret").decode()


@pytest.mark.parametrize(
    ("mode", "headers", "left"),
    [
        # the header mitmproxy's upstream_auth added for the next hop: gone
        ("upstream:http://proxy.test:3128", {"Proxy-Authorization": BASIC}, {}),
        ("reverse:http://target.test", {"Authorization": BASIC}, {}),
        # anything else stays: another value, the other header, another mode
        (
            "upstream:http://proxy.test:3128",
            {"Proxy-Authorization": "Basic other", "Authorization": BASIC},
            {"Proxy-Authorization": "Basic other", "Authorization": BASIC},
        ),
        (
            "reverse:http://target.test",
            {"Authorization": "Bearer sk-x"},
            {"Authorization": "Bearer sk-x"},
        ),
        (
            "reverse:http://target.test",
            {"Proxy-Authorization": BASIC},
            {"Proxy-Authorization": BASIC},
        ),
        ("regular", {"Proxy-Authorization": BASIC}, {"Proxy-Authorization": BASIC}),
    ],
)
def test_forget_upstream_auth_takes_off_only_what_upstream_auth_added(
    mode: str, headers: dict[str, str], left: dict[str, str]
) -> None:
    with taddons.context(UpstreamAuth()) as tctx:
        tctx.options.upstream_auth = "user:s3cret"
        flow = tflow.tflow()
        flow.client_conn.proxy_mode = ProxyMode.parse(mode)
        flow.request.headers.clear()
        flow.request.headers.update(headers)
        forget_upstream_auth(flow)
        assert dict(flow.request.headers) == left


def test_forget_upstream_auth_without_the_option_leaves_the_headers() -> None:
    with taddons.context(UpstreamAuth()):
        flow = tflow.tflow()
        flow.client_conn.proxy_mode = ProxyMode.parse("reverse:http://target.test")
        flow.request.headers["Authorization"] = BASIC
        forget_upstream_auth(flow)
        assert flow.request.headers["Authorization"] == BASIC


def test_the_original_a_call_puts_back_has_no_upstream_auth() -> None:
    with taddons.context(UpstreamAuth()) as tctx:
        tctx.options.upstream_auth = "user:s3cret"
        flow = tflow.tflow()
        flow.client_conn.proxy_mode = ProxyMode.parse("upstream:http://proxy.test:3128")
        flow.request.headers["Proxy-Authorization"] = BASIC
        original = original_of(flow)
        flow.request.headers["Proxy-Authorization"] = BASIC  # whatever happens meanwhile
        restore(original)
        assert "Proxy-Authorization" not in flow.request.headers
