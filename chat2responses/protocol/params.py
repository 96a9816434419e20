"""Shape checks on the client's JSON: each failure is a 400 naming the exact parameter
(`messages[2].content`, `tools[0].function.name`), worded and coded like OpenAI's own errors
(`invalid_type`, `missing_required_parameter`, `invalid_value`).

Owns the error builders (`invalid_type`, `missing`, `invalid_value`) and the checks that return
the value when its shape is right (`as_*` for a value, `need_*`/`opt_str` for a key of an
object). Must not translate anything, nor know which parameter means what. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chat2responses.protocol.errors import ClientError

# A JSON object of the Responses body being built (an input item, a tool, a text format).
Item = dict[str, Any]

_JSON_KIND = {
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "an object",
    type(None): "null",
}


def invalid_type(param: str, expected: str, value: object) -> ClientError:
    got = _JSON_KIND.get(type(value), type(value).__name__)
    return ClientError(
        f"Invalid type for '{param}': expected {expected}, but got {got} instead.",
        param=param,
        code="invalid_type",
    )


def missing(param: str) -> ClientError:
    return ClientError(
        f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter"
    )


SHOWN = 100  # characters of a client's value quoted back in an error, at most


def shown(value: object) -> str:
    """`value` as an error message quotes it: its repr, cut after SHOWN characters (a 10 MB
    value must not come back whole, nor fill the log)."""
    text = repr(value)
    return text if len(text) <= SHOWN else f"{text[:SHOWN]}… ({len(text) - SHOWN} more characters)"


def invalid_value(param: str, value: object, allowed: Iterable[str]) -> ClientError:
    supported = ", ".join(f"'{a}'" for a in allowed)
    return ClientError(
        f"Invalid value for '{param}': {shown(value)}. Supported values are: {supported}.",
        param=param,
        code="invalid_value",
    )


def as_object(value: object, param: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid_type(param, "an object", value)
    return value


def as_list(value: object, param: str) -> list[Any]:
    if not isinstance(value, list):
        raise invalid_type(param, "an array", value)
    return value


def as_bool(value: object, param: str) -> bool:
    if not isinstance(value, bool):
        raise invalid_type(param, "a boolean", value)
    return value


def as_number(value: object, param: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid_type(param, "a number", value)
    return value


def as_str(value: object, param: str) -> str:
    if not isinstance(value, str):
        raise invalid_type(param, "a string", value)
    return value


# The Responses API refuses `max_output_tokens` below 16, which Chat Completions accepts (clients
# send `max_tokens: 1` to probe a connection): raise it to the smallest value Responses takes.
MIN_OUTPUT_TOKENS = 16


def as_token_limit(value: object, param: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_type(param, "an integer", value)
    if value < 1:
        raise ClientError(f"'{param}' must be at least 1.", param=param, code="invalid_value")
    return max(value, MIN_OUTPUT_TOKENS)


def need_object(obj: dict[str, Any], key: str, param: str) -> dict[str, Any]:
    value = obj.get(key)
    if value is None:
        raise missing(f"{param}.{key}")
    return as_object(value, f"{param}.{key}")


def need_str(obj: dict[str, Any], key: str, param: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        if value is None:
            raise missing(f"{param}.{key}")
        raise invalid_type(f"{param}.{key}", "a string", value)
    return value


def opt_str(obj: dict[str, Any], key: str, param: str) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise invalid_type(f"{param}.{key}", "a string", value)
    return value
