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
import math
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from .answer import ExtractiveAnswerer, LLMAnswerer, LLMError, article_texts, content_words, describe_llm_error
from .citations import check_citations, marked
from .components import Components
from .models import ArticleRecord, Passage
from .retrieval import SearchFilters, retrieve
from .text import opener_pattern, split_sentences

log = logging.getLogger(__name__)

NO_TOPIC = "The indexed articles do not cover this topic."
NOTHING_TO_QUOTE = "No sentence of these articles could be quoted as a summary."
_BOILERPLATE = re.compile(
    r"^(copyright|updated|published|sign up|click|subscribe|follow|read more|watch|photo|image|"
    r"contributing:|this (article|story) (appeared|was)|all rights reserved|advertisement)|"
    r"newsletter|©", re.I)

# A sentence that leans on the one before it reads badly out of context.
DANGLING = opener_pattern("His", "Her", "Their", "Both")
_DATELINE = re.compile(r"\((?:[^()\n]{0,60}\))?\s*[–—-]+\s*")


@dataclass
class Summary:
    """A summary in the shape of DESIGN.md's `summarize --json`."""

    target: str
    summary: str
    mode: str
    citations: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        """The JSON object of DESIGN.md (the fields, in order)."""
        return asdict(self)


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
    for p in passages:
        article = article_text(p.article_id)
        if article is None:  # removed meanwhile: nothing verifiable to quote
            continue
        if p.article_id not in spans:
            spans[p.article_id] = split_sentences(article)
        for pos, (s, e) in enumerate(spans[p.article_id]):
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


def tfidf_matrix(texts: list[str]) -> np.ndarray:
    """Row-normalized TF-IDF vectors (stemmed content words) of the texts."""
    docs = [content_words(t) for t in texts]
    vocab: dict[str, int] = {}
    df: dict[str, int] = {}
    for words in docs:
        for w in set(words):
            df[w] = df.get(w, 0) + 1
            vocab.setdefault(w, len(vocab))
    m = np.zeros((len(texts), max(1, len(vocab))), dtype=np.float32)
    n = len(texts)
    for i, words in enumerate(docs):
        for w in words:
            m[i, vocab[w]] += 1.0
    idf = np.ones(max(1, len(vocab)), dtype=np.float32)
    for w, j in vocab.items():
        idf[j] = math.log((1 + n) / (1 + df[w])) + 1.0
    m *= idf
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.where(norms == 0, 1.0, norms)


def centrality(m: np.ndarray) -> np.ndarray:
    """Each row's cosine to the centroid of all rows (rows: normalized TF-IDF vectors)."""
    centroid = m.mean(axis=0)
    centroid /= np.linalg.norm(centroid) or 1.0
    return m @ centroid


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
    chosen: list[int] = []
    per: dict[str, int] = {}
    while len(chosen) < n:
        best, best_val = None, -1e9
        for i, s in enumerate(sentences):
            if i in chosen or per.get(s.passage.article_id, 0) >= per_article:
                continue
            redundancy = max((float(m[i] @ m[j]) for j in chosen), default=0.0)
            if redundancy > 0.7:
                continue
            val = (1 - diversity) * score[i] - diversity * redundancy
            if val > best_val:
                best, best_val = i, val
        if best is None:
            break
        chosen.append(best)
        per[sentences[best].passage.article_id] = per.get(sentences[best].passage.article_id, 0) + 1
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


class LLMSummarizer:
    """Summaries through the configured chat model, map-reduce when the input is too long."""

    def __init__(self, components: Components, chat_model=None):
        self.c = components
        self.settings = components.settings
        self.answerer = LLMAnswerer(components, chat_model)

    def _budget(self) -> int:
        return self.settings.llm_context_tokens - self.settings.llm_max_tokens - 100

    def _cost(self, texts: list[str]) -> int:
        return int(1.3 * sum(self.c.tokenizer.count(texts)))

    def _run(self, template: str, values: dict) -> str:
        from langchain_core.output_parsers import StrOutputParser
        from langchain_core.prompts import ChatPromptTemplate

        import prompts

        prompt = ChatPromptTemplate.from_messages([("system", prompts.load("summary_system.md")),
                                                   ("human", prompts.load(template))])
        chain = prompt | self.answerer.chat_model() | StrOutputParser()
        try:
            text = chain.invoke(values).strip()
        except Exception as exc:  # openai/httpx raise many types; all mean "no LLM summary"
            raise LLMError(describe_llm_error(exc)) from exc
        if not text:
            raise LLMError("the LLM returned an empty summary")
        return text

    def summarize(self, task: str, passages: list[Passage]) -> tuple[str, list[str], set[int]]:
        """(summary with [n] markers into `passages`, warnings, the numbers of the passages
        sent). Raises LLMError.

        Input longer than the context window is map-reduced. Map-reduce over g parts takes at
        most 2g - 1 calls, so when that would exceed `llm_max_calls` only the passages most
        central to the input are sent (the first always), in their order, under their own
        numbers, and a warning says so.
        """
        import prompts

        from .answer import format_passages

        fixed = self._cost([prompts.load("summary_system.md"), prompts.load("summary_user.md"), task])
        budget = self._budget() - fixed
        blocks = [format_passages([p], first=n) for n, p in enumerate(passages, 1)]
        costs = [int(1.3 * n) for n in self.c.tokenizer.count(blocks)]
        if any(cost > budget for cost in costs):
            raise LLMError("a single passage does not fit the model's context window")
        warnings: list[str] = []
        keep = list(range(len(passages)))
        groups = _pack(blocks, costs, budget)
        max_parts = max(1, (self.settings.llm_max_calls + 1) // 2)
        if len(groups) > max_parts:
            keep = _most_central(passages, lambda idx: len(_pack([blocks[i] for i in idx],
                                                                [costs[i] for i in idx], budget)) <= max_parts)
            groups = _pack([blocks[i] for i in keep], [costs[i] for i in keep], budget)
            warnings.append(f"the input needed more than NEWSDESK_LLM_MAX_CALLS="
                            f"{self.settings.llm_max_calls} model calls: only its {len(keep)} most "
                            f"central passages of {len(passages)} were summarized")
        sent = {i + 1 for i in keep}
        if len(groups) == 1:
            return self._run("summary_user.md", {"task": task, "passages": "\n\n".join(groups[0])}), warnings, sent
        partials = [self._run("summary_user.md", {"task": task, "passages": "\n\n".join(g)}) for g in groups]
        rounds = 1
        while len(partials) > 1:
            partials = self._combine(task, partials)
            rounds += 1
        warnings.append(f"the input was longer than the model's {self.settings.llm_context_tokens}-token "
                        f"context: summarized in {len(groups)} parts, then combined (map-reduce, {rounds} rounds)")
        return partials[0], warnings, sent

    def _combine(self, task: str, partials: list[str]) -> list[str]:
        import prompts

        budget = self._budget() - self._cost([prompts.load("summary_system.md"),
                                              prompts.load("combine_user.md"), task])
        groups = _pack(partials, [int(1.3 * n) for n in self.c.tokenizer.count(partials)], budget)
        if len(groups) == len(partials) and len(groups) > 1:
            # Every partial needs a call of its own: pair them so the rounds still converge.
            groups = [partials[i:i + 2] for i in range(0, len(partials), 2)]
        # A group of one passes through: a call then always merges two or more partials into
        # one, so combining g partials takes at most g - 1 calls.
        return [g[0] if len(g) == 1 else self._run("combine_user.md", {"task": task, "partials": "\n\n".join(
            f"<partial>\n{p}\n</partial>" for p in g)}) for g in groups]


def _pack(blocks: list[str], costs: list[int], budget: int) -> list[list[str]]:
    """Blocks in order, packed greedily into groups of at most `budget` tokens."""
    groups: list[list[str]] = [[]]
    used = 0
    for block, cost in zip(blocks, costs):
        if groups[-1] and used + cost > budget:
            groups.append([])
            used = 0
        groups[-1].append(block)
        used += cost
    return groups


def _most_central(passages: list[Passage], fits: Callable[[list[int]], bool]) -> list[int]:
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


def summarize_passages(c: Components, task: str, passages: list[Passage], sentences: int = 4,
                       focus_query: str | None = None, chat_model=None,
                       order: list[str] | None = None, use_llm: bool | None = None,
                       per_article: int = 2, on_llm_error: Callable[[LLMError], None] | None = None,
                       ) -> tuple[str, str, list[dict], list[str]]:
    """(summary, mode, citations, warnings) of the passages: LLM when configured (or `use_llm`),
    else (and on any LLM failure, which `on_llm_error` is told of) extractive. The citation check
    runs on both."""
    article_text = article_texts(c)
    warnings: list[str] = []
    if use_llm is None:
        use_llm = chat_model is not None or c.settings.llm_enabled
    if use_llm:
        try:
            raw, llm_warnings, sent = LLMSummarizer(c, chat_model).summarize(task, passages)
            warnings += llm_warnings
            checked = check_citations(raw, passages, article_text, given=sent)
            warnings += checked.warnings
            if checked.citations:
                return checked.text, "llm", checked.citations, warnings
            warnings.append("the LLM summary cited no given passage, so it is not shown; summarized extractively")
        except LLMError as exc:
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


def summarize_article(c: Components, record: ArticleRecord, chat_model=None) -> Summary:
    """A summary of one article that cites only that article."""
    from .articles import article_passages

    passages = article_passages(c, record)
    target = f"{record.article_id} ({record.title})"
    if not passages:
        return Summary(target, "The article has no text to summarize.", "extractive")
    text, mode, citations, warnings = summarize_passages(
        c, f"Summarize this article: {record.title}", passages, sentences=4, chat_model=chat_model,
        per_article=4)
    return Summary(target, text, mode, citations, warnings)


def summarize_topic(c: Components, topic: str, filters: SearchFilters | None = None, k: int = 8,
                    chat_model=None) -> Summary:
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
        c, f"Summarize what the articles report about: {topic}", passages, sentences=5,
        focus_query=topic, chat_model=chat_model)
    return Summary(topic, text, mode, citations, warnings)
