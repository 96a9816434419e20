"""glue/flows.py's `holder`: the driver is told to wait for mitmproxy's intercept only when that
intercept is on; otherwise the call starts in the request hook."""

from __future__ import annotations

from mitmproxy.addons.intercept import Intercept
from mitmproxy.test import taddons, tflow

from chat2responses.glue.flows import holder


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
