"""Reading the JSON of a view's input without trusting it, and showing values compactly.

Owns the tolerant accessors (each yields an empty value for a wrong shape, never raises), the
JSON loader that turns every failure into `INVALID`, and the one-line renderings shared by the
views (an error object, a usage object). Must not render whole views or hold a size bound.
Pure: no I/O.
"""

from __future__ import annotations

import json
from typing import Any

Json = dict[str, Any]
INVALID = object()


def obj(value: object) -> Json:
    return value if isinstance(value, dict) else {}


def seq(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def string(value: object) -> str:
    return value if isinstance(value, str) else ""


def integer(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def number_text(value: object) -> str | None:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return str(value) if number else None


def loads(text: str | bytes) -> object:
    """The JSON value of `text`, or `INVALID` (bad JSON, bad UTF-8, nesting too deep)."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return INVALID


def compact(value: object, limit: int = 500) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (ValueError, RecursionError):
        text = f"<{type(value).__name__} nested too deeply to show>"
    return text if len(text) <= limit else text[:limit] + "…"


def pretty(text: str) -> str:
    """Arguments as indented JSON when they parse, else exactly as sent."""
    value = loads(text)
    if value is INVALID:
        return text
    try:
        return json.dumps(value, indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):
        return text


def error_text(error: object) -> str:
    """`message (type, code)` of an OpenAI-style error object; anything else compactly."""
    if isinstance(error, str):
        return error
    fields = obj(error)
    message = string(fields.get("message"))
    if not message:
        return compact(error)
    detail = (
        string(fields.get(key)) or number_text(fields.get(key)) for key in ("type", "code", "param")
    )
    shown = ", ".join(part for part in detail if part)
    return f"{message} ({shown})" if shown else message


# (label, count key, details key, detail key, detail label) per usage field, in display order.
UsageSpec = tuple[tuple[str, str, str, str, str], ...]


def usage_line(usage: Json, spec: UsageSpec) -> str:
    parts = []
    for label, key, details, detail, detail_label in spec:
        count = number_text(usage.get(key))
        if count is None:
            continue
        extra = number_text(obj(usage.get(details)).get(detail))
        parts.append(f"{label} {count}" + (f" ({detail_label} {extra})" if extra else ""))
    return "usage: " + (" · ".join(parts) or compact(usage))
