"""Newsdesk's retriever and answer chain in a user's own LangChain code: the checks of
langchain-tests' standard retriever suite (k as a constructor parameter and as an invoke
argument, Documents back, sync and async), and callbacks that see retrieval."""

from __future__ import annotations

import asyncio

import pytest
from helpers import run_ingest, with_llm
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document

from rag.search.langchain_retriever import NewsdeskRetriever, document_passage

QUERY = "Where did Putin and Kim Jong Un meet?"


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, embedder, tokenizer):
    from conftest import SEEDS

    from rag.components import Components
    from rag.settings import Settings

    if not SEEDS.is_dir():
        pytest.skip(f"seed articles not found at {SEEDS} (../shared is absent)")
    c = Components(Settings(_env_file=None, data_dir=tmp_path_factory.mktemp("lc"), llm="none"),
                   embedder=embedder, tokenizer=tokenizer)
    run_ingest(c, [SEEDS])
    yield c
    c.close()


def test_k_constructor_param(indexed):
    assert len(NewsdeskRetriever(components=indexed, k=3).invoke(QUERY)) == 3
    one = NewsdeskRetriever(components=indexed, k=1).invoke(QUERY)
    assert len(one) == 1 and isinstance(one[0], Document)


def test_invoke_with_k_kwarg(indexed):
    retriever = NewsdeskRetriever(components=indexed)
    assert len(retriever.invoke(QUERY, k=1)) == 1
    assert len(retriever.invoke(QUERY, k=3)) == 3


def test_documents_carry_the_passage_and_its_source(indexed):
    from rag.search.retrieval import retrieve

    docs = NewsdeskRetriever(components=indexed, k=4).invoke(QUERY)
    assert all(isinstance(d, Document) for d in docs)
    assert [document_passage(d).chunk_id for d in docs] == [p.chunk_id for p in retrieve(indexed, QUERY, 4)]
    assert any("Vostochny" in d.page_content for d in docs)
    assert {"article_id", "title", "source", "published", "url", "path", "score"} <= set(docs[0].metadata)
    assert docs[0].id == docs[0].metadata["chunk_id"]


def test_ainvoke_returns_documents(indexed):
    docs = asyncio.run(NewsdeskRetriever(components=indexed, k=2).ainvoke(QUERY))
    assert len(docs) == 2 and all(isinstance(d, Document) for d in docs)


class Seen(BaseCallbackHandler):
    def __init__(self):
        self.retrievals: list[int] = []

    def on_retriever_end(self, documents, **kwargs):
        self.retrievals.append(len(documents))


def test_answer_question_retrieves_through_langchain_so_callbacks_see_it(indexed):
    from rag.answer.pipeline import answer_question

    seen = Seen()
    ans = answer_question(indexed, QUERY, k=3, config={"callbacks": [seen]})
    assert seen.retrievals == [3] and ans.answerable and ans.citations


def test_answer_chain_runs_retriever_prompt_model_parser(indexed):
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from rag.answer.llm import answer_chain

    class Recording(FakeListChatModel):
        prompts: list = []

        def _call(self, messages, *args, **kwargs):
            self.prompts.append("\n".join(str(m.content) for m in messages))
            return super()._call(messages, *args, **kwargs)

    model = Recording(responses=["They met at the Vostochny Cosmodrome [1]."])
    seen = Seen()
    text = answer_chain(with_llm(indexed, model), k=2).invoke(QUERY, config={"callbacks": [seen]})
    assert text == "They met at the Vostochny Cosmodrome [1]."
    assert seen.retrievals == [2]
    assert '<passage id="1">' in model.prompts[0] and '<passage id="2">' in model.prompts[0]
    assert QUERY in model.prompts[0]
