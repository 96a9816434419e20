"""A stable digest of a JSON value: what a conversation compares turn after turn.

The canonical JSON of a value (sorted keys, no spaces) names it exactly, but it costs an encoding
of every string, character by character; a Codex-sized turn carries 500-750 KB and is compared
several times (its conversation key, its continuation, what is remembered of it). `fingerprint`
walks the value instead and feeds SHA-256 each string's UTF-8 bytes whole, behind a type tag and
a length, so that no two values share an encoding.

Rule 1: equal JSON values have equal fingerprints, whatever the order of their keys; values that
        differ (in a string, a number, a type: `1`, `1.0`, `true` and `"1"` are four values)
        do not.
Rule 2: stable across processes and machines (no randomised hash): instances behind one load
        balancer, and a store they share, agree.
Rule 3: any depth: the walk keeps its own stack, never the interpreter's.
Pure: no I/O.
"""

from __future__ import annotations

import hashlib

_END = b"]"  # closes a list or an object


def fingerprint(value: object) -> bytes:
    """The SHA-256 digest of `value`'s unambiguous encoding (32 bytes)."""
    digest = hashlib.sha256()
    update = digest.update
    stack: list[object] = [value]
    while stack:
        item = stack.pop()
        if type(item) is str:
            data = item.encode("utf-8", "surrogatepass")
            update(b"s%d:" % len(data))
            update(data)
        elif type(item) is dict:
            update(b"{%d:" % len(item))
            stack.append(_END)
            for key in sorted(item, key=str, reverse=True):  # popped in sorted order
                stack.append(item[key])
                stack.append(key if type(key) is str else str(key))
        elif type(item) is list or type(item) is tuple:
            update(b"[%d:" % len(item))
            stack.append(_END)
            stack.extend(reversed(item))
        elif item is _END:
            update(_END)
        else:
            update(_scalar(item))
    return digest.digest()


def _scalar(item: object) -> bytes:
    if item is None:
        return b"n"
    if item is True or item is False:
        return b"t" if item else b"f"
    if type(item) is int:
        return b"i%d;" % item
    if type(item) is float:
        return b"d" + repr(item).encode() + b";"
    return b"?" + repr(item).encode("utf-8", "backslashreplace") + b";"  # not JSON: by repr
