"""Extractive summaries: the most central sentences, verbatim and cited."""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rag.answer.citations import marked
from rag.components import Components
from rag.models import Passage
from rag.text.sentences import is_fragment, opener_pattern, split_sentences
from rag.text.tfidf import centrality, tfidf_matrix

NOTHING_TO_QUOTE = "No sentence of these articles could be quoted as a summary."

_BOILERPLATE = re.compile(
    r"^(copyright|updated|published|sign up|click|subscribe|follow|read more|watch|photo|image|"
    r"contributing:|this (article|story) (appeared|was)|all rights reserved|advertisement)|"
    r"newsletter|©", re.I)

# A sentence that leans on the one before it reads badly out of context.
DANGLING = opener_pattern("His", "Her", "Their", "Both")

_DATELINE = re.compile(r"\((?:[^()\n]{0,60}\))?\s*[–—-]+\s*")


@dataclass
class Sentence:
    """A candidate sentence: its text is article[start:end] of the passage's article."""

    passage: Passage
    start: int
    end: int
    text: str
    position: int  # index of the sentence in its article (0 = the lead)

    def as_passage(self) -> Passage:
        """The sentence as a citable passage of its article."""
        p = self.passage
        return Passage(chunk_id=f"{p.article_id}:{self.start}", article_id=p.article_id, title=p.title,
                       source=p.source, published=p.published, url=p.url, path=p.path, text=self.text,
                       score=p.score, ord=p.ord, start=self.start, end=self.end)


def candidate_sentences(passages: list[Passage], article_text: Callable[[str], str | None],
                        strict: bool = True) -> list[Sentence]:
    """The distinct, summary-worthy sentences of the passages (offsets into their articles);
    not `strict`: every sentence (for texts whose sentences all fail the usual filters)."""
    out: list[Sentence] = []
    seen: set[tuple[str, int]] = set()
    spans: dict[str, list[tuple[int, int]]] = {}
    ends: dict[str, list[int]] = {}
    for p in passages:
        article = article_text(p.article_id)
        if article is None:  # removed meanwhile: nothing verifiable to quote
            continue
        if p.article_id not in spans:
            # headings, captions and bylines are never summary sentences (issue #19)
            spans[p.article_id] = [(s, e) for s, e in split_sentences(article) if not is_fragment(article[s:e])]
            ends[p.article_id] = [e for _, e in spans[p.article_id]]
        article_spans = spans[p.article_id]
        # Only the sentences that overlap the passage (spans are in reading order): scanning
        # them all for every passage was quadratic on a long article.
        first = bisect.bisect_right(ends[p.article_id], p.start)
        for pos in range(first, len(article_spans)):
            s, e = article_spans[pos]
            if s >= p.end:
                break
            if s < p.start or e > p.end:
                # A "sentence" longer than any passage (text without sentence ends) would never be
                # quoted: outside the strict pass, quote the part of it in this passage.
                if strict or e <= p.start or s >= p.end or e - s <= p.end - p.start:
                    continue
                s, e = max(s, p.start), min(e, p.end)
            if (p.article_id, s) in seen:
                continue
            lead = _DATELINE.match(article, s, e)
            if lead:  # "(Outlet) – Russian President ...": quote from the sentence proper
                s = lead.end()
            text = article[s:e]
            words = len(text.split())
            if strict and (words < 6 or words > 80 or _BOILERPLATE.search(text)
                           or text.rstrip("\"'”’").endswith("?")):
                continue
            seen.add((p.article_id, s))
            out.append(Sentence(p, s, e, text, pos))
    return out


def select_sentences(sentences: list[Sentence], n: int, focus: np.ndarray | None = None,
                     per_article: int = 2, diversity: float = 0.3) -> list[Sentence]:
    """Up to n sentences by MMR over centrality (plus `focus`, a relevance per sentence).

    centrality = TF-IDF cosine to the centroid of all candidates, +0.1 for an article's first two
    sentences (news leads state the point); with a focus, 0.3 x centrality + 0.7 x focus. MMR
    subtracts `diversity` x the highest similarity
    to a sentence already chosen.
    """
    if not sentences:
        return []
    m = tfidf_matrix([s.text for s in sentences])
    # A sentence that leans on the one before it ("Moreover, …", "This …") reads badly alone.
    score = centrality(m) - np.array([0.15 if DANGLING.match(s.text) else 0.0 for s in sentences])
    if focus is not None:
        # A topic summary is about the topic first: closeness to it outweighs centrality.
        score = 0.3 * score + 0.7 * focus
    else:
        score = score + np.array([0.1 if s.position < 2 else 0.0 for s in sentences])
    # Highest similarity of each sentence to one already chosen: one sparse pass per choice,
    # so the loop stays linear in the number of words.
    redundancy = np.zeros(len(sentences))
    open_ = np.ones(len(sentences), dtype=bool)
    articles = [s.passage.article_id for s in sentences]
    chosen: list[int] = []
    per: dict[str, int] = {}
    while len(chosen) < n:
        val = np.where(open_ & (redundancy <= 0.7), (1 - diversity) * score - diversity * redundancy, -np.inf)
        best = int(np.argmax(val)) if len(val) else 0
        if not np.isfinite(val[best]):
            break
        chosen.append(best)
        open_[best] = False
        aid = articles[best]
        per[aid] = per.get(aid, 0) + 1
        if per[aid] >= per_article:
            open_ &= np.array([a != aid for a in articles])
        redundancy = np.maximum(redundancy, m.sims(best))
    return [sentences[i] for i in chosen]


def compose(chosen: list[Sentence], order: list[str] | None = None) -> tuple[str, list[Passage], dict[int, str]]:
    """Summary text with a [n] after each sentence, the sentence passages, quotes per n.

    Sentences appear grouped by article (in `order`, else first-chosen first), each article's in
    reading order."""
    order = order or list(dict.fromkeys(s.passage.article_id for s in chosen))
    rank = {a: i for i, a in enumerate(order)}
    ordered = sorted(chosen, key=lambda s: (rank.get(s.passage.article_id, len(rank)), s.start))
    passages = [s.as_passage() for s in ordered]
    text = " ".join(marked(s.text, i) for i, s in enumerate(ordered, 1))
    return text, passages, {i: s.text for i, s in enumerate(ordered, 1)}


def most_central(passages: list[Passage], fits: Callable[[list[int]], bool]) -> list[int]:
    """Indices, in their original order, of the most passages that `fits` when taken in order
    of TF-IDF centrality, the first passage always (of an article, its lead)."""
    central = centrality(tfidf_matrix([p.text for p in passages]))
    central[0] = np.inf
    ranked = [int(i) for i in np.argsort(-central, kind="stable")]
    lo, hi = 1, len(passages)  # the lead alone fits: every single passage fits one call
    while lo < hi:  # lo always fits; greedy packing of more passages never takes fewer groups
        mid = (lo + hi + 1) // 2
        if fits(sorted(ranked[:mid])):
            lo = mid
        else:
            hi = mid - 1
    return sorted(ranked[:lo])


def extractive_summary(c: Components, passages: list[Passage], n: int, focus_query: str | None,
                       article_text: Callable[[str], str | None], order: list[str] | None = None,
                       per_article: int = 2) -> tuple[str, list[Passage], dict[int, str]]:
    """The extractive summary text, its sentence passages and quotes."""
    sentences = candidate_sentences(passages, article_text) or candidate_sentences(passages, article_text, False)
    focus = None
    if focus_query and sentences:
        vecs = c.embedder.embed([focus_query] + [s.text for s in sentences])
        focus = vecs[1:] @ vecs[0]
    chosen = select_sentences(sentences, n, focus, per_article=per_article)
    return compose(chosen, order)
