"""The upstream's gating answers, explained: the likely cause and what to do, in the client's
error message and the flow's comment.

The Codex backend refuses a model in a few terse ways (codex-backend-2026.md §1, §2, §8): "…not
supported when using Codex with a ChatGPT account", "The '<model>' model requires a newer version
of Codex", a 404 "Model not found", a Responses-Lite `unsupported_value`. None says why, and the
cause is usually on this side: the Codex CLI version the addon speaks as, the login kind, a
retired or unlisted model, the request's shape. `explain` keeps the status, the code and the
upstream's own words, and adds one sentence: the likely cause and the fix.

Rule 1: table-driven: the first row whose test matches the error explains it; an error no row
        knows is left as it came.
Rule 2: an error is explained once (a retried or re-raised one is not explained again).

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chat2responses.protocol.errors import ProxyError
from chat2responses.upstream.identity import CODEX_CLI_VERSION, OPTION, Version, version_text

MARK = " (chat2responses: "


@dataclass(frozen=True, slots=True)
class CallContext:
    """What a call knows that explains a refusal."""

    model: str  # the name sent upstream
    client_version: str  # the Codex CLI version the addon speaks as
    codex_backend: bool  # the upstream is the Codex backend (the identity is sent)
    login: bool  # responses_auth=codex: the ChatGPT login speaks for the client
    listed: bool  # the catalog in use lists the model
    lite: bool  # the request has the Responses-Lite shape
    minimal: Version | None = None  # the catalog's minimal_client_version for the model


def _text(err: ProxyError) -> str:
    return f"{err.message} {err.code or ''}".lower()


def _newer_version(err: ProxyError, ctx: CallContext) -> str:
    wanted = (
        version_text(ctx.minimal) if ctx.minimal else f"the newest ({CODEX_CLI_VERSION} or later)"
    )
    return (
        f"likely cause: '{ctx.model}' needs a newer Codex client than {ctx.client_version}, "
        f"the version chat2responses speaks to the Codex backend as; to fix: set the option "
        f"{OPTION} to {wanted}"
    )


def _chatgpt_account(err: ProxyError, ctx: CallContext) -> str:
    return (
        f"likely cause: the Codex backend does not serve '{ctx.model}' to this ChatGPT sign-in: "
        f"the model is retired for ChatGPT accounts, not in your plan, or needs a newer Codex "
        f"client than {ctx.client_version}; to fix: pick a model GET /v1/models lists, raise "
        f"{OPTION} if it is listed there, or use an OpenAI API key for this model"
    )


def _not_found(err: ProxyError, ctx: CallContext) -> str:
    if ctx.codex_backend:
        listed = (
            "the catalog lists it, so the backend did not serve it to Codex CLI "
            f"{ctx.client_version} or to this account"
            if ctx.listed
            else "the catalog does not list it: it may be retired or misspelt"
        )
        return (
            f"likely cause: the Codex backend hides '{ctx.model}' from this client version or "
            f"account ({listed}); to fix: pick a model GET /v1/models lists, or raise {OPTION}"
        )
    return (
        f"likely cause: the upstream does not know '{ctx.model}' (retired, misspelt, or not "
        "available to this key); to fix: pick a model the upstream lists"
    )


def _lite_shape(err: ProxyError, ctx: CallContext) -> str:
    return (
        f"likely cause: '{ctx.model}' takes the Responses-Lite request shape, which supports only "
        "function tools, custom tools and client-executed tool search; to fix: leave out the "
        "hosted tools and any forced tool_choice, or pick a model without the Lite shape"
    )


Rule = tuple[Callable[[ProxyError, CallContext], bool], Callable[[ProxyError, CallContext], str]]

# In order; the first match explains (rule 1).
RULES: tuple[Rule, ...] = (
    (lambda e, c: "requires a newer version" in _text(e), _newer_version),
    (
        lambda e, c: "not supported when using codex with a chatgpt account" in _text(e),
        _chatgpt_account,
    ),
    (lambda e, c: c.lite and "unsupported_value" in _text(e), _lite_shape),
    (lambda e, c: e.status == 404 and "model" in _text(e), _not_found),
    (lambda e, c: "model_not_found" in _text(e), _not_found),
    (lambda e, c: "does not exist" in _text(e) and "model" in _text(e), _not_found),
)


def explanation(err: ProxyError, ctx: CallContext) -> str | None:
    """The sentence that explains `err`, or None when no rule knows it."""
    for test, explain in RULES:
        if test(err, ctx):
            return explain(err, ctx)
    return None


def explain(err: ProxyError, ctx: CallContext) -> ProxyError:
    """`err`, its message followed by the likely cause and the fix when a rule knows it (once)."""
    if MARK in err.message:
        return err  # rule 2
    words = explanation(err, ctx)
    if words is not None:
        err.message = f"{err.message}{MARK}{words})"
    return err
