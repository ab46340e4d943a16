"""Questions about an article rather than the news ("Which outlet published the article titled
'…'?", "Who wrote …?", "On what date was the article about … published?"), answered from the
article's own metadata (title, outlet, author, published date) and cited to that article."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from rag.components import Components
from rag.models import ArticleRecord, Passage
from rag.text.sentences import round_brackets, split_sentences
from rag.text.words import content_words

_OUTLET = re.compile(r"\b(?:which|what)\s+(?:outlet|publication|newspaper|paper|site|website|news site|"
                     r"news outlet|magazine|source)\b.*\bpublish|\bwho\s+published\b|\bpublished\s+(?:by|in)\s+"
                     r"(?:which|what)\b|\bwhat\s+(?:outlet|publication)\s+(?:ran|carried)\b", re.I)
_AUTHOR = re.compile(r"\bwho\s+(?:wrote|authored|is the author of|was the author of)\b|"
                     r"\b(?:what|which) (?:journalist|reporter|writer)\b.*\bwr(?:ote|itten)\b", re.I)
_DATE = re.compile(r"\b(?:when|(?:on |in )?(?:what|which) (?:date|day|year|month))\b.*\b(?:published|"
                   r"posted|written|run|released)\b", re.I)
# An article named by its title in quotes, or described: "the article (titled|about|on) X".
_QUOTED = re.compile(r"[\"“‘']([^\"”’]{8,}?)[\"”’'](?=\s|\?|$|,)")
_ABOUT = re.compile(r"\b(?:article|story|piece|report)\s+(?:titled|called|headlined|about|on)\s+(.+?)"
                    r"(?:\s+(?:published|posted|written|run|released)\b.*)?\??$", re.I)

_ARTICLE = re.compile(r"\b(?:article|story|piece|headline)\b", re.I)

TITLE_MATCH = 0.6  # share of a quoted title's content words an article title must hold


@dataclass
class MetadataAnswer:
    """A metadata answer: its text with one [1] marker, the cited passage and its quote."""

    text: str
    passage: Passage
    quote: str


def metadata_field(question: str) -> str | None:
    """The metadata a question asks for: "source", "author", "published", or None."""
    if _AUTHOR.search(question):
        return "author"
    if _OUTLET.search(question):
        return "source"
    if _DATE.search(question) and _ABOUT.search(question.replace("'", "").replace('"', "")) or \
            _DATE.search(question) and _QUOTED.search(question):
        return "published"
    return None


def _norm(text: str) -> list[str]:
    return content_words(text.replace("’", "'"))


def _by_title(c: Components, title: str) -> ArticleRecord | None:
    """The indexed article whose title best holds the quoted title's words."""
    want = set(_norm(title))
    if not want:
        return None
    best, best_share = None, 0.0
    for rec in c.registry.articles():
        if rec.duplicate_of:
            continue
        share = len(want & set(_norm(rec.title))) / len(want)
        if share > best_share:
            best, best_share = rec, share
    return best if best_share >= TITLE_MATCH else None


def _by_description(c: Components, described: str, passages: list[Passage]) -> ArticleRecord | None:
    """Of the retrieved passages' articles, the one whose title and text best hold the words of
    the description ("the article about X"): each word weighs by its rarity among them, a title
    word twice. The best passage's article is often another one, say the newest on the topic."""
    want = set(_norm(described))
    records = []
    for aid in dict.fromkeys(p.article_id for p in passages):
        rec = c.registry.get(aid, with_text=True)
        if rec is not None:
            records.append((rec, set(_norm(rec.text or "")), set(_norm(rec.title or ""))))
    if not want or not records:
        return None
    df = {w: sum(w in body or w in title for _, body, title in records) for w in want}
    idf = {w: math.log(1 + len(records) / (1 + df[w])) for w in want}

    def fit(item: tuple[ArticleRecord, set[str], set[str]]) -> float:
        _, body, title = item
        return sum(idf[w] * ((w in body) + 2 * (w in title)) for w in want)

    return max(records, key=fit)[0]  # ties: the first (best-ranked) passage's article


def _first_passage(c: Components, rec: ArticleRecord, passages: list[Passage]) -> Passage | None:
    for p in passages:
        if p.article_id == rec.article_id:
            return p
    from rag.search.retrieval import passage_from_row

    chunks = c.registry.article_chunks(rec.article_id)
    if not chunks:
        return None
    row = c.registry.chunk_rows([chunks[0]["chunk_id"]]).get(chunks[0]["chunk_id"])
    return passage_from_row(row, 0.0) if row else None


def _quote(c: Components, rec: ArticleRecord, p: Passage) -> str:
    """The article's title where its text holds it, else its first sentence (verbatim)."""
    full = c.registry.get(rec.article_id, with_text=True)
    text = full.text if full else p.text
    if rec.title and rec.title in text:
        return rec.title
    spans = split_sentences(text)
    return text[spans[0][0]:spans[0][1]] if spans else p.text


def metadata_answer(c: Components, question: str, passages: list[Passage]) -> MetadataAnswer | None:
    """The answer to a question about an article's metadata, or None when `question` is not one
    or names no indexed article. A quoted title is looked up among all titles; a described
    article ("the article about …") is the retrieved article that best fits the description."""
    wanted = metadata_field(question)
    quoted = _QUOTED.search(question)
    # Only a question about an article ("the article titled …", a quoted title) is one: "Who
    # published the report on casualties?" asks about the news.
    if wanted is None or not (quoted or _ARTICLE.search(question)):
        return None
    rec = _by_title(c, quoted.group(1)) if quoted else None
    if rec is None and passages and not quoted:
        about = _ABOUT.search(question.replace("'", "").replace('"', ""))
        rec = _by_description(c, about.group(1), passages) if about else c.registry.get(passages[0].article_id)
    if rec is None:
        return None
    p = _first_passage(c, rec, passages)
    if p is None:
        return None
    title = round_brackets(rec.title)
    value = {"source": rec.source, "author": rec.author, "published": rec.published}[wanted]
    what = {"source": "outlet", "author": "author", "published": "published date"}[wanted]
    if not value:
        text = f"The article “{title}” has no {what} in its metadata. [1]"
    elif wanted == "source":
        text = f"The article “{title}” was published by {value}. [1]"
    elif wanted == "author":
        text = f"The article “{title}” was written by {value}. [1]"
    else:
        text = f"The article “{title}” was published on {value}. [1]"
    return MetadataAnswer(text, p, _quote(c, rec, p))
