"""What upstreams taught the process: the route a model needs, the reasoning summaries an
upstream refuses, and the models whose WebSocket is unstable, per upstream and model family,
bounded.

`Memory.plan` turns it into the first attempt's plan for a call (policy.py carries the plan
out), `lesson_of` reads what a finished call's attempts teach, and `Memory.learn` keeps it. The
glue replaces the whole memory when `responses_url` changes.

Pure: no I/O, no mitmproxy; the time (epoch seconds) is passed in.

Rule 1: one entry per catalog family (a dated snapshot counts as its family), or per name for a
        model the catalog does not know, and per upstream.
Rule 2: at most `cap` entries per table; the least recently taught goes first (a client that
        invents model names must not grow it).
Rule 3: a request too big for the WebSocket (close 1009) teaches nothing about the model.
Rule 4: a WebSocket that closed before the response ended twice within UNSTABLE_WINDOW seconds
        (in one call or across calls) makes the model's calls go over HTTP for the next
        UNSTABLE_WINDOW seconds (`auto` only), then the WebSocket is tried again; an HTTP answer
        after such drops teaches no route of its own (the WebSocket may heal). A model learned
        to need the WebSocket (its HTTP refused) stays there: HTTP would only be refused again.
Rule 5: what it learns is told to its `Backing` (shared.py: Redis when responses_state_url is
        set), and what another instance learned comes back through `absorb`, so every instance
        plans a model's first attempt alike.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field

from chat2responses.call.policy import Failure, Plan, Reason, Route, Tried
from chat2responses.call.shared import NO_BACKING, Backing, Table, shared_name
from chat2responses.settings import TransportMode
from chat2responses.upstream.catalog import ModelMatch

MAX_LEARNED = 1024
UNSTABLE_WINDOW = 600.0  # seconds (rule 4)


@dataclass(frozen=True, slots=True)
class Lesson:
    """What one finished call teaches, for `Memory.learn`."""

    route: Route | None = None  # the route that answered, when the upstream confirmed it
    summaries_refused: bool = False
    dropped: int = 0  # WebSockets that closed before the response ended (rule 4)


@dataclass(slots=True)
class Memory:
    """Learned routes and refused summaries, per (upstream, model family), least recent first."""

    cap: int = MAX_LEARNED
    routes: OrderedDict[tuple[str, str], Route] = field(default_factory=OrderedDict)
    # When each refusal was learned (for the status command); the keys are what counts.
    no_summaries: OrderedDict[tuple[str, str], float] = field(default_factory=OrderedDict)
    last_drop: OrderedDict[tuple[str, str], float] = field(default_factory=OrderedDict)
    http_until: OrderedDict[tuple[str, str], float] = field(default_factory=OrderedDict)
    backing: Backing = NO_BACKING

    def plan(
        self,
        transport: TransportMode,
        upstream: str,
        match: ModelMatch,
        *,
        summaries: bool,
        login: bool,
        retries: int,
        now: float,
    ) -> Plan:
        route, reason, until = self._route(transport, _key(upstream, match), match, now)
        switchable = transport is TransportMode.AUTO
        return Plan(route, reason, switchable, summaries, login, retries, until=until)

    def _route(
        self, transport: TransportMode, key: tuple[str, str], match: ModelMatch, now: float
    ) -> tuple[Route, Reason, float | None]:
        if transport is TransportMode.HTTP:
            return Route.HTTP, Reason.FORCED, None
        if transport is TransportMode.WEBSOCKET:
            return Route.WEBSOCKET, Reason.FORCED, None
        if match.info is not None and match.info.prefer_websockets:
            route, reason = Route.WEBSOCKET, Reason.CATALOG
        else:
            route, reason = Route.HTTP, Reason.DEFAULT
        learned = self.routes.get(key)
        if learned is not None and learned is not route:
            route, reason = learned, Reason.LEARNED
        until = self.http_until.get(key)
        needs_websocket = learned is Route.WEBSOCKET  # its HTTP was refused: no fallback there
        if route is Route.WEBSOCKET and not needs_websocket and until is not None and now < until:
            return Route.HTTP, Reason.UNSTABLE, until
        return route, reason, None

    def summaries_allowed(self, upstream: str, match: ModelMatch) -> bool:
        return _key(upstream, match) not in self.no_summaries

    def learn(self, upstream: str, match: ModelMatch, lesson: Lesson, *, now: float) -> list[str]:
        """Remember `lesson` (taught at `now`); returns what is new, in words, for the log."""
        key = _key(upstream, match)
        news = self._dropped(key, match, lesson.dropped, now) if lesson.dropped else []
        if lesson.route is not None and self.routes.get(key) is not lesson.route:
            _put(self.routes, key, lesson.route, self.cap)
            self._share(key, lesson.route.value, now)
            news.append(
                f"{match.upstream_name}: learned that it needs {lesson.route.value}; "
                "later requests go there directly"
            )
        if lesson.summaries_refused and key not in self.no_summaries:
            _put(self.no_summaries, key, now, self.cap)
            self._share(key, _NO_SUMMARIES, now)
            news.append(
                f"{match.upstream_name}: the upstream refuses reasoning summaries; "
                "later requests leave them out"
            )
        return news

    def _dropped(
        self, key: tuple[str, str], match: ModelMatch, count: int, now: float
    ) -> list[str]:
        """Rule 4: two drops within the window (this call's, and the last one before it) make
        the model unstable; while it is, more drops change nothing."""
        last = self.last_drop.get(key)
        recent = count + (last is not None and now - last < UNSTABLE_WINDOW)
        _put(self.last_drop, key, now, self.cap)
        if recent < 2 or self.http_until.get(key, now) > now:
            return []
        until = now + UNSTABLE_WINDOW
        _put(self.http_until, key, until, self.cap)
        return [
            f"{match.upstream_name}: its WebSocket closed before the response ended twice within "
            f"{UNSTABLE_WINDOW / 60:g} minutes; {unstable_note(until)}"
        ]

    def unstable(self, now: float) -> list[tuple[str, str, float]]:
        """(upstream, model, until) of the models sent over HTTP now (rule 4)."""
        return [(up, model, until) for (up, model), until in self.http_until.items() if until > now]

    def _share(self, key: tuple[str, str], what: str, now: float) -> None:
        name = shared_name(*key, what if what == _NO_SUMMARIES else "route")
        value = {"upstream": key[0], "model": key[1], "what": what, "at": now}
        self.backing.put(Table.LEARNED, name, value)

    def absorb(self, value: object) -> bool:
        """Rule 5: keep what another instance learned (an entry `_share` wrote), unless this
        process knows it already; whether it was new."""
        if not isinstance(value, dict):
            return False
        upstream, model, what = value.get("upstream"), value.get("model"), value.get("what")
        if not isinstance(upstream, str) or not isinstance(model, str):
            return False
        key = (upstream, model)
        if what == _NO_SUMMARIES:
            if key in self.no_summaries:
                return False
            at = value.get("at")
            _put(
                self.no_summaries, key, float(at) if isinstance(at, int | float) else 0.0, self.cap
            )
            return True
        route = _ROUTES.get(what) if isinstance(what, str) else None
        if route is None or self.routes.get(key) is route:
            return False
        _put(self.routes, key, route, self.cap)
        return True


def unstable_note(until: float) -> str:
    """What the summary and the log say of an unstable model: `http until 14:05`."""
    return f"http until {time.strftime('%H:%M', time.localtime(until))}"


_NO_SUMMARIES = "no_summaries"
_ROUTES = {route.value: route for route in Route}


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
        del table[next(iter(table))]  # the least recently taught


def lesson_of(plan: Plan, history: tuple[Tried, ...]) -> Lesson:
    """What a call's attempts teach: the route that answered when it is not the one planned, and
    whether summaries were refused."""
    refused = any(t.failure is Failure.SUMMARY_REFUSED for t in history)
    answered = history[-1].attempt.route if history and history[-1].failure is None else None
    route = answered if answered is not None and answered is not plan.route else None
    dropped = sum(1 for t in history if t.failure is Failure.DROPPED)
    if dropped or any(t.failure is Failure.TOO_BIG for t in history):
        route = None  # one request too big, or drops (rule 4), say nothing of the model's route
    return Lesson(route=route, summaries_refused=refused, dropped=dropped)
