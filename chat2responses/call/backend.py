"""What the upstream adds to one call beyond its translation: the Codex backend's client
identity and model gating, the compact endpoint's body, and what the call keeps to tell of its
answer (the served tier, safety buffering, a refusal's likely cause).

The glue asks `compact_body` before it translates a `…/responses/compact` request, and
`call_extras` once the translation is known; both only read the profile (upstream/profiles.py),
so a backend fact stays a profile field.

Rule 1: on a profile with `client_identity`, the forwarded headers speak as the Codex CLI
        (identity.py rule 1), and a catalog model too new for that version is a 400 before
        anything goes upstream (identity.py rule 2).
Rule 2: the served tier is compared with the tier the translation sends (notes.py).

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from chat2responses.protocol.errors import ProxyError
from chat2responses.request.client_headers import client_headers
from chat2responses.request.compaction import compaction_request, kept_messages
from chat2responses.request.translate import Translation
from chat2responses.upstream.identity import is_codex_client, too_old_for, with_identity
from chat2responses.upstream.notes import UpstreamNotes
from chat2responses.upstream.profiles import UpstreamProfile
from chat2responses.upstream.rejections import CallContext, explain

if TYPE_CHECKING:
    from chat2responses.settings import Settings


def compact_body(body: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    """A compact request's `/responses` body, and the messages its answer repeats."""
    return compaction_request(body), kept_messages(body)


@dataclass(frozen=True, slots=True)
class CallExtras:
    headers: dict[str, str]  # the forwarded client headers, identity applied (rule 1)
    notes: UpstreamNotes  # fed by the call as it goes, read for the answer's header and report
    explain: Callable[[ProxyError], ProxyError]  # a refusal's likely cause and fix
    codex_client: bool  # the client names a Codex originator: it reads vendor events


def call_extras(
    translation: Translation,
    profile: UpstreamProfile,
    fields: Iterable[tuple[bytes, bytes]],
    settings: Settings,
    login: object | None,
) -> CallExtras:
    """The call's extras, from the client's raw header `fields` (`login`: the ChatGPT login that
    speaks for the client, if any); raises the 400 of a model too new for the client version
    (rule 1), or of a header that cannot be sent on."""
    fields = tuple(fields)
    forwarded = client_headers(fields, settings.auth)
    client_version = settings.client_version
    match, info = translation.match, translation.match.info
    if profile.client_identity and info is not None:
        refusal = too_old_for(match.upstream_name, info.minimal_client_version, client_version)
        if refusal is not None:
            raise refusal
    headers = dict(forwarded)
    if profile.client_identity:
        headers = with_identity(headers, client_version)
    tier = translation.body.get("service_tier")
    context = CallContext(
        model=match.upstream_name,
        client_version=client_version,
        codex_backend=profile.client_identity,
        login=login is not None,
        listed=info is not None,
        lite=translation.responses_lite,
        minimal=info.minimal_client_version if info is not None else None,
    )
    return CallExtras(
        headers=headers,
        notes=UpstreamNotes(asked_tier=tier if isinstance(tier, str) else None),
        explain=partial(explain, ctx=context),
        codex_client=is_codex_client(fields),
    )
