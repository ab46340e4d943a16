"""Retrieval choices: per-article cap, outlet diversity, and questions that name their period."""

from __future__ import annotations

from datetime import date

import numpy as np
from helpers import run_ingest, write_article

from rag.models import Passage
from rag.search.filters import SearchFilters
from rag.search.rerank import late_interaction
from rag.search.retrieval import RetrievalConfig, newer_bonus, retrieve, select_passages
from rag.text.dates import recency_window


def _passage(i: int, score: float, source: str, article: str | None = None) -> Passage:
    return Passage(chunk_id=f"c{i}", article_id=article or f"a{i}", title=f"T{i}", source=source,
                   published=None, url=None, path=None, text=f"passage {i}", score=score, ord=0,
                   start=0, end=10)


def _orthogonal(passages: list[Passage]) -> dict[str, np.ndarray]:
    """Vectors that are far apart, so the near-identical filter keeps out of the way."""
    eye = np.eye(len(passages), dtype=np.float32)
    return {p.chunk_id: eye[i] for i, p in enumerate(passages)}


def test_recency_window_reads_the_period_a_question_names():
    asked = date(2026, 4, 10)
    assert recency_window("Which country won the contest this week?", asked) == date(2026, 4, 2)
    assert recency_window("What did the court decide on Tuesday?", asked) == date(2026, 4, 2)
    assert recency_window("Who resigned last week?", asked) == date(2026, 3, 26)
    assert recency_window("Which film recently broke the record?", asked) == date(2026, 3, 10)
    assert recency_window("What happened yesterday in Paris?", asked) == date(2026, 4, 8)
    assert recency_window("How many storms were named this year?", asked) == date(2026, 1, 1)
    assert recency_window("Who is the president of France?", asked) is None
    # A word that only contains a period word is not one.
    assert recency_window("What does the weekly magazine cover?", asked) is None


def test_one_outlet_keeps_every_slot_unless_another_scores_nearly_as_well():
    same = [_passage(i, 1.0 - i * 0.01, "Big Daily") for i in range(5)]
    weak = _passage(9, 0.5, "Small Times")
    close = _passage(8, 0.95, "Small Times")
    cfg = RetrievalConfig()

    chosen = select_passages([*same, weak], _orthogonal([*same, weak]), 5, cfg)
    assert [p.chunk_id for p in chosen] == [p.chunk_id for p in same]  # a weak other outlet never displaces

    chosen = select_passages([*same, close], _orthogonal([*same, close]), 5, cfg)
    assert [p.source for p in chosen].count("Small Times") == 1  # a strong one takes the last slot
    assert chosen[-1].chunk_id == "c8" and "c4" not in [p.chunk_id for p in chosen]

    # With one or two slots nothing is swapped: the best passages win.
    assert [p.chunk_id for p in select_passages([*same, close], _orthogonal([*same, close]), 2, cfg)] == ["c0", "c1"]


def test_per_article_cap_gives_other_articles_a_turn_then_fills():
    long_article = [_passage(i, 1.0 - i * 0.01, "Big Daily", article="long") for i in range(4)]
    other = _passage(7, 0.5, "Big Daily", article="other")
    chosen = select_passages([*long_article, other], _orthogonal([*long_article, other]), 3, RetrievalConfig())
    assert [p.chunk_id for p in chosen] == ["c0", "c1", "c7"]
    chosen = select_passages(long_article, _orthogonal(long_article), 3, RetrievalConfig())
    assert len(chosen) == 3  # caps never shrink the result


def test_near_identical_passages_are_shown_once():
    a, b, c = (_passage(i, 1.0 - i * 0.1, f"Outlet {i}") for i in range(3))
    v = np.array([1.0, 0.0], dtype=np.float32)
    vectors = {"c0": v, "c1": v.copy(), "c2": np.array([0.0, 1.0], dtype=np.float32)}
    assert [p.chunk_id for p in select_passages([a, b, c], vectors, 3, RetrievalConfig())] == ["c0", "c2"]


OLD_BODY = ("The city council voted to close the old harbour bridge to heavy lorries after engineers found "
            "cracks in two of its steel supports. Repairs are expected to take four months, the council said, "
            "and buses will be diverted over the northern ring road in the meantime.")
NEW_BODY = ("Heavy lorries are banned from the harbour bridge again: the council closed it to them after a "
            "routine inspection found corrosion in the deck joints. Engineers will need nine months for the "
            "work, and freight traffic must use the southern bypass until the bridge reopens.")


def test_a_question_about_this_week_prefers_that_weeks_article(components, tmp_path):
    old = write_article(tmp_path / "in", "old.md", "Harbour bridge closed to lorries", OLD_BODY,
                        outlet="Coast Post", published="2023-01-10")
    new = write_article(tmp_path / "in", "new.md", "Harbour bridge closed to lorries again", NEW_BODY, outlet="Coast Post", published="2024-06-18")
    run_ingest(components, [old, new])
    question = "Why did the council close the harbour bridge this week?"

    def first(as_of: date) -> str:
        return retrieve(components, question, 1, SearchFilters(as_of=as_of))[0].published

    assert first(date(2024, 6, 20)) == "2024-06-18"
    assert first(date(2023, 1, 12)) == "2023-01-10"
    # Without a period in the question, the day it is asked changes nothing.
    plain = "Why did the council close the harbour bridge?"
    orders = {tuple(p.article_id for p in retrieve(components, plain, 2, SearchFilters(as_of=d)))
              for d in (date(2024, 6, 20), date(2023, 1, 12))}
    assert len(orders) == 1


class _TokenEmbedder:
    """Token vectors chosen by hand: each text maps to a list of basis directions."""

    def __init__(self, tokens: dict[str, list[int]]):
        self.tokens = tokens
        self.calls: list[list[str]] = []

    def token_vectors(self, texts: list[str]) -> list[np.ndarray]:
        self.calls.append(list(texts))
        return [np.eye(4, dtype=np.float32)[self.tokens[t]] for t in texts]


def test_late_interaction_adds_a_third_ranking_of_the_top_passages():
    from types import SimpleNamespace

    # q has tokens 0 and 1. Passage "a" holds both (MaxSim 1.0), "b" one (0.5), "c" none (0.0).
    emb = _TokenEmbedder({"q": [0, 1], "text a": [0, 1, 3], "text b": [1, 2], "text c": [2, 3]})
    ranked = {"b": 0.020, "a": 0.0199, "c": 0.019, "deep": 0.001}
    rows = {cid: {"text": f"text {cid}"} for cid in ranked}
    cfg = RetrievalConfig(rerank_depth=3)
    late_interaction(SimpleNamespace(embedder=object(), token_embedder=emb), "q", ranked, rows, cfg)
    assert emb.calls == [["q", "text b", "text a", "text c"]]  # the top 3 only, one call
    assert ranked["a"] == 0.0199 + 1 / 61 and ranked["b"] == 0.020 + 1 / 62
    assert ranked["c"] == 0.019 + 1 / 63 and ranked["deep"] == 0.001
    assert max(ranked, key=ranked.get) == "a"


def test_late_interaction_is_skipped_when_it_cannot_or_need_not_run(caplog):
    from types import SimpleNamespace

    rows = {"a": {"text": "text a"}, "b": {"text": "text b"}}
    ranked = {"a": 0.02, "b": 0.01}
    late_interaction(SimpleNamespace(embedder=object(), token_embedder=object()), "q", ranked, rows, RetrievalConfig())
    assert ranked == {"a": 0.02, "b": 0.01}  # an embedder without token vectors

    class Failing:
        def token_vectors(self, texts):
            raise RuntimeError("model failed")

    late_interaction(SimpleNamespace(embedder=object(), token_embedder=Failing()), "q", ranked, rows, RetrievalConfig())
    assert ranked == {"a": 0.02, "b": 0.01}  # a failure keeps the hybrid order
    assert "re-ranking skipped" in caplog.text and "model failed" in caplog.text

    emb = _TokenEmbedder({})
    late_interaction(SimpleNamespace(embedder=object(), token_embedder=emb), "q", {"a": 0.02}, rows, RetrievalConfig())
    late_interaction(SimpleNamespace(embedder=object(), token_embedder=emb), "q", ranked, rows, RetrievalConfig(rerank_depth=1))
    assert emb.calls == [] and ranked == {"a": 0.02, "b": 0.01}  # nothing to reorder: no model run


def test_rerank_depth_comes_from_settings_and_zero_turns_it_off(settings, embedder, tokenizer, tmp_path):
    from rag.components import Components

    class Counting:
        """The real model, counting the texts it was asked for token vectors."""

        name, dimension = embedder.name, embedder.dimension

        def __init__(self):
            self.token_texts = 0

        def embed(self, texts):
            return embedder.embed(texts)

        def token_vectors(self, texts):
            self.token_texts += len(texts)
            return embedder.token_vectors(texts)

    files = [write_article(tmp_path / "in", f"{i}.md", title, body, outlet="Coast Post", published=day)
             for i, (title, body, day) in enumerate([("Harbour bridge closed", OLD_BODY, "2023-01-10"),
                                                     ("Harbour bridge closed again", NEW_BODY, "2024-06-18")])]
    counts = {}
    for depth in (20, 0):
        counting = Counting()
        c = Components(settings.model_copy(update={"rerank_depth": depth}), embedder=counting, tokenizer=tokenizer)
        try:
            if depth:
                run_ingest(c, files)
            hits = retrieve(c, "Why was the harbour bridge closed?", 2)
        finally:
            c.close()
        assert len(hits) == 2
        counts[depth] = counting.token_texts
    assert counts == {20: 3, 0: 0}  # the question and both passages; nothing when off


def test_newer_bonus_halves_per_half_life_behind_the_newest():
    days = {"new": date(2024, 6, 18), "month": date(2024, 5, 19), "undated": None}
    bonus = newer_bonus(days, 1.0, 30.0)
    assert bonus == {"new": 1.0, "month": 0.5}
    assert newer_bonus({"a": None}, 1.0, 30.0) == {}
    assert newer_bonus(days, 0.0, 30.0) == {}


BRIDGE_OLD = ("The council closed the harbour bridge to lorries after engineers found cracks in two "
              "of its steel girders. Hauliers were sent on a forty-minute detour through the ring road, "
              "and the port warned that deliveries of timber and grain would run late all winter.")
BRIDGE_NEW = ("Lorries are banned from the harbour bridge again: the council closed it after an inspection "
              "found that the repaired girders had corroded. Fishermen at the quay said the closure would "
              "cost them buyers, and the mayor promised a new crossing within five years.")


def test_a_question_without_a_period_prefers_the_newest_coverage_when_close(components, tmp_path):
    old = write_article(tmp_path / "in", "old.md", "Harbour bridge closed to lorries", BRIDGE_OLD,
                        outlet="Coast Post", published="2023-01-10")
    new = write_article(tmp_path / "in", "new.md", "Harbour bridge shut to lorries", BRIDGE_NEW,
                        outlet="Coast Post", published="2024-06-18")
    run_ingest(components, [old, new])
    question = "Why did the council close the harbour bridge to lorries?"

    def dates(config: RetrievalConfig) -> list[str | None]:
        return [p.published for p in retrieve(components, question, 2, SearchFilters(), config)]

    assert dates(RetrievalConfig())[0] == "2024-06-18"
    assert set(dates(RetrievalConfig(newer_weight=0.0))) == {"2023-01-10", "2024-06-18"}
    # Asked as if on the older article's day, its own article is the newest there is.
    until = SearchFilters(until=date(2023, 1, 12), as_of=date(2023, 1, 12))
    assert [p.published for p in retrieve(components, question, 2, until)] == ["2023-01-10"]


def test_the_newer_bonus_settles_close_calls_only():
    """A passage first in both rankings keeps its place against a newer one that both rank
    tenth: the bonus is worth less than that lead."""
    c = RetrievalConfig()
    lead = 2 / (c.rrf_k + 1) - 2 / (c.rrf_k + 10)
    assert 0 < c.newer_weight / (c.rrf_k + 1) < lead


def test_the_newer_bonus_only_reorders_the_chosen_passages(components, tmp_path):
    """Which passages are shown is decided without the bonus, so recall@k cannot change."""
    paths = [write_article(tmp_path / "in", f"b{i}.md", f"Harbour bridge report {i}", body,
                           outlet="Coast Post", published=day)
             for i, (body, day) in enumerate([(BRIDGE_OLD, "2023-01-10"), (BRIDGE_NEW, "2024-06-18"),
                                              (OLD_BODY, "2022-03-01"), (NEW_BODY, "2025-02-02")])]
    run_ingest(components, paths)
    question = "Why did the council close the harbour bridge to lorries?"
    for k in (1, 2, 3):
        on = retrieve(components, question, k)
        off = retrieve(components, question, k, config=RetrievalConfig(newer_weight=0.0))
        assert {p.chunk_id for p in on} == {p.chunk_id for p in off}
