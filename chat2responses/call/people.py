"""Calls and tokens per person (`responses_client_keys`): what the status shows of each caller.

The glue counts each rewritten call once, when its flow ends, under the name the keys file gave
its caller; `lines` is the status command's part.

Rule 1: only names are kept (never a key or its digest), with whole-number tallies.
Rule 2: a call counts whatever its end; one that failed (no answer, or an error status) counts as
        failed too; its tokens are what the upstream reported, when it reported usage.
Rule 3: at most `cap` people (the least recently counted goes first): a keys file bounds them
        already, and a changed file must not grow the table without end.
Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from chat2responses.call.record import Usage

MAX_PEOPLE = 1024


@dataclass(slots=True)
class Tally:
    calls: int = 0
    failed: int = 0
    tokens_in: int = 0
    cached: int = 0
    tokens_out: int = 0

    def text(self) -> str:
        failed = f" ({self.failed} failed)" if self.failed else ""
        calls = f"{self.calls} call{'' if self.calls == 1 else 's'}{failed}"
        cached = f" ({self.cached} cached)" if self.cached else ""
        return f"{calls}, tokens {self.tokens_in} in{cached} / {self.tokens_out} out"


@dataclass(slots=True)
class People:
    """The tallies, by name, least recently counted first (rule 3)."""

    cap: int = MAX_PEOPLE
    tallies: OrderedDict[str, Tally] = field(default_factory=OrderedDict)

    def count(self, person: str, *, ok: bool, tokens: Usage | None) -> None:
        """One call of `person`'s (rule 2)."""
        tally = self.tallies.pop(person, None) or Tally()
        tally.calls += 1
        tally.failed += 0 if ok else 1
        if tokens is not None:
            tally.tokens_in += tokens.input
            tally.cached += tokens.cached
            tally.tokens_out += tokens.output
        self.tallies[person] = tally
        while len(self.tallies) > self.cap:
            self.tallies.popitem(last=False)

    def lines(self) -> list[str]:
        """The status command's lines, by name; none when no person has called."""
        if not self.tallies:
            return []
        rows = [f"  {name}: {self.tallies[name].text()}" for name in sorted(self.tallies)]
        return ["calls by person (this instance, since it started):", *rows]
