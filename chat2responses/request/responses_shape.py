"""A request body that is already Responses-shaped, sent to the chat path: kept as sent, with
the model, reasoning and `include` settled as for a chat body (request/reasoning.py) and the
input made acceptable to the upstream's profile.

Cursor's agent sends such bodies (`input` instead of `messages`) to /chat/completions;
request/translate.py hands them here.

Must not: do I/O, or know a backend except through `profiles.UpstreamProfile`.

Rule 1: the Responses create fields (openai-python's `ResponseCreateParams`) are kept as sent;
        any other key is dropped and listed. `model` is the catalog's upstream name; `stop`
        (Translation.stop's) and the stream flags (read by request/translate.py) are never
        copied.
Rule 2: a string `input` is one user message in the list form (the Codex backend takes only
        that); a `system` role becomes the profile's; an `item_reference` is left out for an
        upstream that stores nothing (`store: false`).
Rule 3: the fields the addon reads or the upstream cannot take in another type are checked:
        `tools` a list of objects, `tool_choice` a string or an object (a 400 naming it).
"""

from __future__ import annotations

from typing import Any

from chat2responses.protocol.params import as_list, as_object, as_str, missing
from chat2responses.request.reasoning import settle_reasoning, with_encrypted_reasoning
from chat2responses.upstream.catalog import ModelMatch
from chat2responses.upstream.profiles import UpstreamProfile

_NOT_COPIED = frozenset({"model", "stop", "stream", "stream_options"})

# Top-level keys of a Responses create request (openai-python ResponseCreateParams).
# fmt: off
_RESPONSES_KEYS = frozenset({
    "background", "context_management", "conversation", "generate", "include", "input",
    "instructions",
    "max_output_tokens", "max_tool_calls", "metadata", "moderation", "parallel_tool_calls",
    "previous_response_id", "prompt", "prompt_cache_key", "prompt_cache_options",
    "prompt_cache_retention", "reasoning", "safety_identifier", "service_tier", "store",
    "temperature", "text", "tool_choice", "tools", "top_logprobs", "top_p", "truncation", "user"
})
# fmt: on


def from_responses_shape(
    body: dict[str, Any], match: ModelMatch, profile: UpstreamProfile
) -> tuple[dict[str, Any], list[str], dict[str, str]]:
    """Keep the Responses fields as sent; settle model, reasoning and include like a chat body."""
    out: dict[str, Any] = {"model": match.upstream_name}
    dropped = []
    for key, value in body.items():
        if value is None or key in _NOT_COPIED:
            continue
        if key in _RESPONSES_KEYS:
            out[key] = value
        else:
            dropped.append(key)  # chat leftovers
    out["input"] = _responses_input(body.get("input"), profile)
    if "instructions" in out:
        as_str(out["instructions"], "instructions")
    _check_tools(out)
    base = as_object(out.pop("reasoning", {}), "reasoning")
    reasoning = settle_reasoning(base.get("effort"), "reasoning.effort", match, base)
    if reasoning is not None:
        out["reasoning"] = reasoning
    include = with_encrypted_reasoning(
        [*as_list(out.pop("include", []), "include")], reasoning, profile
    )
    if include:
        out["include"] = include
    return out, dropped, {}


def _check_tools(out: dict[str, Any]) -> None:
    """Rule 3: `tools` is a list of objects, `tool_choice` a string or an object; anything else
    is the client's 400 here (the upstream would refuse it after every retry)."""
    if "tools" in out:
        for i, tool in enumerate(as_list(out["tools"], "tools")):
            as_object(tool, f"tools[{i}]")
    choice = out.get("tool_choice")
    if choice is not None and not isinstance(choice, str):
        as_object(choice, "tool_choice")


def _responses_input(value: object, profile: UpstreamProfile) -> object:
    if isinstance(value, str):
        # The same as one user message; the Codex backend takes only the list form.
        return [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": value}]}
        ]
    if value is None:
        raise missing("input")
    items = as_list(value, "input")
    role = profile.system_role_as
    out = []
    for i, item in enumerate(items):
        obj = as_object(item, f"input[{i}]")
        if profile.requires_store_false and obj.get("type") == "item_reference":
            # A reference to an item the upstream stored; with store=false it stored none (the
            # Vercel AI SDK sends them for reasoning): the reasoning replay puts kept items back.
            continue
        if obj.get("role") == "system":
            obj = {**obj, "role": role}  # a copy: the client's item stays as sent
        out.append(obj)
    return out
