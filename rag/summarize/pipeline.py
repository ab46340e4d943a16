"""Summaries with citations: of one article, of a topic, or of a story (for briefings).

- Extractive (no LLM, and the fallback): sentences are scored by centrality (TF-IDF cosine to
  the centroid of all candidate sentences; for a topic, also closeness to the topic) and picked
  by MMR, so the summary covers different points rather than repeating the lead. Each sentence
  is quoted verbatim and cited.
- LLM: a LangChain chain over prompt files. Input longer than the model's window is
  summarized map-reduce (parts that fit, then their partial summaries combined), keeping the
  global [n] numbering throughout, so nothing is cut silently and citations stay valid.
Every summary goes through the same citation check as `ask`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from rag.answer.citations import check_citations
from rag.answer.extractive import ExtractiveAnswerer
from rag.components import Components
from rag.llm.chat import ChatLLM
from rag.llm.errors import LLMError
from rag.models import ArticleRecord, Citation, Passage
from rag.search.articles import article_texts
from rag.search.filters import SearchFilters
from rag.search.retrieval import retrieve
from rag.summarize.extractive import NOTHING_TO_QUOTE, extractive_summary
from rag.summarize.llm import LLMSummarizer

log = logging.getLogger(__name__)

NO_TOPIC = "The indexed articles do not cover this topic."


@dataclass
class Summary:
    """A summary in the shape of docs/contract.md's `summarize --json`."""

    target: str
    summary: str
    mode: str
    citations: list[Citation] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        """The JSON object of docs/contract.md (the fields, in order)."""
        return asdict(self)


def summarize_passages(c: Components, task: str, passages: list[Passage], llm: ChatLLM | None, sentences: int = 4,
                       focus_query: str | None = None, order: list[str] | None = None,
                       per_article: int = 2, on_llm_error: Callable[[LLMError], None] | None = None,
                       ) -> tuple[str, str, list[Citation], list[str]]:
    """(summary, mode, citations, warnings) of the passages: through `llm` when given, else (and
    on any LLM failure, which `on_llm_error` is told of) extractive. The citation check runs on
    both."""
    article_text = article_texts(c)
    warnings: list[str] = []
    if llm is not None:
        try:
            raw, llm_warnings, sent = LLMSummarizer(c, llm).summarize(task, passages)
            warnings += llm_warnings
            checked = check_citations(raw, passages, article_text, given=sent)
            warnings += checked.warnings
            if checked.citations:
                return checked.text, "llm", checked.citations, warnings
            warnings.append("the LLM summary cited no given passage, so it is not shown; summarized extractively")
        except LLMError as exc:
            # LLMError's text is its user-facing reason (rag/llm/errors.py), never the raw error.
            log.info("LLM failed: %s", exc)
            warnings.append(f"{exc}; summarized extractively")
            if on_llm_error:
                on_llm_error(exc)
    text, cited, quotes = extractive_summary(c, passages, sentences, focus_query, article_text, order,
                                             per_article)
    checked = check_citations(text, cited, article_text, quotes)
    if not checked.text:
        return NOTHING_TO_QUOTE, "extractive", [], warnings + checked.warnings
    return checked.text, "extractive", checked.citations, warnings + checked.warnings


def summarize_article(c: Components, record: ArticleRecord) -> Summary:
    """A summary of one article that cites only that article."""
    from rag.search.articles import article_passages

    passages = article_passages(c, record)
    target = f"{record.article_id} ({record.title})"
    if not passages:
        return Summary(target, "The article has no text to summarize.", "extractive")
    text, mode, citations, warnings = summarize_passages(
        c, f"Summarize this article: {record.title}", passages, c.llm, sentences=4, per_article=4)
    return Summary(target, text, mode, citations, warnings)


def summarize_topic(c: Components, topic: str, filters: SearchFilters | None = None, k: int = 8) -> Summary:
    """A summary of what the indexed articles say about a topic, citing across articles."""
    topic = " ".join(topic.split())
    passages = retrieve(c, topic, k, filters)
    if passages:
        # The same relevance gate as `ask`: nothing relevant retrieved, nothing summarized.
        gate = ExtractiveAnswerer(c)
        if not gate.relevant(topic, passages, gate.score(topic, passages)):
            passages = []
    if not passages:
        return Summary(topic, NO_TOPIC, "extractive")
    text, mode, citations, warnings = summarize_passages(
        c, f"Summarize what the articles report about: {topic}", passages, c.llm, sentences=5,
        focus_query=topic)
    return Summary(topic, text, mode, citations, warnings)
