"""The LLM answerer: the retrieved passages, numbered, through the answer prompt files and the
components' chat model, streamed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from rag.components import Components
from rag.llm.chat import ChatLLM, run_runnable
from rag.llm.errors import LLMError
from rag.llm.passages import format_passages
from rag.models import Passage
from rag.search.filters import SearchFilters
from rag.search.langchain_retriever import NewsdeskRetriever, document_passage
from rag.text.dates import today

if TYPE_CHECKING:
    from langchain_core.documents import Document
    from langchain_core.runnables import Runnable, RunnableConfig


class LLMAnswerer:
    """numbered passages -> prompt files -> the components' chat model -> text, streamed."""

    REFUSAL = "NOT_IN_ARTICLES"
    SYSTEM, HUMAN = "answer_system.md", "answer_user.md"

    def __init__(self, components: Components, llm: ChatLLM | None = None):
        llm = llm or components.llm
        if llm is None:
            raise LLMError("no LLM is configured")
        self.c = components
        self.llm = llm

    def fit(self, question: str, passages: list[Passage], system: str) -> tuple[list[Passage], list[str]]:
        """The passages that fit the model's window (counted conservatively), and what was cut."""
        tok = self.c.tokenizer
        budget = self.llm.input_budget
        used = int(1.3 * sum(tok.count([system, question])))
        kept: list[Passage] = []
        for p in passages:
            cost = int(1.3 * tok.count([format_passages([p])])[0])
            if used + cost > budget:
                break
            kept.append(p)
            used += cost
        warnings = []
        if len(kept) < len(passages):
            warnings.append(f"{len(passages) - len(kept)} of {len(passages)} passages left out to fit "
                            f"the model's {self.llm.context_tokens}-token context")
        return kept, warnings

    def prompt_values(self, question: str, passages: list[Passage], as_of: date | None = None) -> dict[str, str]:
        """What the answer prompt files are filled with: the question, the passages (each with
        its outlet and date), and the day it is asked (`as_of`, default today in
        NEWSDESK_TIMEZONE), so the model can date the facts (issue #19)."""
        day = as_of or today(ZoneInfo(self.c.settings.timezone))
        return {"question": question, "passages": format_passages(passages), "refusal": self.REFUSAL,
                "today": f"{day:%A}, {day.isoformat()}"}

    def chain(self, as_of: date | None = None) -> Runnable:
        """{"question", "passages": [Passage]} -> numbered passages -> prompt -> model -> text."""
        from langchain_core.runnables import RunnableLambda

        def values(inputs: dict) -> dict[str, str]:
            return self.prompt_values(inputs["question"], inputs["passages"], as_of)

        return RunnableLambda(values, name="number_passages") | self.llm.chain(self.HUMAN, self.SYSTEM)

    def answer(self, question: str, passages: list[Passage], on_token: Callable[[str], None] | None = None,
               config: RunnableConfig | None = None, as_of: date | None = None,
               ) -> tuple[str, list[Passage], list[str]]:
        """(raw answer text, passages it was given, warnings); `as_of`: the day the question is
        asked (default today). Raises LLMError."""
        import prompts

        kept, warnings = self.fit(question, passages, prompts.load(self.SYSTEM))
        if not kept:
            raise LLMError("no passage fits the model's context window")
        text = run_runnable(self.chain(as_of), {"question": question, "passages": kept}, on_token or _ignore, config)
        return text, kept, warnings


def _ignore(piece: str) -> None:
    """Stream even when nobody listens, as the answer always did (a long answer then times out
    per token, not as a whole)."""


def answer_chain(c: Components, k: int = 5, filters: SearchFilters | None = None) -> Runnable:
    """The LLM answer as one LangChain runnable, for use in a user's own LangChain code:
    question -> NewsdeskRetriever -> numbered passages -> prompt -> model -> text. (It skips what
    `answer_question` adds: the relevance gate, the context fit, the citation check, the fallback.)"""
    from langchain_core.runnables import RunnableLambda, RunnableParallel, RunnablePassthrough

    def to_passages(docs: list[Document]) -> list[Passage]:
        return [document_passage(d) for d in docs]

    retriever = NewsdeskRetriever(components=c, k=k, filters=filters)
    passages = retriever | RunnableLambda(to_passages, name="passages")
    return RunnableParallel(question=RunnablePassthrough(), passages=passages) | LLMAnswerer(c).chain()
