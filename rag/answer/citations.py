"""The citation check every answer and summary goes through, whichever answerer wrote it.

- every `[n]` must point to a passage that was given; other markers are removed and reported;
- the citation list holds only passages actually cited, renumbered in order of first use;
- every quote is verbatim from its article (checked against the registry's stored text).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from rag.models import Citation, Passage
from rag.text.sentences import round_brackets, split_sentences

# "[1]", "[1, 3]", "[2; 4]", and ranges "[1-3]" / "[1–3]" as LLMs write them.
_ITEM = r"\d+(?:\s*[-–]\s*\d+)?"

_MARKER = re.compile(rf"\[(\s*{_ITEM}(?:\s*[,;]\s*{_ITEM})*\s*)\]")

_WORD = re.compile(r"\w+")


@dataclass
class Checked:
    """An answer text after the check, with its citations and what was fixed."""

    text: str
    citations: list[Citation] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class CheckedSegments:
    """Several texts checked as one (one numbering across them), each cleaned in place."""

    texts: list[str]
    citations: list[Citation] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def marked(sentence: str, n: int) -> str:
    """An article sentence followed by its `[n]` marker. Square brackets inside the sentence are
    shown round, so they never read as markers (the citation's quote stays verbatim)."""
    return f"{round_brackets(sentence)} [{n}]"


def best_quote(passage_text: str, claim: str) -> str:
    """The sentence of the passage that shares most words with the claim citing it."""
    spans = split_sentences(passage_text)
    if not spans:
        return passage_text
    claim_words = {w.lower() for w in _WORD.findall(claim) if len(w) > 2}

    def overlap(span: tuple[int, int]) -> float:
        words = {w.lower() for w in _WORD.findall(passage_text[span[0]:span[1]]) if len(w) > 2}
        return len(words & claim_words) / (1 + len(words) ** 0.5)

    s, e = max(spans, key=overlap)
    return passage_text[s:e] if overlap((s, e)) > 0 else passage_text


def check_citations(text: str, passages: list[Passage], article_text: Callable[[str], str | None],
                    quotes: dict[int, str] | None = None, given: set[int] | None = None) -> Checked:
    """Validate and renumber the `[n]` markers of `text` against the 1-based `passages`.

    `given`, if set, holds the numbers of the passages the writer actually saw (a summary of a
    very long text sends only some); markers for the others are removed too.

    `quotes` may give the exact quote to use for a passage number (the extractive answerer
    knows which sentence it used); otherwise the passage sentence closest to the citing
    sentence is quoted. `article_text(article_id)` returns the stored article for verification.
    """
    checked = check_segments([text], passages, article_text, quotes, given)
    return Checked(checked.texts[0], checked.citations, checked.warnings)


def check_segments(segments: list[str], passages: list[Passage], article_text: Callable[[str], str | None],
                   quotes: dict[int, str] | None = None, given: set[int] | None = None) -> CheckedSegments:
    """`check_citations` over several texts at once: markers are numbered in order of first use
    across all of them (as a briefing's differences share one source list)."""
    warnings: list[str] = []
    mapping: dict[int, int] = {}
    claims: dict[int, str] = {}
    texts = [_renumber(text, passages, given, mapping, claims, warnings) for text in segments]
    citations = []
    for old, new in sorted(mapping.items(), key=lambda kv: kv[1]):
        p = passages[old - 1]
        quote = (quotes or {}).get(old) or best_quote(p.text, claims[old])
        full = article_text(p.article_id)
        if full is not None and quote not in full:
            warnings.append(f"quote for [{new}] was not verbatim in its article; the passage is quoted instead")
            quote = p.text
        citations.append(Citation.of(new, p, quote))
    return CheckedSegments(texts, citations, warnings)


def _renumber(text: str, passages: list[Passage], given: set[int] | None, mapping: dict[int, int],
              claims: dict[int, str], warnings: list[str]) -> str:
    """One text's markers checked and renumbered; `mapping`, `claims` and `warnings` are shared
    by all the texts of one check and filled in here."""
    sentences = split_sentences(text) or [(0, len(text))]

    def claim_at(pos: int) -> str:
        for s, e in sentences:
            if s <= pos <= e + 1:
                return text[s:e]
        return text

    def replace(match: re.Match) -> str:
        out: list[str] = []
        numbers: list[int] = []
        for raw in re.split(r"[,;]", match.group(1)):
            first, dash, last = raw.replace("–", "-").partition("-")
            lo, hi = int(first), int(last or first)
            if dash and not (lo <= hi < 1000 and hi - lo < 50):
                return match.group(0)  # "[2020-2024]": years, not passages; leave the text alone
            numbers += range(lo, hi + 1)
        for n in numbers:
            if not 1 <= n <= len(passages) or (given is not None and n not in given):
                warnings.append(f"removed citation [{n}]: no passage {n} was given")
                continue
            if n not in mapping:
                mapping[n] = len(mapping) + 1
                claims[n] = claim_at(match.start())
            marker = f"[{mapping[n]}]"
            if marker not in out:
                out.append(marker)
        return "".join(out)

    checked = _MARKER.sub(replace, text)
    return re.sub(r"[ \t]+([.,;:!?])", r"\1", re.sub(r"[ \t]{2,}", " ", checked)).strip()
