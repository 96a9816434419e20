"""Prometheus metrics of the rewritten calls, served at `/metrics` (option `responses_metrics`).

Owns the metric objects (made with the official `prometheus_client`, in a registry of their own
so that nothing else in the process adds to them), what a finished call adds to them (`observe`,
from its `CallRecord`), and the HTTP server that exposes them (prometheus_client's own, in a
daemon thread: scraping never runs on mitmproxy's event loop). Must not label anything with a
credential, a prompt or an answer; label values come from bounded sets (MAX_MODELS model names
and MAX_ACCOUNTS account digests, then "other"), so a client sending many model names or many
keys cannot grow the series without bound.

Rule 1: nothing is counted while the option is off: the glue makes no `Metrics` then.
Rule 2: the gauges (WebSocket connections open, quota used) are set when a call ends.
"""

from __future__ import annotations

import logging
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    start_http_server,
)

from chat2responses.call.record import CallRecord

logger = logging.getLogger(__name__)

MAX_MODELS = 50
MAX_ACCOUNTS = 50
# Seconds: from a local emulator's few milliseconds to a long reasoning model's minutes.
_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_OWN = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1)
# The first words of a miss cause (call/misses.py rule 2): the `cause` label's values.
_CAUSES = ("instance", "model", "instructions", "tools", "earlier", "conversation", "route",
           "socket", "idle", "unknown")  # fmt: skip


class Metrics:
    """The metrics of one proxy process; `serve` exposes them."""

    def __init__(self) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # no `_created` series beside each counter: half the output
        self.registry = registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=registry)
        self.calls = Counter(
            "chat2responses_calls",
            "Rewritten calls, by model sent, route, status answered and kind (chat, responses).",
            ("model", "route", "status", "kind"),
            registry=registry,
        )
        self.first_token = Histogram(
            "chat2responses_first_token_seconds",
            "Time from the client's request to the answer's first token (reasoning counts).",
            ("model", "route"),
            buckets=_LATENCY,
            registry=registry,
        )
        self.own = Histogram(
            "chat2responses_own_seconds",
            "The addon's own time before the upstream request was sent (Server-Timing c2r).",
            ("route",),
            buckets=_OWN,
            registry=registry,
        )
        self.upstream = Histogram(
            "chat2responses_upstream_seconds",
            "The upstream's time from the request to its first event (Server-Timing upstream).",
            ("model", "route"),
            buckets=_LATENCY,
            registry=registry,
        )
        self.tokens = Counter(
            "chat2responses_tokens",
            "Tokens the upstream reported: input, cached (of the input), output, reasoning "
            "(of the output).",
            ("model", "type"),
            registry=registry,
        )
        self.retries = Counter(
            "chat2responses_retries", "Attempts retried before the first byte.", ("model",),
            registry=registry,
        )  # fmt: skip
        self.fallbacks = Counter(
            "chat2responses_fallbacks",
            "Calls answered over another route than planned (learned or for that request).",
            ("model",),
            registry=registry,
        )
        self.continuations = Counter(
            "chat2responses_continuations",
            "Calls continued on their conversation's WebSocket (previous_response_id).",
            ("model",),
            registry=registry,
        )
        self.continuation_misses = Counter(
            "chat2responses_continuation_misses",
            "Continued calls the upstream no longer knew (resent in full).",
            ("model",),
            registry=registry,
        )
        self.cache_misses = Counter(
            "chat2responses_cache_misses",
            "Turns whose cached tokens fell short of the previous turn's input, by cause.",
            ("cause",),
            registry=registry,
        )
        self.websockets = Gauge(
            "chat2responses_websocket_connections_open",
            "Upstream WebSockets open: answering, idle in the pool, or kept by a conversation.",
            registry=registry,
        )
        self.quota = Gauge(
            "chat2responses_quota_used_percent",
            "The share of each quota window used, as the upstream last reported it, by account "
            "(a digest) and window.",
            ("account", "window"),
            registry=registry,
        )
        self._models: set[str] = set()
        self._accounts: set[str] = set()
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self._server: WSGIServer | None = None

    # ---- what a call adds ---------------------------------------------------------------

    def observe(self, record: CallRecord, *, websockets_open: int | None = None) -> None:
        model, route, child = self._model(record.model), record.route, self._child
        status = str(record.status) if record.status is not None else "none"
        child(self.calls, model, route, status, record.kind).inc()
        if record.first_token_ms is not None:
            child(self.first_token, model, route).observe(record.first_token_ms / 1000)
        if record.c2r_ms is not None:
            child(self.own, route).observe(record.c2r_ms / 1000)
        if record.upstream_ms is not None:
            child(self.upstream, model, route).observe(record.upstream_ms / 1000)
        for kind, count in (
            ("input", record.input_tokens),
            ("cached", record.cached_tokens),
            ("output", record.output_tokens),
            ("reasoning", record.reasoning_tokens),
        ):
            if count:
                child(self.tokens, model, kind).inc(count)
        if record.retries:
            child(self.retries, model).inc(record.retries)
        if record.fallback:
            child(self.fallbacks, model).inc()
        if record.continued:
            child(self.continuations, model).inc()
        if record.continuation_miss:
            child(self.continuation_misses, model).inc()
        for cause in record.miss:
            word = cause.split(" ", 1)[0]
            child(self.cache_misses, word if word in _CAUSES else "unknown").inc()
        if websockets_open is not None:
            self.websockets.set(websockets_open)
        for window, percent in record.quota_used.items():
            account = _bounded(self._accounts, record.account or "unknown", MAX_ACCOUNTS)
            child(self.quota, account, window).set(percent)

    def _child(self, metric: Any, *labels: str) -> Any:
        """`metric.labels(*labels)`, kept: prometheus_client checks and locks on each call."""
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def _model(self, model: str) -> str:
        return _bounded(self._models, model, MAX_MODELS)

    # ---- the endpoint -------------------------------------------------------------------

    def serve(self, host: str, port: int) -> None:
        """Serve `/metrics` on host:port (raises OSError when it cannot listen there)."""
        self.stop()
        self._server, _ = start_http_server(port, addr=host, registry=self.registry)
        logger.info("metrics at http://%s:%d/metrics", host, self.port)

    @property
    def port(self) -> int:
        return self._server.server_port if self._server is not None else 0

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()


def _bounded(seen: set[str], value: str, cap: int) -> str:
    """`value` as a label: itself while fewer than `cap` values were seen, else "other"."""
    if value in seen:
        return value
    if len(seen) >= cap:
        return "other"
    seen.add(value)
    return value
