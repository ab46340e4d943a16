"""docs/contract.md is kept in step with the design card, and the typed results give its JSON shapes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CARD = ROOT.parent / "shared" / "DESIGN.md"
CONTRACT = ROOT / "docs" / "contract.md"


def test_every_line_of_the_design_card_is_in_the_contract():
    if not CARD.exists():
        pytest.skip(f"the design card is not at {CARD} (../shared is absent)")
    contract = set(CONTRACT.read_text(encoding="utf-8").splitlines())
    lines = CARD.read_text(encoding="utf-8").splitlines()[2:]  # below the card's own title
    missing = [line for line in lines if line.strip() and line not in contract]
    assert not missing, "docs/contract.md lacks these lines of ../shared/DESIGN.md:\n" + "\n".join(missing)


def _contract_keys(heading: str) -> list[str]:
    """The keys of the contract's JSON example under `heading`, in the order written (the
    examples hold placeholders such as "…" and [as above], so they are read, not parsed)."""
    text = CONTRACT.read_text(encoding="utf-8")
    block = text.split(heading, 1)[1].split("```json", 1)[1].split("```", 1)[0]
    return re.findall(r'"(\w+)":', block)


def _keys(value) -> list[str]:
    """The keys of a JSON value in document order (a list's first item stands for all)."""
    if isinstance(value, dict):
        return [k for key, v in value.items() for k in (key, *_keys(v))]
    if isinstance(value, list) and value:
        return _keys(value[0])
    return []


def test_answer_and_citation_json_have_the_contract_keys():
    from rag.answer.pipeline import Answer
    from rag.models import Citation

    cit = Citation(1, "a", "t", None, None, None, None, "q")
    answer = Answer("q", "a [1]", True, "extractive", [cit], [])
    assert _keys(answer.as_json()) == _contract_keys("### JSON of `ask`")


def test_briefing_json_has_the_contract_keys():
    from rag.briefing.results import Briefing, Story

    story = Story("h", "s [1]", ["a"], ["outlet"], [], [], [])
    data = Briefing("2024-01-01", "2024-01-01", "now", "extractive", [story], "# md", []).as_json()
    # a story's citations are "[as above]" in the contract, and its `articles` an addition
    assert [k for k in _keys(data) if k != "articles"] == _contract_keys("### JSON of `briefing`")
    again = Briefing.from_json(data)
    assert again.as_json() == data
