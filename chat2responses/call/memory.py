"""What upstreams taught the process: the route a model needs and the reasoning summaries an
upstream refuses, per upstream and model family, bounded.

`Memory.plan` turns it into the first attempt's plan for a call (policy.py carries the plan
out), `lesson_of` reads what a finished call's attempts teach, and `Memory.learn` keeps it. The
glue replaces the whole memory when `responses_url` changes.

Pure: no I/O, no clock, no mitmproxy.

Rule 1: one entry per catalog family (a dated snapshot counts as its family), or per name for a
        model the catalog does not know, and per upstream.
Rule 2: at most `cap` entries per table; the least recently taught goes first (a client that
        invents model names must not grow it).
Rule 3: a request too big for the WebSocket (close 1009) teaches nothing about the model.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from chat2responses.call.policy import Failure, Plan, Reason, Route, Tried
from chat2responses.settings import TransportMode
from chat2responses.upstream.catalog import ModelMatch

MAX_LEARNED = 1024


@dataclass(frozen=True, slots=True)
class Lesson:
    """What one finished call teaches, for `Memory.learn`."""

    route: Route | None = None  # the route that answered, when the upstream confirmed it
    summaries_refused: bool = False


@dataclass(slots=True)
class Memory:
    """Learned routes and refused summaries, per (upstream, model family), least recent first."""

    cap: int = MAX_LEARNED
    routes: OrderedDict[tuple[str, str], Route] = field(default_factory=OrderedDict)
    no_summaries: OrderedDict[tuple[str, str], bool] = field(default_factory=OrderedDict)

    def plan(
        self,
        transport: TransportMode,
        upstream: str,
        match: ModelMatch,
        *,
        summaries: bool,
        login: bool = False,
        retries: int = 0,
    ) -> Plan:
        if transport is TransportMode.HTTP:
            return Plan(Route.HTTP, Reason.FORCED, False, summaries, login, retries)
        if transport is TransportMode.WEBSOCKET:
            return Plan(Route.WEBSOCKET, Reason.FORCED, False, summaries, login, retries)
        if match.info is not None and match.info.prefer_websockets:
            route, reason = Route.WEBSOCKET, Reason.CATALOG
        else:
            route, reason = Route.HTTP, Reason.DEFAULT
        learned = self.routes.get(_key(upstream, match))
        if learned is not None and learned is not route:
            route, reason = learned, Reason.LEARNED
        return Plan(route, reason, True, summaries, login, retries)

    def summaries_allowed(self, upstream: str, match: ModelMatch) -> bool:
        return _key(upstream, match) not in self.no_summaries

    def learn(self, upstream: str, match: ModelMatch, lesson: Lesson) -> list[str]:
        """Remember `lesson`; returns what is new, in words, for the log."""
        key, news = _key(upstream, match), []
        if lesson.route is not None and self.routes.get(key) is not lesson.route:
            _put(self.routes, key, lesson.route, self.cap)
            news.append(
                f"{match.upstream_name}: learned that it needs {lesson.route.value}; "
                "later requests go there directly"
            )
        if lesson.summaries_refused and key not in self.no_summaries:
            _put(self.no_summaries, key, True, self.cap)
            news.append(
                f"{match.upstream_name}: the upstream refuses reasoning summaries; "
                "later requests leave them out"
            )
        return news


def _key(upstream: str, match: ModelMatch) -> tuple[str, str]:
    """One entry per catalog family, or per name for models the catalog does not know."""
    model = match.info.slug if match.info is not None else match.upstream_name.lower()
    return upstream, model


def _put[V](
    table: OrderedDict[tuple[str, str], V], key: tuple[str, str], value: V, cap: int
) -> None:
    table.pop(key, None)
    table[key] = value
    while len(table) > cap:  # a client inventing names must not grow it
        table.popitem(last=False)


def lesson_of(plan: Plan, history: tuple[Tried, ...]) -> Lesson:
    """What a call's attempts teach: the route that answered when it is not the one planned, and
    whether summaries were refused."""
    refused = any(t.failure is Failure.SUMMARY_REFUSED for t in history)
    answered = history[-1].attempt.route if history and history[-1].failure is None else None
    route = answered if answered is not None and answered is not plan.route else None
    if any(t.failure is Failure.TOO_BIG for t in history):
        route = None  # one request too big for the WebSocket says nothing of the model
    return Lesson(route=route, summaries_refused=refused)
