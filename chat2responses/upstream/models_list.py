"""The catalog as OpenAI's model list: what `GET …/v1/models` and `GET …/v1/models/{id}` answer.

Continue, Cline, Zed, Open WebUI and JetBrains list models this way before they call chat. Each
entry has OpenAI's fields (`id`, `object`, `created`, `owned_by`) and, as extra fields, the
catalog's context window (the default and, when asked for, the largest), reasoning levels,
service tiers and transport, so a client can see what it gets.

Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from typing import Any

from chat2responses.protocol.errors import ClientError
from chat2responses.upstream.catalog import Catalog, ModelInfo

# `…/v1/models` and `…/v1/models/{id}` (and the bare `/models` of a base URL without /v1).
_MODELS_PATH = re.compile(r"(?:.*/v1)?/models(?:/(?P<id>[^/?]+))?/?")


def models_path(path: str) -> tuple[bool, str | None]:
    """(is a models path, the model id it names, if any)."""
    match = _MODELS_PATH.fullmatch(path.partition("?")[0])
    if match is None:
        return False, None
    return True, match.group("id")


def model_entry(info: ModelInfo) -> dict[str, Any]:
    return {
        "id": info.slug,
        "object": "model",
        "created": 0,
        "owned_by": "openai",
        "context_window": info.context_window,
        "max_context_window": info.max_context_window or info.context_window,
        "reasoning_levels": list(info.reasoning_levels),
        "default_reasoning_level": info.default_reasoning_level,
        "service_tiers": list(info.service_tiers) if info.service_tiers is not None else None,
        "transport": "websocket" if info.prefer_websockets else "http",
    }


def model_list(catalog: Catalog) -> bytes:
    data = []
    for slug in catalog.slugs():
        info = catalog.match(slug).info
        if info is not None:
            data.append(model_entry(info))
    return json.dumps({"object": "list", "data": data}).encode()


def one_model(catalog: Catalog, model_id: str) -> bytes:
    """The entry of `model_id` (matched like a request's model name), or a 404 ClientError."""
    info = catalog.match(model_id).info
    if info is None:
        raise ClientError(
            f"The model '{model_id}' does not exist or you do not have access to it.",
            status=404,
            param="model",
            code="model_not_found",
        )
    return json.dumps(model_entry(info)).encode()
