"""What a finished call leaves in mitmproxy (in-process, mitmproxy.test.taddons): the comment
column, a saved flow's conversation when mitmproxy loads it, the views mitmweb picks, and the
two options' errors."""

from __future__ import annotations

import json
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from mitmproxy import contentviews, exceptions, optmanager
from mitmproxy.test import taddons, tflow, tutils

from chat2responses.glue.display import WEB_COLUMNS, show_comment_column
from chat2responses.glue.hooks import Chat2Responses
from chat2responses.glue.insight import META
from tests.mitmweb_helpers import free_port
from tests.records_helpers import fp, record

MITMWEB_DEFAULT = ["tls", "icon", "path", "method", "status", "size", "time"]
CHAT = {"model": "gpt-5.5", "messages": [{"role": "user", "content": "hi"}]}


def web_options() -> optmanager.OptManager:
    options = optmanager.OptManager()
    options.add_option("web_columns", Sequence[str], MITMWEB_DEFAULT, "mitmweb's columns")
    return options


def test_the_comment_column_is_shown_unless_the_user_chose_the_columns() -> None:
    options = web_options()
    show_comment_column(options)
    assert list(options.web_columns) == list(WEB_COLUMNS)
    assert "comment" in WEB_COLUMNS
    chosen = web_options()
    chosen.update(web_columns=["path", "size"])
    show_comment_column(chosen)
    assert list(chosen.web_columns) == ["path", "size"]
    show_comment_column(optmanager.OptManager())  # mitmdump: no such option, nothing to do


def saved_flow(**fields: Any) -> tflow.HTTPFlow:
    """A rewritten call's flow as mitmproxy loads it from a file: not live, its record inside."""
    request = tutils.treq(method=b"POST", path=b"/v1/chat/completions",
                          headers=[(b"content-type", b"application/json")],
                          content=json.dumps(CHAT).encode())  # fmt: skip
    flow = tflow.tflow(req=request, resp=True)
    flow.live = False
    flow.metadata[META] = {"record": record(id=flow.id, **fields).as_dict()}
    return flow


def conversation_text(flow: tflow.HTTPFlow) -> str:
    assert flow.response is not None
    result = contentviews.prettify_message(flow.response, flow, "Conversation")
    return result.text


TURNS = [
    {"at": 1000.0, "input_tokens": 4000, "cached_tokens": 0, "digests": fp("ab")},
    {"at": 1010.0, "input_tokens": 4100, "cached_tokens": 4000, "digests": fp("abcd")},
    {"at": 1020.0, "input_tokens": 4200, "cached_tokens": 0,
     "digests": fp("abcdef", tools="grep")},
]  # fmt: skip


def test_a_loaded_saved_conversation_shows_whole() -> None:
    addon = Chat2Responses()
    with taddons.context(addon):
        flows = [saved_flow(**turn) for turn in TURNS]
        for flow in flows:
            addon.response(flow)  # mitmproxy replays a loaded flow's hooks
        text = conversation_text(flows[2])
    lines = text.splitlines()
    assert lines[0].startswith("conversation c2r-key · 3 turns up to this call, turn 3")
    assert [line.split()[0] for line in lines[2:5]] == ["1", "2", "3"]
    assert lines[4].endswith("← this call")
    assert "turn 3: tools changed" in text


def test_a_turn_after_an_idle_gap_longer_than_the_cache_lifetime_says_so() -> None:
    addon = Chat2Responses()
    with taddons.context(addon):
        first = saved_flow(at=1000.0, total_ms=1000.0, input_tokens=4000, cached_tokens=0,
                           digests=fp("ab"))  # fmt: skip
        late = saved_flow(at=1001.0 + 412, input_tokens=4100, cached_tokens=0,
                          digests=fp("abcd"))  # fmt: skip
        for flow in (first, late):
            addon.response(flow)
        text = conversation_text(late)
    assert "turn 2: idle 412 s since the previous turn, longer than the cache lifetime (300 s)" in (
        text
    )


def test_a_clients_socket_carries_a_record_per_call_and_shows_their_conversation() -> None:
    """glue/sockets.py: each call on a client's Responses WebSocket is a record `<flow>.<n>` in
    the socket flow's metadata; loaded, its conversation shows up to the socket's last call."""
    addon = Chat2Responses()
    with taddons.context(addon):
        flow = tflow.tflow(req=tutils.treq(method=b"GET", path=b"/v1/responses"), resp=True)
        flow.live = False
        kept = [record(id=f"x.{n}", kind="responses", **turn) for n, turn in enumerate(TURNS, 1)]
        flow.metadata[META] = {"route": "client websocket", "records": [r.as_dict() for r in kept]}
        addon.response(flow)
        text = conversation_text(flow)
        assert [t.id for t in addon.insight.conversation(flow, [])] == [
            f"{flow.id}.{n}" for n in (1, 2, 3)
        ]
    lines = text.splitlines()
    assert [line.split()[0] for line in lines[2:5]] == ["1", "2", "3"]
    assert lines[4].endswith("← this call")
    assert "turn 3: tools changed" in text


def test_a_conversation_opened_in_the_ui_is_rebuilt_from_the_flows_shown() -> None:
    """mitmweb's own "open" adds flows without the addon's hooks: the view reads the records
    of the flows mitmweb holds."""
    addon = Chat2Responses()
    with taddons.context(addon) as tctx:
        view = tctx.master.addons.get("view")
        assert view is None
        flows = [saved_flow(**turn) for turn in TURNS]
        text = conversation_text(flows[1])  # no view: the flow's own record
        assert len([line for line in text.splitlines() if line.endswith("← this call")]) == 1
        others = addon.insight.conversation(flows[1], flows)
        assert [t.turn for t in others] == [1, 2]
        assert addon.insight.conversation(tflow.tflow(), flows) == []


def test_the_request_tab_of_a_rewritten_call_opens_on_chat_request() -> None:
    addon = Chat2Responses()
    with taddons.context(addon):
        flow = saved_flow()
        shown = contentviews.prettify_message(flow.request, flow)
        assert shown.view_name == "Chat request"
        assert "1 message · 0 tools" in shown.text
        del flow.metadata[META]  # a chat request passed through: JSON, as mitmproxy shows it
        assert contentviews.prettify_message(flow.request, flow).view_name == "JSON"


def test_options_that_cannot_be_served_are_refused(tmp_path: Path) -> None:
    addon = Chat2Responses()
    with socket.socket() as busy, taddons.context(addon) as tctx:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(exceptions.OptionsError, match="responses_metrics: cannot listen"):
            tctx.configure(addon, responses_metrics=f"127.0.0.1:{port}")
        missing = tmp_path / "missing" / "calls.jsonl"
        with pytest.raises(exceptions.OptionsError, match="responses_calls_log: cannot open"):
            tctx.configure(addon, responses_calls_log=str(missing))
        log = tmp_path / "calls.jsonl"
        tctx.configure(addon, responses_calls_log=str(log))
        assert addon.insight.calls_log is not None and log.exists()
        tctx.configure(addon, responses_calls_log="")
        assert addon.insight.calls_log is None
        tctx.configure(addon, responses_metrics=f"127.0.0.1:{free_port()}")
        assert addon.insight.metrics is not None and addon.insight.metrics.port > 0
        addon.insight.stop()
        assert addon.insight.metrics is None
