"""Chat Completions request → Responses request: the body parser and one pure translation.

Owns `translate_request` (the client's bytes become a JSON object in body.py),
which validates every chat parameter, maps it per reference/openai-protocols.md §3.6, rejects what
has no Responses counterpart (400 naming the parameter), drops what is harmless (listed in
`Translation.dropped`) and applies the upstream profile. A body that is already Responses-shaped
(`input` instead of `messages`, as Cursor's agent sends to /chat/completions) goes to
request/responses_shape.py. It hands `messages` to request/messages.py, the tools and tool
choice to request/tools.py, and reasoning to request/reasoning.py; a parameter of the wrong
shape is one of params.py's 400s.

Must not: do I/O, know the transport (the WebSocket route adds `"type": "response.create"`), or
hold a backend quirk (those are fields of `profiles.UpstreamProfile`, applied by
request/profile_rules.py).

Rule 1: upstream is always streamed (`stream: true`), whatever the client asked; `stream` and
        `include_usage` report what the client asked, for the response side.
Rule 2: reasoning effort and summaries as request/reasoning.py settles them; `summaries=False`
        takes back only the default summary.
Rule 3: `logprobs`/`top_logprobs` are dropped, not mapped: the chunks we emit carry
        `logprobs: null`, so asking upstream for them would cost tokens for nothing.
Rule 4: `stop` (a string or up to 4) is kept in `Translation.stop` for the stream translator,
        which cuts the answer there; Responses has no `stop`, so it is never sent, nor "dropped".
Rule 5: a model the catalog flags `use_responses_lite`, on a profile with a Lite marker, gets
        the Responses-Lite shape (request/lite.py), and the marker in `http_headers` /
        `ws_extra`; what has no Lite form is refused (400) before anything goes upstream.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from chat2responses.protocol.errors import ClientError, UnsupportedParameter
from chat2responses.protocol.params import (
    Item,
    as_bool,
    as_list,
    as_number,
    as_object,
    as_str,
    as_token_limit,
    invalid_type,
    invalid_value,
    missing,
    need_object,
    need_str,
    opt_str,
)
from chat2responses.protocol.wire import ReasoningMode
from chat2responses.request.lite import lite_marker, to_responses_lite
from chat2responses.request.messages import translate_messages
from chat2responses.request.profile_rules import apply_profile
from chat2responses.request.reasoning import (
    drop_default_summary,
    settle_reasoning,
    with_encrypted_reasoning,
)
from chat2responses.request.responses_shape import from_responses_shape
from chat2responses.request.tools import custom_tool_names, translate_tool_choice, translate_tools
from chat2responses.response.chunks import ChunkContext
from chat2responses.upstream.catalog import Catalog, ModelMatch
from chat2responses.upstream.profiles import UpstreamProfile


@dataclass(frozen=True, slots=True)
class Translation:
    body: dict[str, Any]  # the Responses request body (no "type": the WebSocket route adds it)
    stream: bool  # did the client ask for streaming
    include_usage: bool  # stream_options.include_usage
    model: str  # the model name to report back on chunks (the client's requested name)
    match: ModelMatch
    dropped: tuple[str, ...]  # harmless client parameters not sent upstream
    removed: tuple[str, ...] = ()  # fields the upstream refuses, taken out wherever they were
    stop: tuple[str, ...] = ()  # the client's stop sequences, applied to the answer (rule 4)
    legacy_functions: bool = False  # `functions` without `tools`: answer with `function_call`
    responses_lite: bool = False  # the body has the Responses-Lite shape (rule 5)
    # Extra upstream headers for an HTTP request (the Lite marker), and what the WebSocket
    # `response.create` frame adds (`profiles.response_create_frame(profile, body, ws_extra)`).
    http_headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    ws_extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def chunk_context(
        self, *, chunk_id: str, created: int, reasoning: ReasoningMode
    ) -> ChunkContext:
        """What the answer's chunks need from this request (the caller injects ids and clock)."""
        return ChunkContext(
            chunk_id=chunk_id,
            created=created,
            model=self.model,
            reasoning=reasoning,
            stop=self.stop,
            legacy_functions=self.legacy_functions,
        )


def translate_request(
    body: dict[str, Any],
    *,
    catalog: Catalog,
    profile: UpstreamProfile,
    summaries: bool = True,
    responses_api: bool = False,
    match: ModelMatch | None = None,
) -> Translation:
    """The Responses request for a chat (or Responses-shaped) body. `summaries=False` leaves out
    the reasoning summary the proxy asks for by default (the client's own request stays);
    `responses_api`: the body came to `…/responses`, so without `messages` it is
    Responses-shaped (a missing `input` is named as such). `match`: the body's model matched
    already (call/plan.py matches it once, to route the call), else it is matched here."""
    model = body.get("model")
    if not isinstance(model, str):
        raise missing("model") if model is None else invalid_type("model", "a string", model)
    if not model.strip():
        raise ClientError("'model' must not be empty.", param="model", code="invalid_value")
    if match is None:
        match = catalog.match(model)
    responses_shaped = "messages" not in body and ("input" in body or responses_api)
    stream, include_usage = _stream_flags(body, chat=not responses_shaped)
    stop = _stop(body.get("stop"))
    if responses_shaped:
        out, dropped, renamed = from_responses_shape(body, match, profile)
    else:
        if "input" in body:
            raise ClientError(
                "Send either 'messages' (Chat Completions) or 'input' (Responses), not both.",
                param="input",
                code="invalid_value",
            )
        out, dropped, renamed = _from_chat(body, match, profile)
    lost, removed = apply_profile(out, profile, renamed, match)
    dropped.extend(lost)
    if not summaries:
        drop_default_summary(out, body)
    lite = profile.responses_lite if match.info and match.info.use_responses_lite else None
    if lite is not None:
        to_responses_lite(out, body)
    return Translation(
        body=out,
        stream=stream,
        include_usage=include_usage,
        model=model,
        match=match,
        dropped=tuple(dict.fromkeys(dropped)),
        removed=tuple(removed),
        stop=stop,
        legacy_functions="messages" in body and _legacy_functions(body),
        responses_lite=lite is not None,
        **lite_marker(lite),
    )


def _legacy_functions(body: dict[str, Any]) -> bool:
    """Legacy `functions` without `tools`: the answer takes the legacy `function_call` shape."""
    return body.get("functions") is not None and body.get("tools") is None


MAX_STOP_SEQUENCES = 4  # OpenAI's limit


def _stop(value: object) -> tuple[str, ...]:
    """`stop`: null, a string, or an array of up to 4 strings; empty strings stop nothing."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value else ()
    sequences = as_list(value, "stop")
    if len(sequences) > MAX_STOP_SEQUENCES:
        raise ClientError(
            f"'stop' may hold at most {MAX_STOP_SEQUENCES} sequences, not {len(sequences)}.",
            param="stop",
            code="invalid_value",
        )
    return tuple(s for i, s in enumerate(sequences) if as_str(s, f"stop[{i}]"))


def _stream_flags(body: dict[str, Any], *, chat: bool) -> tuple[bool, bool]:
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise invalid_type("stream", "a boolean", stream)
    options = body.get("stream_options")
    if options is None:
        return bool(stream), False
    usage = as_object(options, "stream_options").get("include_usage")
    if usage is not None and not isinstance(usage, bool):
        raise invalid_type("stream_options.include_usage", "a boolean", usage)
    if chat and not stream:  # OpenAI's Chat Completions refuses them on an answer in one piece
        raise ClientError(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            param="stream_options",
        )
    return bool(stream), bool(usage)


# --- chat-shaped bodies ------------------------------------------------------------------------

Check = Callable[[object, str], object]

# Chat parameters copied under a Responses name (in this order; the later of two wins).
_COPIED: dict[str, tuple[str, Check]] = {
    "parallel_tool_calls": ("parallel_tool_calls", as_bool),
    "max_tokens": ("max_output_tokens", as_token_limit),
    "max_completion_tokens": ("max_output_tokens", as_token_limit),
    "temperature": ("temperature", as_number),
    "top_p": ("top_p", as_number),
    "metadata": ("metadata", as_object),
    "service_tier": ("service_tier", as_str),
    "prompt_cache_key": ("prompt_cache_key", as_str),
    "prompt_cache_retention": ("prompt_cache_retention", as_str),
    "prompt_cache_options": ("prompt_cache_options", as_object),
    "user": ("user", as_str),
    "safety_identifier": ("safety_identifier", as_str),
    "moderation": ("moderation", as_object),
}

# Chat parameters translated by their own function below.
# fmt: off
_TRANSLATED = frozenset({
    "model", "messages", "stream", "tools", "functions", "tool_choice", "function_call",
    "response_format", "verbosity", "reasoning_effort", "web_search_options", "stop"
})
# fmt: on


def _n_unservable(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_type("n", "an integer", value)
    if value < 1:
        raise ClientError("'n' must be at least 1.", param="n", code="invalid_value")
    return (
        None if value == 1 else f"n={value} is not supported: the Responses API makes one choice."
    )


def _audio_modality(value: object) -> str | None:
    if isinstance(value, list) and "audio" in value:
        return "modalities containing 'audio' is not supported: the Responses API has no audio."
    return None


# Parameters with no Responses counterpart: a value that asks for the feature is refused (the
# message), one that does not (n=1, an empty logit_bias) is dropped like any other leftover.
_REFUSED: dict[str, Callable[[object], str | None]] = {
    "n": _n_unservable,
    "logit_bias": lambda v: "logit_bias has no Responses API counterpart." if v else None,
    "audio": lambda v: "Audio output (audio) is not supported: the Responses API has no audio.",
    "modalities": _audio_modality,
    "prediction": lambda v: "Predicted outputs (prediction) have no Responses API counterpart.",
}


def _from_chat(
    body: dict[str, Any], match: ModelMatch, profile: UpstreamProfile
) -> tuple[dict[str, Any], list[str], dict[str, str]]:
    dropped = _leftovers(body)
    tools = translate_tools(body)
    instructions, items = translate_messages(
        body.get("messages"),
        system_role=profile.system_role_as,
        custom_tools=custom_tool_names(tools),
    )
    out: dict[str, Any] = {"model": match.upstream_name}
    if instructions is not None:
        out["instructions"] = instructions
    out["input"] = items
    if tools:
        out["tools"] = tools
    if _legacy_functions(body):
        # The legacy shape answers with one `function_call`: ask for one.
        out["parallel_tool_calls"] = False
    choice = translate_tool_choice(body, dropped)
    if body.get("tool_choice") is not None and not body.get("tools") and not body.get("functions"):
        raise ClientError(  # OpenAI's own refusal, as its chat API words it
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are "
            "specified.",
            param="tool_choice",
        )
    if choice is not None:
        out["tool_choice"] = choice
    renamed: dict[str, str] = {}
    for key, (name, check) in _COPIED.items():
        if (value := body.get(key)) is not None:
            out[name] = check(value, key)
            renamed[name] = key
    effort = body.get("reasoning_effort")
    reasoning = settle_reasoning(effort, "reasoning_effort", match, {})
    if reasoning is not None:
        out["reasoning"] = reasoning
    if text := _text(body):
        out["text"] = text
    if include := with_encrypted_reasoning([], reasoning, profile):
        out["include"] = include
    return out, dropped, renamed


# Read by the proxy itself (streaming and the usage chunk), not forwarded: not "dropped".
_CONSUMED = frozenset({"stream", "stream_options"})


def _leftovers(body: dict[str, Any]) -> list[str]:
    """Refuse what cannot be served; list what is dropped (harmless and unknown keys)."""
    dropped = []
    for key, value in body.items():
        if value is None or key in _TRANSLATED or key in _COPIED or key in _CONSUMED:
            continue
        refuse = _REFUSED.get(key)
        if refuse is not None and (message := refuse(value)) is not None:
            raise UnsupportedParameter(key, message)
        if key == "store" and value is False:
            continue  # what we send anyway
        dropped.append(key)
    return dropped


# --- text --------------------------------------------------------------------------------------


_VERBOSITY = ("low", "medium", "high")


def _text(body: dict[str, Any]) -> dict[str, Any]:
    text: dict[str, Any] = {}
    if (fmt := body.get("response_format")) is not None:
        text["format"] = _text_format(as_object(fmt, "response_format"))
    if (verbosity := body.get("verbosity")) is not None:
        if verbosity not in _VERBOSITY:
            raise invalid_value("verbosity", verbosity, _VERBOSITY)
        text["verbosity"] = verbosity
    return text


def _text_format(fmt: dict[str, Any]) -> Item:
    kind = fmt.get("type")
    if kind in ("text", "json_object"):
        return {"type": kind}
    if kind != "json_schema":
        raise invalid_value("response_format.type", kind, ("text", "json_object", "json_schema"))
    where = "response_format.json_schema"
    spec = need_object(fmt, "json_schema", "response_format")
    out: Item = {"type": "json_schema", "name": need_str(spec, "name", where)}
    if (description := opt_str(spec, "description", where)) is not None:
        out["description"] = description
    # Chat lets `schema` be omitted; Responses requires it, so say so here rather than upstream.
    out["schema"] = need_object(spec, "schema", where)
    if (strict := spec.get("strict")) is not None:
        out["strict"] = as_bool(strict, f"{where}.strict")
    return out
