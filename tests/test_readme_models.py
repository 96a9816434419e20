"""Every model the README tells people to use is one `GET /v1/models` lists: the models named in
its code examples and in the table of where each tool takes the proxy's address (a catalog file's
example names models to configure, retired ones included: it is not one)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from chat2responses.upstream.catalog import Catalog
from chat2responses.upstream.models_list import model_list

README = Path(__file__).resolve().parent.parent / "README.md"
_FENCED = re.compile(r"^```[a-z]*\n(.*?)^```", re.DOTALL | re.MULTILINE)
_MODEL = re.compile(r"\b(?:openai/)?((?:gpt|o\d|codex)[\w.\-]*[\w])")
_TOOLS = ("| openai SDK", "| Continue", "| Cline", "| Zed", "| Aider")


def told_to_use(text: str) -> set[str]:
    places = [block for block in _FENCED.findall(text) if '"aliases"' not in block]
    places += [line for line in text.splitlines() if line.startswith(_TOOLS)]
    return {name for place in places for name in _MODEL.findall(place)}


def test_every_model_the_readme_tells_people_to_use_is_listed() -> None:
    told = told_to_use(README.read_text(encoding="utf-8"))
    listed = {entry["id"] for entry in json.loads(model_list(Catalog.default()))["data"]}
    assert "gpt-5.5" in told  # the examples were found
    assert told <= listed, told - listed


def test_the_check_finds_a_retired_name_in_an_example() -> None:
    text = (
        '```sh\ncurl … -d \'{"model":"gpt-5-codex"}\'\n```\n| Aider | `--model openai/gpt-4.1` |\n'
    )
    assert told_to_use(text) == {"gpt-5-codex", "gpt-4.1"}
