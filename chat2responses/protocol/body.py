"""A client's request body → one JSON object, or a 4xx that says what is wrong with it.

Owns every check a body must pass before anything is translated or sent: size, UTF-8, JSON,
no non-finite numbers, no lone surrogates, bounded nesting. Content-encoding is undone by the
glue before this runs (mitmproxy knows gzip, deflate, br and zstd).

Must not: do I/O, or know what a chat or Responses body means (translate_request does).

Rule 1: a number JSON cannot carry (`NaN`, `Infinity`, `1e999`) is a 400: it could not be sent
        upstream as JSON again (`json.dumps` would write the non-JSON token `Infinity`).
Rule 2: a lone surrogate (`"\\ud800"`) is a 400 naming the field: it cannot be encoded as UTF-8,
        so it would fail later, deep in the call, as a 500.
Rule 3: nesting deeper than MAX_DEPTH is a 400 before anything is sent: deeper structures make
        the standard library's recursive encoders fail.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from chat2responses.protocol.errors import ClientError
from chat2responses.protocol.params import invalid_type

MAX_BODY_BYTES = 32 * 1024 * 1024
# Deep enough for any real tool schema (OpenAI's strict schemas allow 10 levels of objects).
MAX_DEPTH = 128

# A `\uD800`-`\uDFFF` escape in the raw JSON: the only way a lone surrogate gets in (raw UTF-8
# cannot encode one). Only bodies that contain one pay for the walk that finds it.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def parse_json_body(raw: bytes | None) -> dict[str, Any]:
    """The client's JSON object, or a ClientError (400; 413 when larger than MAX_BODY_BYTES)."""
    if raw is None:
        raise ClientError("The request body is not available to the proxy (it was streamed).")
    if len(raw) > MAX_BODY_BYTES:
        raise too_large(f"is {len(raw)} bytes")
    if not raw.strip():
        raise ClientError("The request body is empty; expected a JSON object.")
    try:
        data = json.loads(
            raw.decode("utf-8-sig"), parse_constant=_reject_constant, parse_float=_finite_float
        )
    except UnicodeDecodeError as exc:
        raise ClientError(f"The request body is not valid UTF-8 ({exc.reason}).") from None
    except RecursionError:
        raise _too_deep() from None
    except ValueError as exc:
        raise ClientError(f"The request body is not valid JSON ({exc}).") from None
    if not isinstance(data, dict):
        raise invalid_type("body", "a JSON object", data)
    check_structure(data, surrogates=_SURROGATE_ESCAPE.search(raw) is not None)
    return data


def check_structure(data: dict[str, Any], *, surrogates: bool = True) -> None:
    """Raise a ClientError for nesting beyond MAX_DEPTH, or (when `surrogates`) a lone surrogate.

    Iterative, so a hostile depth cannot exhaust the interpreter's stack here. A body that passes
    (nearly every one) is walked once without naming anything; only a failing one is walked again
    to name the field (`_locate`)."""
    if not _structure_ok(data, surrogates):
        _locate(data, surrogates)


def _structure_ok(data: dict[str, Any], surrogates: bool) -> bool:
    if not surrogates:  # nearly every body: the depth alone, one level at a time
        return _shallow_enough(data)
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return False
        if isinstance(value, dict):
            if surrogates and any(_has_surrogate(key) for key in value):
                return False
            value = value.values()
        for child in value:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
            elif surrogates and isinstance(child, str) and _has_surrogate(child):
                return False
    return True


def _shallow_enough(data: dict[str, Any]) -> bool:
    """Whether no container lies deeper than MAX_DEPTH (the root is at depth 1). A level's
    containers are gathered in one comprehension each: about twice as fast as a stack of
    (value, depth) pairs on a long chat history, which has one level of many messages."""
    level: list[Any] = [data]
    for _ in range(MAX_DEPTH):
        below: list[Any] = []
        for value in level:
            children = value.values() if type(value) is dict else value
            below.extend([c for c in children if type(c) is dict or type(c) is list])
        if not below:
            return True
        level = below
    return False


def _locate(data: dict[str, Any], surrogates: bool) -> None:
    """Raise the ClientError naming where `data` first fails check_structure."""
    stack: list[tuple[Any, int, str]] = [(data, 1, "")]
    while stack:
        value, depth, path = stack.pop()
        if depth > MAX_DEPTH:
            raise _too_deep()
        if isinstance(value, dict):
            for key, child in value.items():
                where = f"{path}.{key}" if path else str(key)
                if surrogates and _has_surrogate(key):
                    # The name itself cannot be printed, logged or encoded as it is: escaped.
                    raise _surrogate(where.encode("utf-8", "backslashreplace").decode())
                if isinstance(child, (dict, list)):
                    stack.append((child, depth + 1, where))
                elif surrogates and isinstance(child, str) and _has_surrogate(child):
                    raise _surrogate(where)
        elif isinstance(value, list):
            for index, child in enumerate(value):
                if isinstance(child, (dict, list)):
                    stack.append((child, depth + 1, f"{path}[{index}]"))
                elif surrogates and isinstance(child, str) and _has_surrogate(child):
                    raise _surrogate(f"{path}[{index}]")


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is too large to be represented")
    return value


def too_large(size: str, limit: int = MAX_BODY_BYTES) -> ClientError:
    """The 413 for a request body past `limit`; `size` says how big it is ("is N bytes")."""
    return ClientError(
        f"The request body {size}; the limit is {limit}.", status=413, code="request_too_large"
    )


def _too_deep() -> ClientError:
    return ClientError(
        f"The request body is nested more than {MAX_DEPTH} levels deep.",
        code="invalid_value",
    )


def _surrogate(where: str) -> ClientError:
    return ClientError(
        f"'{where}' contains a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff escape), "
        "which is not valid Unicode text.",
        param=where,
        code="invalid_value",
    )
