"""The metrics: what finished calls add, read back with prometheus_client's own parser, over
HTTP from the server it starts (127.0.0.1, a free port)."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from chat2responses.transports.metrics import MAX_ACCOUNTS, MAX_MODELS, Metrics
from tests.records_helpers import record


def samples(text: str) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append(sample)
    return found


def value(found: dict[str, list[Any]], name: str, **labels: str) -> float:
    return sum(
        s.value for s in found.get(name, []) if all(s.labels.get(k) == v for k, v in labels.items())
    )


def test_what_calls_add() -> None:
    metrics = Metrics()
    metrics.observe(record(input_tokens=100, cached_tokens=80, output_tokens=10,
                           reasoning_tokens=4, first_token_ms=250.0, c2r_ms=1.5,
                           upstream_ms=200.0, continued=True, account="a1",
                           quota_used={"5 h": 42.0, "weekly": 7.5}), websockets_open=3)  # fmt: skip
    metrics.observe(record(id="2", route="http", status=429, retries=2, fallback=True,
                           continuation_miss=True, miss=("instructions changed", "odd thing"),
                           kind="responses"), websockets_open=1)  # fmt: skip
    found = samples(generate_latest(metrics.registry).decode())
    assert value(found, "chat2responses_calls_total") == 2
    assert (
        value(found, "chat2responses_calls_total", route="http", status="429", kind="responses")
        == 1
    )
    assert value(found, "chat2responses_tokens_total", type="input") == 100
    assert value(found, "chat2responses_tokens_total", type="cached") == 80
    assert value(found, "chat2responses_tokens_total", type="reasoning") == 4
    assert value(found, "chat2responses_first_token_seconds_count") == 1
    assert value(found, "chat2responses_first_token_seconds_sum") == pytest.approx(0.25)
    assert value(found, "chat2responses_own_seconds_sum") == pytest.approx(0.0015)
    assert value(found, "chat2responses_upstream_seconds_count") == 1
    assert value(found, "chat2responses_retries_total") == 2
    assert value(found, "chat2responses_fallbacks_total") == 1
    assert value(found, "chat2responses_continuations_total") == 1
    assert value(found, "chat2responses_continuation_misses_total") == 1
    assert value(found, "chat2responses_cache_misses_total", cause="instructions") == 1
    assert value(found, "chat2responses_cache_misses_total", cause="unknown") == 1  # "odd"
    assert value(found, "chat2responses_websocket_connections_open") == 1  # the latest
    assert value(found, "chat2responses_quota_used_percent", account="a1", window="5 h") == 42
    assert not [name for name in found if name.endswith("_created")]


def test_model_names_are_bounded() -> None:
    metrics = Metrics()
    for n in range(MAX_MODELS + 5):
        metrics.observe(record(id=str(n), model=f"model-{n}"))
    found = samples(generate_latest(metrics.registry).decode())
    models = {s.labels["model"] for s in found["chat2responses_calls_total"]}
    assert len(models) == MAX_MODELS + 1 and "other" in models
    assert value(found, "chat2responses_calls_total", model="other") == 5


def test_accounts_are_bounded() -> None:
    """Each client key its own account digest: random keys must not grow the series."""
    metrics = Metrics()
    for n in range(MAX_ACCOUNTS + 5):
        metrics.observe(record(id=str(n), account=f"digest-{n}", quota_used={"5 h": 1.0}))
    found = samples(generate_latest(metrics.registry).decode())
    accounts = {s.labels["account"] for s in found["chat2responses_quota_used_percent"]}
    assert len(accounts) == MAX_ACCOUNTS + 1 and "other" in accounts


def test_served_at_metrics_and_stopped() -> None:
    metrics = Metrics()
    metrics.observe(record())
    metrics.serve("127.0.0.1", 0)
    try:
        url = f"http://127.0.0.1:{metrics.port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as answer:
            assert answer.headers["content-type"].startswith("text/plain")
            found = samples(answer.read().decode())
        assert value(found, "chat2responses_calls_total") == 1
    finally:
        metrics.stop()
    assert metrics.port == 0
    with pytest.raises(OSError):
        urllib.request.urlopen(url, timeout=2)


DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana-dashboard.json"


def test_the_grafana_dashboard_queries_only_what_is_exported() -> None:
    """Every series deploy/grafana-dashboard.json asks for is one Metrics exposes (a renamed
    metric cannot leave a panel empty), and every chat2responses metric has a panel."""
    metrics = Metrics()
    metrics.observe(record(input_tokens=1, cached_tokens=1, output_tokens=1, first_token_ms=1.0,
                           c2r_ms=1.0, upstream_ms=1.0, quota_used={"5 h": 1.0}, retries=1,
                           fallback=True, continued=True, continuation_miss=True,
                           miss=("unknown",)), websockets_open=1)  # fmt: skip
    exported = set(samples(generate_latest(metrics.registry).decode()))
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    asked = {name for q in queries for name in re.findall(r"chat2responses_\w+", q)}
    assert asked <= exported, asked - exported
    families = {re.sub(r"_(total|bucket|sum|count)$", "", n) for n in exported}
    covered = {re.sub(r"_(total|bucket|sum|count)$", "", n) for n in asked}
    assert {f for f in families if f.startswith("chat2responses_")} <= covered
    assert all(t["datasource"]["uid"] == "${DS_PROMETHEUS}" for p in dashboard["panels"]
               for t in p["targets"])  # fmt: skip
