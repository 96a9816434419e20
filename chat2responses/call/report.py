"""What one rewritten call did, in words: the flow comment, the console line, the route mark.

Pure: the glue fills a `CallReport` as the call goes and asks for the texts. Nothing here may
hold a credential; it only sees model names, routes, timings, statuses and token counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chat2responses.call.memory import UNSTABLE_WINDOW, unstable_note
from chat2responses.call.policy import Failure, Plan, Reason, Route, Tried

# mitmweb shows a flow's mark as an emoji (mitmproxy/utils/emoji.py shortcodes).
MARKS = {Route.HTTP: ":link:", Route.WEBSOCKET: ":electric_plug:"}
LEARNED_MARK = ":arrows_counterclockwise:"

_REASONS = {
    Reason.FORCED: "forced by responses_transport",
    Reason.CATALOG: "catalog prefers it",
    Reason.DEFAULT: "default",
    Reason.LEARNED: "learned from the upstream",
    Reason.FALLBACK: "for this request only",
    Reason.UNSTABLE: "websocket unstable for this model",
}


def route_shown(
    plan: Plan, tried: tuple[Tried, ...], *, learned: bool, planned_at: float
) -> tuple[Route, Reason, str]:
    """The route a call took, why, and a note on it: the plan's, or what the attempts changed
    (a fallback learned or for this request only; HTTP after two dropped WebSockets, which made
    the model unstable for a while, memory.py rule 4)."""
    route = tried[-1].attempt.route if tried else plan.route
    if route is plan.route:
        until = plan.until
        return route, plan.reason, unstable_note(until) if until is not None else ""
    if any(t.failure is Failure.DROPPED for t in tried):
        return route, Reason.UNSTABLE, unstable_note(planned_at + UNSTABLE_WINDOW)
    return route, Reason.LEARNED if learned else Reason.FALLBACK, ""


@dataclass(slots=True)
class CallReport:
    requested: str
    sent: str
    route: Route
    reason: Reason
    stream: bool
    status: int | None = None
    first_chunk_ms: float | None = None
    duration_ms: float | None = None
    usage: dict[str, Any] | None = None
    error: str | None = None
    dropped: tuple[str, ...] = ()
    tried: tuple[Tried, ...] = ()
    quota: str = ""
    conversation: str = ""  # "continued: 1 of 7 items, 0.4 of 12.0 KB" / "replayed 2 …"
    reason_note: str = ""  # said after the reason: "http until 14:05"
    notes: str = ""  # the served tier, safety buffering, metadata (upstream/notes.py)
    removed: tuple[str, ...] = ()  # fields the upstream refuses, removed before sending
    person: str = ""  # the caller's name from responses_client_keys (never a key)

    @property
    def mark(self) -> str:
        return LEARNED_MARK if self.reason is Reason.LEARNED else MARKS[self.route]

    def summary(self) -> str:
        """One line: the flow comment and the console line (led by the caller's name when
        responses_client_keys names one)."""
        parts = [
            f"{self.requested} → {self.sent}",
            f"{self.route.value} ({_REASONS[self.reason]}"
            + (f": {self.reason_note})" if self.reason_note else ")"),
            str(self.status) if self.status is not None else "no answer",
        ]
        if self.first_chunk_ms is not None:
            parts.append(f"first chunk {self.first_chunk_ms:.0f} ms")
        if self.duration_ms is not None:
            parts.append(f"{self.duration_ms:.0f} ms")
        tokens = tokens_text(self.usage)
        if tokens:
            parts.append(tokens)
        if self.conversation:
            parts.append(self.conversation)
        if self.notes:
            parts.append(self.notes)
        if self.quota:
            parts.append(self.quota)
        if self.error:
            parts.append(f"error: {self.error}")
        line = " · ".join(parts)
        return f"{self.person}: {line}" if self.person else line

    def details(self) -> str:
        """The lines a flow comment adds below the summary."""
        lines = [self.summary()]
        if len(self.tried) > 1:
            lines.append("attempts: " + "; ".join(_attempt_text(t) for t in self.tried))
        if self.dropped:
            lines.append("dropped (no Responses counterpart): " + ", ".join(self.dropped))
        if self.removed:
            lines.append("removed (the upstream refuses them): " + ", ".join(self.removed))
        return "\n".join(lines)


def _attempt_text(tried: Tried) -> str:
    attempt = tried.attempt
    result = "answered" if tried.failure is None else f"{tried.failure.value} ({tried.status})"
    return f"{attempt.why} over {attempt.route.value}: {result}"


# (in, out, cached, reasoning) as a chat usage object names them, and as a Responses one does.
_USAGE_SHAPES = (
    ("prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details"),
    ("input_tokens", "output_tokens", "input_tokens_details", "output_tokens_details"),
)


@dataclass(frozen=True, slots=True)
class Tokens:
    """A usage object's numbers, whichever API shaped it."""

    prompt: int
    completion: int
    cached: int = 0
    reasoning: int = 0


def usage_tokens(usage: dict[str, Any] | None) -> Tokens | None:
    """The numbers of a chat usage object, or of a Responses one (a call on the Responses
    path); None when it has no whole numbers of tokens in and out."""
    if not isinstance(usage, dict):
        return None
    shape = next((keys for keys in _USAGE_SHAPES if keys[0] in usage), _USAGE_SHAPES[0])
    prompt, completion = usage.get(shape[0]), usage.get(shape[1])
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    cached = _detail(usage, shape[2], "cached_tokens")
    return Tokens(prompt, completion, cached, _detail(usage, shape[3], "reasoning_tokens"))


def tokens_text(usage: dict[str, Any] | None) -> str:
    """`tokens 12 in (4 cached) / 30 out (10 reasoning)` from a chat usage object, or from a
    Responses one (a call on the Responses path)."""
    tokens = usage_tokens(usage)
    if tokens is None:
        return ""
    prompt, completion = tokens.prompt, tokens.completion
    cached, reasoning = tokens.cached, tokens.reasoning
    text = f"tokens {prompt} in"
    if cached:
        text += f" ({cached} cached)"
    text += f" / {completion} out"
    if reasoning:
        text += f" ({reasoning} reasoning)"
    return text


def _detail(usage: dict[str, Any], group: str, key: str) -> int:
    details = usage.get(group)
    value = details.get(key) if isinstance(details, dict) else None
    return value if isinstance(value, int) else 0


def conversation_text(
    *, continued: bool, sent_items: int, full_items: int, sent: int, full: int, replayed: int
) -> str:
    """What the call's conversation work did, in words (empty when there is nothing to say)."""
    if continued:
        return (
            f"continued: {sent_items} of {full_items} items, "
            f"{sent / 1024:.1f} of {full / 1024:.1f} KB"
        )
    if replayed:
        return f"replayed {replayed} reasoning item{'s' if replayed != 1 else ''}"
    return ""
