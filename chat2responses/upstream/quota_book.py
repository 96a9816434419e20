"""The quota book: the latest reading per account and limit family, bounded, with the warnings a
reading gives and the texts the status and the flow summaries show.

Must not parse payloads (quota.py does) or build errors (quota_limit.py does).
Rules:
1. A warning is given once per crossing of the threshold, and again only after the window fell
   back below it (after its reset).
2. Bounded: one reading per account and limit family, the least recently updated dropped past
   the cap. Accounts appear only as the digests the caller keys them by.
3. A reading that lacks a window keeps the previous one until that one's reset passes.
Pure: no I/O, no clock (`now` is passed in).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace
from datetime import UTC, datetime, tzinfo

from chat2responses.upstream.quota import DEFAULT_LIMIT, Credits, QuotaSnapshot, QuotaWindow


class QuotaBook:
    """The latest reading per account (digest) and limit family, bounded; warns at `threshold`."""

    def __init__(self, capacity: int = 64, threshold: float = 90.0, tz: tzinfo = UTC) -> None:
        self.capacity = capacity
        self.threshold = threshold
        self.tz = tz
        self._readings: OrderedDict[tuple[str, str], QuotaSnapshot] = OrderedDict()
        self._over: dict[tuple[str, str], frozenset[str]] = {}  # windows already warned about

    def update(self, account: str, snapshot: QuotaSnapshot) -> list[str]:
        """Keep the reading; return a warning for each window that just crossed the threshold."""
        key = (account, snapshot.limit)
        snapshot = _merge(self._readings.get(key), snapshot)
        self._readings[key] = snapshot
        self._readings.move_to_end(key)
        while len(self._readings) > self.capacity:
            old, _ = self._readings.popitem(last=False)
            self._over.pop(old, None)
        over = {w.name for w in snapshot.windows if w.used_percent >= self.threshold}
        warned = self._over.get(key, frozenset())
        self._over[key] = frozenset(over)
        now, who = snapshot.observed_at, f"account {account}{_family(snapshot)}"
        return [
            f"quota warning: {who} has used {_pct(w.used_percent)} of its {w.name} window"
            f"{_resets(w, now, self.tz)}"
            for w in _ordered(snapshot.windows)
            if w.name in over - warned
        ]

    def get(self, account: str, limit: str = DEFAULT_LIMIT) -> QuotaSnapshot | None:
        return self._readings.get((account, limit))

    def text(self, account: str, now: datetime) -> str:
        """`quota 5 h 42 % (resets 14:05), weekly 91 % (resets Mon 09:00)` for one account; ""
        when no upstream reported one for it (the OpenAI API never does: quota is the Codex
        backend's notion, and a line should not name what nobody reports)."""
        lines = [
            f"quota{_family(s)} {_summary(s, now, self.tz)}"
            for (a, _), s in self._readings.items()
            if a == account
        ]
        return "; ".join(lines)

    def status(self, now: datetime) -> str:
        """Every account's reading, one line each, accounts by digest only."""
        if not self._readings:
            return "quota: no readings yet"
        lines = [
            f"  {a}{_family(s)}: {_summary(s, now, self.tz)}"
            for (a, _), s in self._readings.items()
        ]
        return "quota by account:\n" + "\n".join(lines)


def _merge(old: QuotaSnapshot | None, new: QuotaSnapshot) -> QuotaSnapshot:
    """A reading that lacks a window keeps the previous one until that one's reset passes."""
    if old is None:
        return new
    names = {w.name for w in new.windows}
    kept = tuple(
        w
        for w in old.windows
        if w.name not in names and (w.resets_at is None or w.resets_at > new.observed_at)
    )
    return replace(
        new,
        windows=new.windows + kept,
        plan=new.plan or old.plan,
        credits=new.credits or old.credits,
    )


def _summary(snapshot: QuotaSnapshot, now: datetime, tz: tzinfo) -> str:
    parts = [
        f"{w.name} {_pct(w.used_percent)}{_resets(w, now, tz)}" for w in _ordered(snapshot.windows)
    ]
    if snapshot.credits is not None:
        parts.append(_credits(snapshot.credits))
    text = ", ".join(parts) or "no windows"
    return f"{text} [{snapshot.plan}]" if snapshot.plan else text


def _credits(c: Credits) -> str:
    if c.unlimited:
        return "credits unlimited"
    if not c.has_credits:
        return "credits none"
    return f"credits {c.balance}" if c.balance else "credits available"


def _ordered(windows: tuple[QuotaWindow, ...]) -> list[QuotaWindow]:
    return sorted(windows, key=lambda w: (w.minutes is None, w.minutes or 0, w.slot))


def _family(snapshot: QuotaSnapshot) -> str:
    return "" if snapshot.limit == DEFAULT_LIMIT else f" ({snapshot.limit})"


def _resets(window: QuotaWindow, now: datetime, tz: tzinfo) -> str:
    if window.resets_at is None:
        return ""
    verb = "resets" if window.resets_at > now else "reset"
    return f" ({verb} {when(window.resets_at, now, tz)})"


def when(moment: datetime, now: datetime, tz: tzinfo = UTC) -> str:
    """`14:05` today, `Mon 09:00` within the week, `12 Mar 09:00` further away (in `tz`)."""
    local, today = moment.astimezone(tz), now.astimezone(tz)
    if local.date() == today.date():
        return local.strftime("%H:%M")
    if abs((local.date() - today.date()).days) < 7:
        return local.strftime("%a %H:%M")
    return local.strftime("%d %b %H:%M").lstrip("0")


def _pct(value: float) -> str:
    return f"{value:.0f} %" if value == int(value) else f"{value:.1f} %"
