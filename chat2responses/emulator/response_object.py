"""The `Response` object one response's events carry (openai-protocols.md §1.5) and its usage.

Owns the object's fields: what the request echoes (model, instructions, tools with the keys the
server fills, reasoning), the status, the output once finished, and the usage: the prompt as
counted (tokens.py), about four characters per output token, deterministic and never zero.
Must not emit events or number them (builder.py does). Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from chat2responses.emulator.tokens import PromptUsage


def response_object(
    body: Mapping[str, Any],
    *,
    response_id: str,
    created_at: int,
    status: str,
    service_tier: str,
    output: Sequence[dict[str, Any]] | None,
    usage: dict[str, Any] | None,
) -> dict[str, Any]:
    """The full `Response` object as it stands: `output` and `usage` are None until finished."""
    asked = body.get("reasoning")
    reasoning: Mapping[str, Any] = asked if isinstance(asked, dict) else {}
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "background": False,
        "completed_at": created_at if output is not None else None,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": None,
        "metadata": {},
        "model": body.get("model"),
        "output": list(output) if output is not None else [],
        "parallel_tool_calls": body.get("parallel_tool_calls") is not False,
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "service_tier": service_tier,
        "store": False,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": body.get("tool_choice") or "auto",
        "tools": [_echo_tool(tool) for tool in body.get("tools") or ()],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage,
    }


def response_usage(prompt: PromptUsage, output_chars: int, reasoning_chars: int) -> dict[str, Any]:
    """Deterministic and never zero: the prompt as counted, about four characters per output
    token."""
    input_tokens = prompt.input_tokens
    reasoning_tokens = max(1, reasoning_chars // 4)
    output_tokens = max(1, output_chars // 4) + reasoning_tokens
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {
            "cached_tokens": prompt.cached_tokens,
            "cache_write_tokens": 0,
        },
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
        "total_tokens": input_tokens + output_tokens,
    }


def _echo_tool(tool: Any) -> Any:
    """A request tool as the response lists it: function tools get the keys the server fills."""
    if not isinstance(tool, dict) or tool.get("type") != "function":
        return tool
    return {"parameters": None, "strict": True, "description": None} | tool
