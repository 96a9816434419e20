"""rejections: the backend's gating answers keep their status and gain the likely cause and fix."""

from __future__ import annotations

import pytest

from chat2responses.protocol.errors import ClientError, UpstreamError
from chat2responses.upstream.rejections import MARK, CallContext, explain, explanation

CODEX = CallContext(
    model="gpt-6-astra",
    client_version="0.150.0",
    codex_backend=True,
    login=True,
    listed=True,
    lite=False,
    minimal=(0, 153, 0),
)


def upstream(message: str, status: int = 400, code: str | None = None) -> UpstreamError:
    return UpstreamError(message, status=status, code=code)


# (error, context) → words the explanation must hold (cause, then fix)
CASES = [
    pytest.param(
        upstream("The 'gpt-6-astra' model requires a newer version of Codex. Please upgrade."),
        CODEX,
        ("needs a newer Codex client than 0.150.0", "responses_client_version to 0.153.0"),
        id="newer-version",
    ),
    pytest.param(
        upstream("The 'x' model requires a newer version of Codex."),
        CallContext("x", "0.150.0", True, True, False, False),
        ("needs a newer Codex client", "responses_client_version to the newest"),
        id="newer-version-unknown-minimum",
    ),
    pytest.param(
        upstream("The 'gpt-5.2' model is not supported when using Codex with a ChatGPT account."),
        CODEX,
        ("retired for ChatGPT accounts", "GET /v1/models", "responses_client_version", "API key"),
        id="chatgpt-account",
    ),
    pytest.param(
        upstream("Model not found gpt-6-astra", status=404),
        CODEX,
        ("hides 'gpt-6-astra' from this client version", "the catalog lists it"),
        id="404-listed",
    ),
    pytest.param(
        upstream("Model not found gpt-9", status=404),
        CallContext("gpt-9", "0.171.0", True, True, False, False),
        ("the catalog does not list it: it may be retired or misspelt", "GET /v1/models"),
        id="404-unlisted",
    ),
    pytest.param(
        upstream("The model 'gpt-9' does not exist", code="model_not_found"),
        CallContext("gpt-9", "0.171.0", False, False, False, False),
        ("the upstream does not know 'gpt-9'", "pick a model the upstream lists"),
        id="unknown-model-openai",
    ),
    pytest.param(
        upstream("Responses-Lite only supports function tools", code="unsupported_value"),
        CallContext("gpt-5.6-sol", "0.171.0", True, True, True, True),
        ("Responses-Lite request shape", "leave out the hosted tools"),
        id="lite-shape",
    ),
]


@pytest.mark.parametrize(("err", "ctx", "words"), CASES)
def test_a_gating_answer_is_explained(
    err: UpstreamError, ctx: CallContext, words: tuple[str, ...]
) -> None:
    original, status, code = err.message, err.status, err.code
    explained = explain(err, ctx)
    assert (explained.status, explained.code) == (status, code)  # status and code kept
    assert explained.message.startswith(original + MARK + "likely cause: ")
    assert "; to fix: " in explained.message
    for word in words:
        assert word in explained.message


@pytest.mark.parametrize(
    "err",
    [
        upstream("Store must be set to false"),
        upstream("upstream failed", status=500),
        upstream("Rate limit reached", status=429, code="rate_limit_exceeded"),
        upstream("unsupported_value: nope", code="unsupported_value"),  # not a Lite request
    ],
)
def test_anything_else_is_left_as_it_came(err: UpstreamError) -> None:
    before = err.message
    assert explanation(err, CODEX) is None
    assert explain(err, CODEX).message == before


def test_an_error_is_explained_once() -> None:
    err = upstream("Model not found gpt-6-astra", status=404)
    once = explain(err, CODEX).message
    assert explain(err, CODEX).message == once
    assert once.count(MARK) == 1


def test_a_client_error_is_explained_too() -> None:
    err = ClientError("The model 'gpt-9' does not exist", code="model_not_found")
    assert MARK in explain(err, CODEX).message
