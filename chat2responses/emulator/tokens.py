"""Token counting and the prompt cache, by one fixed rule simple enough to predict in a test.

- Rule 1 (the prompt): a request's prompt is a sequence of elements: its top-level
  `instructions` (when present), its top-level `tools` (when present), then every item of its
  effective input (over WebSocket with `previous_response_id`: the stored response's input, its
  output items, then the new input; session.py builds it).
- Rule 2 (counting): an element costs ceil(B / 4) tokens, where B is the byte length of its
  canonical JSON (`canonical_json`: sorted keys, no spaces, UTF-8). A prompt costs the sum of its
  elements, so a prefix of elements is a prefix of tokens.
- Rule 3 (caching): under one `prompt_cache_key`, the cached tokens of a request are the tokens
  of the longest run of leading elements it shares with a prompt served earlier under that key
  (hits fall on element boundaries). A request without a key gets no hits and is not stored.
- Rule 4 (memory): at most `max_keys` keys (least recently used goes first), each remembering
  its last `max_prompts` prompts as element digests, never the elements themselves.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

BYTES_PER_TOKEN = 4


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def element_tokens(element: Any) -> int:
    """Rule 2: ceil(bytes of the canonical JSON / 4)."""
    return -(-len(canonical_json(element)) // BYTES_PER_TOKEN)


def prompt_elements(body: Mapping[str, Any]) -> list[Any]:
    """Rule 1: the elements of `body`'s prompt (`input` must already be the effective input)."""
    head = [body[name] for name in ("instructions", "tools") if body.get(name) is not None]
    return [*head, *(body.get("input") or ())]


def count_tokens(body: Mapping[str, Any]) -> int:
    """The prompt's tokens; never zero, so usage figures stay positive."""
    return max(1, sum(element_tokens(element) for element in prompt_elements(body)))


@dataclass(frozen=True, slots=True)
class PromptUsage:
    """What a prompt costs: `input_tokens` in all, of which `cached_tokens` hit the cache."""

    input_tokens: int
    cached_tokens: int = 0


class PromptCache:
    """Rule 3 and Rule 4: cached prefixes per `prompt_cache_key`."""

    def __init__(self, *, max_keys: int = 1024, max_prompts: int = 16) -> None:
        self._max_keys = max_keys
        self._max_prompts = max_prompts
        self._by_key: OrderedDict[str, deque[tuple[str, ...]]] = OrderedDict()

    def serve(self, body: Mapping[str, Any]) -> PromptUsage:
        """Count `body`'s prompt, look its prefix up under its key, then remember it."""
        elements = prompt_elements(body)
        tokens = [element_tokens(element) for element in elements]
        total = max(1, sum(tokens))
        key = body.get("prompt_cache_key")
        if not isinstance(key, str) or not key:
            return PromptUsage(total)
        digests = tuple(hashlib.sha256(canonical_json(e)).hexdigest()[:32] for e in elements)
        prompts = self._by_key.pop(key, None) or deque(maxlen=self._max_prompts)
        shared = max((_common(digests, seen) for seen in prompts), default=0)
        prompts.append(digests)
        self._by_key[key] = prompts
        while len(self._by_key) > self._max_keys:
            self._by_key.popitem(last=False)
        return PromptUsage(total, min(total, sum(tokens[:shared])))


def _common(a: Sequence[str], b: Sequence[str]) -> int:
    count = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        count += 1
    return count
