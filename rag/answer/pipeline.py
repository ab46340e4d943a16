"""Answering a question from retrieved passages, with or without an LLM.

- `ExtractiveAnswerer` (no LLM, and the fallback): scores the sentences of the top passages
  against the question, answers with the best ones verbatim, each with its `[n]`, and refuses
  when nothing relevant enough was retrieved.
- `LLMAnswerer`: a LangChain chain (numbered passages -> prompt files in prompts/ -> the
  components' chat model -> text) that streams tokens; passages are delimited as data.
- `answer_question` ties them together: retrieval through `NewsdeskRetriever` (a LangChain
  retriever, so callbacks see it), the citation check on every answer, and any LLM failure
  falls back to the extractive answer with a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from rag.answer.citations import check_citations
from rag.answer.extractive import NOT_COVERED, ExtractiveAnswerer
from rag.answer.llm import LLMAnswerer
from rag.answer.metadata import metadata_answer
from rag.components import Components
from rag.llm.errors import LLMError
from rag.models import Citation
from rag.search.articles import article_texts
from rag.search.filters import SearchFilters
from rag.search.langchain_retriever import NewsdeskRetriever

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig

log = logging.getLogger(__name__)

@dataclass
class Answer:
    """An answer in the shape of docs/contract.md's `ask --json`."""

    question: str
    answer: str
    answerable: bool
    mode: str
    citations: list[Citation] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        """The JSON object of docs/contract.md (the fields, in order)."""
        return asdict(self)


def answer_question(c: Components, question: str, k: int = 5, filters: SearchFilters | None = None,
                    on_token: Callable[[str], None] | None = None, config: RunnableConfig | None = None) -> Answer:
    """Retrieve, answer (with `c.llm` when there is one, else extractive), and check the
    citations. `config` is LangChain's run config (callbacks, tags) for retrieval and the LLM."""
    question = " ".join(question.split())
    passages = NewsdeskRetriever(components=c, k=k, filters=filters).passages(question, config)
    extractive = ExtractiveAnswerer(c, as_of=filters.as_of if filters else None)
    article_text = article_texts(c)
    meta = metadata_answer(c, question, passages)
    if meta is not None:  # "Which outlet published …?": from the article's metadata, cited to it
        checked = check_citations(meta.text, [meta.passage], article_text, {1: meta.quote})
        return Answer(question, checked.text, True, "extractive", checked.citations, checked.warnings)
    if not passages:
        return Answer(question, NOT_COVERED, False, "extractive")
    warnings: list[str] = []
    scored = None
    if c.llm is not None:
        # The relevance gate runs first: when nothing relevant was retrieved, no LLM is asked,
        # so it has nothing to make an answer up from; nor when the question's key name is in no
        # retrieved article.
        scored = extractive.score(question, passages)
        if not extractive.relevant(question, passages, scored):
            return Answer(question, NOT_COVERED, False, "extractive")
        missing = extractive.missing(question, passages)
        if missing:
            return Answer(question, NOT_COVERED, False, "extractive", [],
                          [f"no indexed article mentions {', '.join(missing)}"])
        try:
            raw, given, llm_warnings = LLMAnswerer(c).answer(question, passages, on_token, config,
                                                             as_of=filters.as_of if filters else None)
            warnings += llm_warnings
            if raw.strip().startswith(LLMAnswerer.REFUSAL):
                return Answer(question, NOT_COVERED, False, "llm", [], warnings)
            checked = check_citations(raw, given, article_text)
            warnings += checked.warnings
            if checked.citations:
                return Answer(question, checked.text, True, "llm", checked.citations, warnings)
            warnings.append("the LLM answer cited no given passage, so it is not shown; answered extractively")
        except LLMError as exc:
            log.info("LLM failed: %s", exc)
            warnings.append(f"{exc}; answered extractively")
    ex = extractive.answer(question, passages, scored)  # an LLM fallback reuses its scoring
    if not ex.answerable:
        return Answer(question, ex.text, False, "extractive", [], warnings + ex.warnings)
    checked = check_citations(ex.text, ex.passages, article_text, ex.quotes)
    return Answer(question, checked.text, True, "extractive", checked.citations, warnings + checked.warnings)
