"""The plan's quota as the Codex backend reports it: headers, the `codex.rate_limits` event, and
the `usage_limit_reached` refusal (reference/codex-backend-2026.md §3, §4).

- Rule 1: two windows, primary (300 minutes by default) and secondary (10080), each with a used
  percentage (configured, fixed) and a reset time: the next multiple of the window's length
  since the epoch, so every figure is a pure function of the clock.
- Rule 2: every `/responses` answer over HTTP, and the WebSocket handshake's 101, carry
  `x-codex-plan-type`, `x-codex-{primary,secondary}-{used-percent,window-minutes,
  reset-after-seconds,reset-at}` and `x-codex-credits-{has-credits,balance,unlimited}` (codex
  reads `-reset-at`; peers read `-reset-after-seconds`: both are sent).
- Rule 3: over WebSocket each response starts with one `codex.rate_limits` event, the shape the
  Codex CLI parses (`codex-rs/codex-api/src/rate_limits.rs`, `RateLimitEvent`):
  `{"type", "plan_type", "metered_limit_name", "rate_limits": {"primary": {"used_percent",
  "window_minutes", "reset_at"}, "secondary": {…}}, "credits": {"has_credits", "unlimited",
  "balance"}}`.
- Rule 4: a reached limit is a 429 whose error has `type: usage_limit_reached`, `plan_type`,
  `resets_at` and `resets_in_seconds` (the primary window's), with the quota headers (over
  WebSocket in the error frame's `headers`).

Pure: no I/O; the clock is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chat2responses.emulator.rules import Rejection

RATE_LIMITS_EVENT = "codex.rate_limits"
USAGE_LIMIT_MESSAGE = "The usage limit has been reached"


@dataclass(frozen=True, slots=True)
class Window:
    used_percent: float
    minutes: int

    def reset_after(self, now: float) -> int:
        length = self.minutes * 60
        return length - int(now) % length if length > 0 else 0


@dataclass(frozen=True, slots=True)
class Quota:
    """What the emulated plan reports. `limit_reached`: refuse every response with Rule 4."""

    plan_type: str = "plus"
    primary: Window = Window(0.0, 300)
    secondary: Window = Window(0.0, 10080)
    has_credits: bool = False
    credits_balance: str = "0"
    credits_unlimited: bool = False
    limit_reached: bool = False

    def headers(self, now: float) -> dict[str, str]:
        """Rule 2."""
        headers = {"x-codex-plan-type": self.plan_type}
        for name, window in (("primary", self.primary), ("secondary", self.secondary)):
            after = window.reset_after(now)
            headers |= {
                f"x-codex-{name}-used-percent": _percent(window.used_percent),
                f"x-codex-{name}-window-minutes": str(window.minutes),
                f"x-codex-{name}-reset-after-seconds": str(after),
                f"x-codex-{name}-reset-at": str(int(now) + after),
            }
        return headers | {
            "x-codex-credits-has-credits": _flag(self.has_credits),
            "x-codex-credits-balance": self.credits_balance,
            "x-codex-credits-unlimited": _flag(self.credits_unlimited),
        }

    def event(self, now: float) -> dict[str, Any]:
        """Rule 3."""
        windows = {
            name: {
                "used_percent": window.used_percent,
                "window_minutes": window.minutes,
                "reset_at": int(now) + window.reset_after(now),
                "reset_after_seconds": window.reset_after(now),
            }
            for name, window in (("primary", self.primary), ("secondary", self.secondary))
        }
        credits = {
            "has_credits": self.has_credits,
            "unlimited": self.credits_unlimited,
            "balance": self.credits_balance,
        }
        return {
            "type": RATE_LIMITS_EVENT,
            "plan_type": self.plan_type,
            "metered_limit_name": "codex",
            "rate_limits": windows,
            "credits": credits,
        }

    def usage_limit(self, now: float) -> Rejection:
        """Rule 4."""
        after = self.primary.reset_after(now)
        return Rejection(
            429,
            USAGE_LIMIT_MESSAGE,
            type="usage_limit_reached",
            headers=tuple(self.headers(now).items()),
            extra=(
                ("plan_type", self.plan_type),
                ("resets_at", int(now) + after),
                ("resets_in_seconds", after),
            ),
        )


def _percent(value: float) -> str:
    return f"{value:.1f}"


def _flag(value: bool) -> str:
    return "true" if value else "false"
