"""Newsdesk's hybrid retriever as a LangChain `BaseRetriever`, so a user's own LangChain code can
reuse it, and callbacks and tracing see retrieval:

    from rag.search.langchain_retriever import NewsdeskRetriever
    docs = NewsdeskRetriever(components=c, k=5).invoke("Where did Putin and Kim meet?")
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableConfig
from pydantic import ConfigDict

from rag.components import Components
from rag.models import Passage
from rag.search.filters import SearchFilters
from rag.search.retrieval import RetrievalConfig, retrieve

# Passage fields carried in a Document's metadata (its text is the page content).
_META = ("chunk_id", "article_id", "title", "source", "published", "url", "path", "score", "ord", "start", "end",
         "relevance")


def passage_document(p: Passage) -> Document:
    """A passage as a LangChain document: the passage text, its article's metadata."""
    meta: dict[str, Any] = {name: getattr(p, name) for name in _META}
    meta["score"] = float(meta["score"])
    meta["relevance"] = float(meta["relevance"])
    return Document(page_content=p.text, metadata=meta, id=p.chunk_id)


def document_passage(doc: Document) -> Passage:
    """The passage a NewsdeskRetriever document stands for."""
    meta = doc.metadata
    return Passage(text=doc.page_content, **{name: meta[name] for name in _META})


class NewsdeskRetriever(BaseRetriever):
    """Hybrid retrieval (dense + keyword, fused, re-ranked) over one Newsdesk collection."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    components: Components
    k: int = 5
    filters: SearchFilters | None = None
    config: RetrievalConfig | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                k: int | None = None) -> list[Document]:
        """`k` given to `invoke` overrides the retriever's own (LangChain's retriever convention)."""
        found = retrieve(self.components, query, k or self.k, self.filters, self.config)
        return [passage_document(p) for p in found]

    def passages(self, query: str, config: RunnableConfig | None = None) -> list[Passage]:
        """The retrieved passages themselves, through LangChain (so callbacks see the retrieval)."""
        return [document_passage(d) for d in self.invoke(query, config=config)]
