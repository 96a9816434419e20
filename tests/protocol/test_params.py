"""The shape checks' error builders (params.py): a client's value is quoted back short."""

from __future__ import annotations

import pytest

from chat2responses.protocol.errors import ClientError
from chat2responses.protocol.params import SHOWN, invalid_value, shown
from chat2responses.request.translate import translate_request
from chat2responses.upstream.catalog import Catalog
from chat2responses.upstream.profiles import OPENAI


def test_a_short_value_is_quoted_whole_and_a_long_one_cut() -> None:
    assert shown("user") == "'user'"
    long = shown("x" * 10_000_000)
    assert long.startswith("'xxx") and long.endswith("(9999902 more characters)")
    assert len(long) < SHOWN + 40


def test_invalid_value_names_the_parameter_and_quotes_the_value_short() -> None:
    err = invalid_value("verbosity", "loud" * 1000, ("low", "high"))
    assert err.param == "verbosity" and len(err.message) < 250
    assert "'low', 'high'" in err.message


@pytest.mark.parametrize(
    "body",
    [
        {"model": "m", "messages": [{"role": "x" * 1_000_000, "content": "hi"}]},
        {"model": "m", "messages": [{"role": "user", "content": "hi"}], "reasoning_effort": "y" * 1_000_000},  # noqa: E501
        {"model": "m", "messages": [{"role": "user", "content": [{"type": "z" * 1_000_000}]}]},
    ],
)  # fmt: skip
def test_a_huge_bad_value_gets_a_short_400(body: dict[str, object]) -> None:
    with pytest.raises(ClientError) as caught:
        translate_request(body, catalog=Catalog.default(), profile=OPENAI)
    assert caught.value.status == 400 and len(caught.value.message) < 500
