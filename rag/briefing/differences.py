"""Where outlets on one story differ: figures, framing, opinion."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from rag.briefing.figures import figures
from rag.briefing.opinion import is_opinion, opinion_cues, unquoted
from rag.models import ArticleRecord
from rag.text.sentences import round_brackets


@dataclass
class Finding:
    """A difference between outlets, as text with [k] markers into `quotes` (k is 1-based):
    an opinion piece among reports, or figures that disagree."""

    kind: Literal["opinion", "figures"]
    text: str
    quotes: list[tuple[str, int, int]]  # (article_id, start, end) of each quoted sentence


def _short(sentence: str, limit: int = 160) -> str:
    """A sentence shortened for inline quoting (the citation keeps it whole); square brackets
    become round ones, so article text can never read as a citation marker."""
    text = sentence if len(sentence) <= limit else sentence[:limit - 1].rsplit(" ", 1)[0] + "…"
    return round_brackets(text)


def _outlet(rec: ArticleRecord) -> str:
    return rec.source or "an outlet not named"


# Cosine (MiniLM) above which two sentences report the same fact: paraphrases of one fact score
# ~0.6-0.7 ("Fourteen people were injured…" / "Nine people were hurt in the crash…": 0.67), other
# sentences of the same story 0.1-0.3.
SAME_FACT = 0.55


def differences(records: list[ArticleRecord], texts: dict[str, str],
                embed: Callable[[list[str]], np.ndarray], max_figures: int = 2) -> list[Finding]:
    """Opinion pieces, and sentences of different outlets that report the same fact with
    different figures."""
    findings = _opinion_findings(records, texts)
    if len({_outlet(r) if r.source else r.article_id for r in records}) < 2:
        return findings
    return findings + _figure_findings(records, texts, embed, max_figures, len(findings))


def _opinion_findings(records: list[ArticleRecord], texts: dict[str, str]) -> list[Finding]:
    """An opinion piece among the story's articles, each quoted by its most opinionated sentence."""
    from rag.text.sentences import split_sentences

    findings: list[Finding] = []
    for rec in records:
        text = texts.get(rec.article_id, "")
        if not is_opinion(rec, text):
            continue
        spans = split_sentences(text)
        if not spans:
            continue
        plain = unquoted(text)
        s, e = max(spans, key=lambda sp: (opinion_cues(plain[sp[0]:sp[1]]), -sp[0]))
        why = "its URL files it under opinion" if opinion_cues(plain[s:e]) == 0 else "it argues rather than reports"
        findings.append(Finding(
            "opinion",
            f"Opinion rather than reporting: {_short(_outlet(rec))}'s “{_short(rec.title, 200)}” ({why}), "
            f"e.g. “{_short(text[s:e])}” [1]",
            [(rec.article_id, s, e)]))
    return findings


def _figure_findings(records: list[ArticleRecord], texts: dict[str, str], embed: Callable[[list[str]], np.ndarray],
                     max_figures: int, already: int) -> list[Finding]:
    """Sentences of different outlets that report the same fact with different figures; at most
    `max_figures`, and no more than `max_figures + 5` findings with the `already` found."""
    from rag.text.sentences import split_sentences

    findings: list[Finding] = []
    sents: list[tuple[ArticleRecord, int, int, str, dict[str, set[str]]]] = []
    for rec in records:
        text = texts.get(rec.article_id, "")
        for s, e in split_sentences(text):
            sentence = text[s:e]
            numbers = figures(sentence)
            if numbers and 6 <= len(sentence.split()) <= 80:
                sents.append((rec, s, e, sentence, numbers))
    if len(sents) < 2:
        return findings
    m = embed([x[3] for x in sents])
    sim = m @ m.T
    pairs = []
    for i in range(len(sents)):
        for j in range(i + 1, len(sents)):
            a, b = sents[i], sents[j]
            same_outlet = a[0].source and a[0].source == b[0].source
            if a[0].article_id == b[0].article_id or same_outlet or sim[i, j] < SAME_FACT:
                continue
            # A disagreement: a count of the same thing (unit) with no value in common.
            if not any(a[4][u].isdisjoint(b[4][u]) for u in a[4].keys() & b[4].keys()):
                continue
            pairs.append((float(sim[i, j]), i, j))
    used: set[int] = set()
    for _, i, j in sorted(pairs, reverse=True):
        if already + len(findings) >= max_figures + 5 or i in used or j in used:
            continue
        used.update((i, j))
        a, b = sents[i], sents[j]
        findings.append(Finding(
            "figures",
            f"Figures differ: {_short(_outlet(a[0]))} reports “{_short(a[3])}” [1], while {_short(_outlet(b[0]))} "
            f"reports “{_short(b[3])}” [2]",
            [(a[0].article_id, a[1], a[2]), (b[0].article_id, b[1], b[2])]))
        if sum(f.kind == "figures" for f in findings) >= max_figures:
            break
    return findings
