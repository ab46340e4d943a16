"""Retrieval variants on a whole-corpus index, offline: the stored passage vectors, brute-force
dense search and the FTS5 keyword index, with the shipped fusion and selection replayed in
NumPy, so that one variant takes seconds instead of a re-ingest.

Needs an index built by `retrieval.py --work DIR` (DIR/newsdesk). Prints answer-string recall@k
(k = 1, 5, 10, each on a retrieval of exactly k passages) on all questions, the tuning
questions (answer in the first --tuned-on articles) and the held-out rest, asked today and
asked on the quiz day. The first row of each table replays the shipped pipeline; compare it
with retrieval.py's figures (within a point: HNSW vs brute force, candidate filtering order).

    .venv/bin/python benchmarks/retrieval_variants.py --work DIR [--articles 2247] [--tuned-on 800]
        [--shipped-only] [--earlier] [--vectors FILE | --embed-alone FILE]
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from functools import cached_property
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RTQA, components, load_jsonl, require  # noqa: E402
from retrieval import contains_answer, eval_questions, quiz_day  # noqa: E402

from rag.search.rerank import maxsim
from rag.search.retrieval import RetrievalConfig
from rag.store.registry import fts_query

TODAY = date(2026, 11, 21)  # "asked today": long after every article
SHIPPED = RetrievalConfig()
CANDIDATES, RRF_K = SHIPPED.candidates, SHIPPED.rrf_k
QUIZ_WORDS = frozenset("week weeks year years new first according reported announced recently last latest "
                       "month today name named called which".split())


@dataclass
class Variant:
    name: str
    keyword_query: Callable[[str], str | None] | None = None  # FTS5 MATCH string for a question
    prf: tuple[int, float] | None = None   # (top m fused passages, weight) added to the query vector
    freshness: tuple[float, float] | None = None  # (half-life days, weight in rank-1 votes)
    per_article: int = SHIPPED.per_article
    recency_weight: float = SHIPPED.recency_weight
    title_weight: float = 2.0      # the keyword index's bm25 weight of the title column (text: 1.0)
    neighbours: float = 0.0        # each passage gains this share of its best adjacent passage's score
    article_sum: float = 0.0       # ... of the summed scores of its article's other candidates
    coverage: float = 0.0          # weight of a list ranking candidates by idf-weighted question-term coverage
    title_list: float = 0.0        # weight of a list ranking passages by their article title's embedding
    question_sentence: float = 0.0  # weight of a dense list for a multi-sentence question's last sentence
    rm3: tuple[int, int, float] | None = None  # keyword expansion: (top m fused passages, terms, list weight)
    # late interaction over token vectors: (top n fused, list weight); shipped: (20, 1.0)
    maxsim: tuple[int, float] | None = (SHIPPED.rerank_depth, SHIPPED.rerank_weight) if SHIPPED.rerank_depth else None
    # newest coverage first when close, for questions that name no period: (weight in rank-1
    # votes, half-life in days behind the newest of the top `depth` candidates, depth, "before"
    # or "after" late interaction); shipped: SHIPPED.newer_*
    newer: tuple[float, float, int, str] | None = (
        (SHIPPED.newer_weight, SHIPPED.newer_half_life, SHIPPED.newer_depth, "after") if SHIPPED.newer_weight else None)
    newer_order_only: bool = True  # the bonus only reorders the k passages chosen without it (shipped)


def stems(text: str) -> list[str]:
    """Content words with a crude suffix stemmer (enough for a coverage count)."""
    from rag.text.words import STOPWORDS

    out = []
    for w in re.findall(r"[a-z0-9]+", text.lower()):
        if w in STOPWORDS or len(w) < 2:
            continue
        for suffix in ("ing", "ed", "es", "s"):
            if len(w) > len(suffix) + 3 and w.endswith(suffix):
                w = w[:-len(suffix)]
                break
        out.append(w)
    return out


def last_sentence(question: str) -> str | None:
    """The question sentence of a quiz item that opens with a statement, else None."""
    from rag.text.sentences import split_sentences

    question = question.strip()
    spans = split_sentences(question)
    return question[spans[-1][0]:spans[-1][1]] if len(spans) > 1 else None


def words(q: str) -> list[str]:
    return re.findall(r"\w+", q.lower())


def unigram_query(q: str, drop: frozenset = frozenset()) -> str | None:
    from rag.text.words import STOPWORDS

    ws = dict.fromkeys(w for w in words(q) if w not in STOPWORDS and len(w) > 1 and w not in drop)
    return " OR ".join(f'"{w}"' for w in ws) or None


def bigram_query(q: str, drop: frozenset = frozenset()) -> str | None:
    from rag.text.words import STOPWORDS

    t = words(q)
    ok = [w not in STOPWORDS and len(w) > 1 and w not in drop for w in t]
    pairs = dict.fromkeys(f'"{a} {b}"' for (a, b), x, y in zip(zip(t, t[1:]), ok, ok[1:]) if x and y)
    uni = unigram_query(q, drop)
    return " OR ".join(filter(None, [uni, *pairs])) or None


class Replay:
    """The shipped retrieval over stored vectors, with hooks for the variants."""

    def __init__(self, work: Path, vectors: Path | None = None):
        from rag.text.dates import parse_date

        c = components(require(work / "newsdesk"))
        self.c = c
        rows = c.registry.db.execute(
            "SELECT c.chunk_id, c.text, c.article_id, a.source, a.published, c.ord, c.title FROM chunks c "
            "JOIN articles a USING (article_id) ORDER BY c.rowid").fetchall()
        self.ids = [r[0] for r in rows]
        self.index = {cid: i for i, cid in enumerate(self.ids)}
        self.texts = [r[1] for r in rows]
        self.articles = [r[2] for r in rows]
        self.sources = [(r[3] or "").casefold() for r in rows]
        self.published = [parse_date(r[4]) for r in rows]
        self.ords = [r[5] for r in rows]
        self.titles = [r[6] for r in rows]
        self._kw_cache: dict[tuple[str, float], list[int]] = {}
        self.tokens_file = work / "tokens.pkl"
        self.vectors = np.zeros((len(rows), 384), np.float32)
        if vectors is not None:  # the same passages embedded another way, in this row order
            self.vectors[:] = np.load(vectors)
            return
        for i in range(0, len(self.ids), 2000):
            got = c.store.vectors(self.ids[i:i + 2000])
            for j, cid in enumerate(self.ids[i:i + 2000]):
                self.vectors[i + j] = got[cid]

    def keyword(self, match: str | None, title_weight: float = 2.0) -> list[int]:
        if not match:
            return []
        if (match, title_weight) not in self._kw_cache:
            rows = self.c.registry.db.execute(
                "SELECT c.chunk_id FROM chunks_fts JOIN chunks c ON c.rowid = chunks_fts.rowid "
                "WHERE chunks_fts MATCH ? ORDER BY bm25(chunks_fts, ?, 1.0) LIMIT 400",
                (match, title_weight)).fetchall()
            self._kw_cache[match, title_weight] = [self.index[r[0]] for r in rows if r[0] in self.index]
        return self._kw_cache[match, title_weight]

    @cached_property
    def neighbours(self) -> tuple[list[int | None], list[int | None]]:
        """Each passage's previous and next passage in its article (or None)."""
        n, art, o = len(self.ids), self.articles, self.ords
        prev = [i - 1 if i and art[i - 1] == art[i] and o[i - 1] == o[i] - 1 else None for i in range(n)]
        nxt = [i + 1 if i + 1 < n and art[i + 1] == art[i] and o[i + 1] == o[i] + 1 else None
               for i in range(n)]
        return prev, nxt

    @cached_property
    def terms(self) -> tuple[list[set[str]], dict[str, float]]:
        """Each passage's (title + text) stemmed content words, and their idf."""
        sets = [set(stems(f"{t} {x}")) for t, x in zip(self.titles, self.texts)]
        df = Counter(w for s in sets for w in s)
        return sets, {w: math.log(len(sets) / (1 + n)) for w, n in df.items()}

    @cached_property
    def term_counts(self) -> tuple[list[Counter], Counter]:
        """Each passage's content-word counts, and the words' document frequencies (for RM3)."""
        from rag.text.words import STOPWORDS

        counts = [Counter(w for w in re.findall(r"[a-z]+", t.lower()) if w not in STOPWORDS and len(w) > 2)
                  for t in self.texts]
        return counts, Counter(w for c in counts for w in c)

    @cached_property
    def _tokens(self) -> dict[str, np.ndarray]:
        """Token vectors kept per text (questions and passages): computed alone, so exact. Kept
        in the work dir between runs (tokens.pkl; delete it after a re-ingest)."""
        import pickle

        return pickle.loads(self.tokens_file.read_bytes()) if self.tokens_file.exists() else {}

    def save_tokens(self) -> None:
        import pickle

        if "_tokens" in self.__dict__:
            self.tokens_file.write_bytes(pickle.dumps(self._tokens))

    def maxsim(self, question: str, i: int) -> float:
        """Late interaction as rag.retrieval scores it: each question token's best passage token."""
        for text in (question, self.texts[i]):
            if text not in self._tokens:
                self._tokens[text] = self.c.token_embedder.token_vectors([text])[0]
        return maxsim(self._tokens[question], self._tokens[self.texts[i]])

    @cached_property
    def title_vectors(self) -> tuple[np.ndarray, np.ndarray, list[date | None]]:
        """One embedded title per article, each passage's row in it, and each article's date."""
        titles, rows = {}, []
        for a, t, p in zip(self.articles, self.titles, self.published):
            rows.append(titles.setdefault(a, (len(titles), t, p))[0])
        vecs = np.vstack([self.c.embedder.embed([t or ""])[0] for _, t, _ in titles.values()])
        return vecs, np.array(rows), [p for _, _, p in titles.values()]

    def dense(self, qvec: np.ndarray, ok: Callable[[int], bool]) -> list[int]:
        """The CANDIDATES nearest passages that pass the filter (brute force)."""
        return [i for i in np.argsort(-(self.vectors @ qvec))[:CANDIDATES * 4] if ok(i)][:CANDIDATES]

    def scores(self, v: Variant, question: str, qvec: np.ndarray, as_of: date, until: date | None) -> dict[int, float]:
        """Fused score of every candidate passage for the question, under variant v."""
        # As the shipped filters (SQL and Chroma's published_day): an undated passage fails `until`.
        ok = (lambda i: True) if until is None else (
            lambda i: self.published[i] is not None and self.published[i] <= until)
        kwq = (v.keyword_query or fts_query)(question)  # shipped: rag.registry's query
        sc = self._fused(v, question, qvec, kwq, ok)
        if v.neighbours:
            self._add_neighbours(sc, v.neighbours, ok)
        if v.article_sum:
            sc = self._with_article_sum(sc, v.article_sum)
        if v.coverage:
            self._add_coverage(sc, v.coverage, question)
        if v.title_list:
            self._add_title_list(sc, v.title_list, qvec, until)
        if v.prf:
            self._add_prf(sc, v.prf, qvec, ok)
        if v.rm3:
            self._add_rm3(sc, v, question, kwq, ok)
        self._add_dates(sc, v, question, as_of)
        if v.newer and v.newer[3] == "before":
            self._add_newer(sc, v.newer, question, as_of)
        if v.maxsim:
            self._add_maxsim(sc, v.maxsim, question)
        if v.newer and v.newer[3] == "after":
            self._add_newer(sc, v.newer, question, as_of)
        return sc

    def _fused(self, v: Variant, question: str, qvec: np.ndarray, kwq: str | None,
               ok: Callable[[int], bool]) -> dict[int, float]:
        """RRF of the dense and keyword lists (and the question-sentence list of that variant)."""
        dense = self.dense(qvec, ok)
        keyword = [i for i in self.keyword(kwq, v.title_weight) if ok(i)][:CANDIDATES]
        sc: dict[int, float] = {}
        for lst, weight in ((dense, SHIPPED.dense_weight), (keyword, SHIPPED.keyword_weight)):
            for r, i in enumerate(lst):
                sc[int(i)] = sc.get(int(i), 0.0) + weight / (RRF_K + r + 1)
        if v.question_sentence and (last := last_sentence(question)):
            qv2 = self.c.embedder.embed([last])[0]
            for r, i in enumerate(self.dense(qv2, ok)):
                sc[int(i)] = sc.get(int(i), 0.0) + v.question_sentence / (RRF_K + r + 1)
        return sc

    def _add_neighbours(self, sc: dict[int, float], share: float, ok: Callable[[int], bool]) -> None:
        """Each candidate's adjacent passages gain `share` of its score (the best, if several)."""
        prev, nxt = self.neighbours
        near: dict[int, float] = {}
        for i, s in sc.items():
            for j in (prev[i], nxt[i]):
                if j is not None and ok(j):
                    near[j] = max(near.get(j, 0.0), s)
        for j, s in near.items():
            sc[j] = sc.get(j, 0.0) + share * s

    def _with_article_sum(self, sc: dict[int, float], share: float) -> dict[int, float]:
        """Each candidate plus `share` of the summed scores of its article's other candidates."""
        total = Counter()
        for i, s in sc.items():
            total[self.articles[i]] += s
        return {i: s + share * (total[self.articles[i]] - s) for i, s in sc.items()}

    def _add_coverage(self, sc: dict[int, float], weight: float, question: str) -> None:
        """A list of the candidates ranked by the idf of the question terms they hold."""
        sets, idf = self.terms
        wanted = set(stems(question))
        cover = {i: sum(idf.get(w, 0.0) for w in wanted & sets[i]) for i in sc}
        for r, i in enumerate(sorted(cover, key=cover.get, reverse=True)[:CANDIDATES]):
            sc[i] += weight / (RRF_K + r + 1)

    def _add_title_list(self, sc: dict[int, float], weight: float, qvec: np.ndarray, until: date | None) -> None:
        """A list of the candidates ranked by their article title's embedding (top 20 articles)."""
        tvecs, row, dates = self.title_vectors
        eligible = [int(a) for a in np.argsort(-(tvecs @ qvec))
                    if until is None or (dates[a] is not None and dates[a] <= until)]
        rank = {a: r for r, a in enumerate(eligible[:20])}
        for i in sc:
            if (r := rank.get(int(row[i]))) is not None:
                sc[i] += weight / (RRF_K + r + 1)

    def _add_prf(self, sc: dict[int, float], prf: tuple[int, float], qvec: np.ndarray,
                 ok: Callable[[int], bool]) -> None:
        """Pseudo-relevance feedback: a dense list for the query vector moved towards the top m."""
        m, beta = prf
        top = sorted(sc, key=sc.get, reverse=True)[:m]
        q2 = qvec + beta * self.vectors[top].mean(0)
        q2 /= np.linalg.norm(q2)
        for r, i in enumerate(self.dense(q2, ok)):
            sc[int(i)] = sc.get(int(i), 0.0) + 1 / (RRF_K + r + 1)

    def _add_rm3(self, sc: dict[int, float], v: Variant, question: str, kwq: str | None,
                 ok: Callable[[int], bool]) -> None:
        """Relevance model: the top passages' tf-idf words added to the keyword query."""
        m, n_terms, weight = v.rm3
        counts, df = self.term_counts
        gain: Counter = Counter()
        for i in sorted(sc, key=sc.get, reverse=True)[:m]:
            length = sum(counts[i].values()) or 1
            for w, c in counts[i].items():
                gain[w] += c / length * math.log(len(counts) / (1 + df[w]))
        asked = set(words(question))
        extra = [w for w, _ in gain.most_common(n_terms + 20) if w not in asked][:n_terms]
        match = " OR ".join(filter(None, [kwq, *(f'"{w}"' for w in extra)]))
        for r, i in enumerate([i for i in self.keyword(match, v.title_weight) if ok(i)][:CANDIDATES]):
            sc[i] = sc.get(i, 0.0) + weight / (RRF_K + r + 1)

    def _add_dates(self, sc: dict[int, float], v: Variant, question: str, as_of: date) -> None:
        """The shipped recency bonus (a question's "this week" window) and the freshness prior."""
        from rag.text.dates import recency_window

        start = recency_window(question, as_of) if v.recency_weight else None
        for i in sc:
            p = self.published[i]
            if start and p and start <= p <= as_of:
                sc[i] += v.recency_weight / (RRF_K + 1)
            if v.freshness:
                half_life, w = v.freshness
                age = max(0, (as_of - p).days) if p else 3650
                sc[i] += w / (RRF_K + 1) * 0.5 ** (age / half_life)

    def _add_newer(self, sc: dict[int, float], newer: tuple[float, float, int, str], question: str,
                   as_of: date) -> None:
        """rag.search.retrieval's newest-first bonus: among the top `depth` candidates of a
        question that names no period, each gains weight x 0.5^(days behind the newest / half-life)."""
        from rag.search.retrieval import newer_bonus
        from rag.text.dates import recency_window

        weight, half_life, depth, _ = newer
        if recency_window(question, as_of) is not None:
            return
        top = sorted(sc, key=sc.get, reverse=True)[:depth]
        for i, bonus in newer_bonus({i: self.published[i] for i in top}, weight / (RRF_K + 1), half_life).items():
            sc[i] += bonus

    def _add_maxsim(self, sc: dict[int, float], late_interaction: tuple[int, float], question: str) -> None:
        """Late interaction: the top n candidates ranked by MaxSim, as a third list."""
        n, weight = late_interaction
        top = sorted(sc, key=sc.get, reverse=True)[:n]
        late = {i: self.maxsim(question, i) for i in top}
        for r, i in enumerate(sorted(top, key=late.get, reverse=True)):
            sc[i] += weight / (RRF_K + r + 1)

    def select_passages(self, sc: dict[int, float], k: int, per_article: int) -> list[int]:
        """rag.retrieval._select on indices: caps, near-identical, fill, outlet swap."""
        order = sorted(sc, key=sc.get, reverse=True)
        V = self.vectors
        chosen, per, skipped = [], {}, []
        for i in order:
            if len(chosen) == k:
                break
            if any(float(V[i] @ V[j]) >= SHIPPED.near_identical for j in chosen):
                continue
            if per.get(self.articles[i], 0) >= per_article:
                skipped.append(i)
                continue
            chosen.append(i)
            per[self.articles[i]] = per.get(self.articles[i], 0) + 1
        chosen += skipped[:k - len(chosen)]
        chosen.sort(key=lambda i: sc[i], reverse=True)
        outlets = {self.sources[i] for i in chosen}
        if k >= 3 and len(chosen) == k and len(outlets) == 1 and "" not in outlets:
            other = next((i for i in order if self.sources[i] not in outlets
                          and not any(float(V[i] @ V[j]) >= SHIPPED.near_identical for j in chosen[:-1])), None)
            if other is not None and sc[other] >= SHIPPED.outlet_gate * sc[chosen[-1]]:
                chosen[-1] = other
                chosen.sort(key=lambda i: sc[i], reverse=True)
        return chosen


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, required=True, help="the --work dir of a retrieval.py run")
    ap.add_argument("--articles", type=int, default=2247, help="as given to retrieval.py")
    ap.add_argument("--tuned-on", type=int, default=800)
    ap.add_argument("--vectors", type=Path, help="a .npy of passage vectors in chunk rowid order, "
                    "instead of the stored ones (e.g. embedded one passage at a time)")
    ap.add_argument("--shipped-only", action="store_true", help="replay only the shipped pipeline")
    ap.add_argument("--newer", action="store_true", help="tune the newest-first-when-close bonus (grid)")
    ap.add_argument("--quiz-day-only", action="store_true", help="only the questions asked on their quiz day")
    ap.add_argument("--changes", action="store_true",
                    help="list the questions whose top 5 the shipped newest-first bonus changes")
    ap.add_argument("--earlier", action="store_true", help="also the variants tried before late interaction")
    ap.add_argument("--embed-alone", type=Path, metavar="FILE",
                    help="embed every passage on its own (about 10 min for the whole corpus), save the "
                         "vectors to FILE (.npy) for --vectors, and stop")
    return ap.parse_args()


def embed_alone(replay: Replay, target: Path) -> None:
    """Embed every passage in a batch of its own and save the vectors to `target` (.npy)."""
    import time

    t = time.perf_counter()
    vectors = np.vstack([replay.c.embedder.embed([text]) for text in replay.texts])
    seconds = time.perf_counter() - t
    np.save(target, vectors)
    print(f"{len(vectors)} passages embedded one at a time in {seconds:.0f} s "
          f"({len(vectors) / seconds:.1f}/s) -> {target}")


def variants_to_replay(earlier: bool, shipped_only: bool) -> list[Variant]:
    """The shipped pipeline first, then the variants (with `earlier`, also those tried before
    late interaction); with `shipped_only`, the shipped pipeline alone."""
    variants = [
        Variant("shipped (replayed)"),
        Variant("no late-interaction re-ranking (before 2026-11-21)", maxsim=None),
        Variant("late interaction over the top 10, weight 1.0", maxsim=(10, 1.0)),
        Variant("late interaction over the top 15, weight 1.0", maxsim=(15, 1.0)),
        Variant("late interaction over the top 30, weight 1.0", maxsim=(30, 1.0)),
        Variant("late interaction over the top 20, weight 0.5", maxsim=(20, 0.5)),
        Variant("late interaction over the top 20, weight 2.0", maxsim=(20, 2.0)),
        Variant("RM3 keyword expansion, top 5, 10 words, 0.5", rm3=(5, 10, 0.5)),
        Variant("RM3 keyword expansion, top 3, 5 words, 0.5", rm3=(3, 5, 0.5)),
        Variant("freshness prior, half-life 90 d, 0.5", freshness=(90, 0.5)),
        Variant("3 passages per article", per_article=3),
    ]
    if earlier:  # tried before late interaction was shipped, replayed without it as then
        variants += [
            Variant("pseudo-relevance feedback, top 5 x 0.3", prf=(5, 0.3), maxsim=None),
            Variant("keyword query + adjacent word pairs", keyword_query=bigram_query, maxsim=None),
            Variant("keyword query without quiz words", keyword_query=lambda q: unigram_query(q, QUIZ_WORDS), maxsim=None),
            Variant("1 passage per article", per_article=1, maxsim=None),
            Variant("keyword title weight 1 (shipped: 2)", title_weight=1.0, maxsim=None),
            Variant("+ 0.25 x best adjacent passage's score", neighbours=0.25, maxsim=None),
            Variant("+ 0.1 x article's other candidates' scores", article_sum=0.1, maxsim=None),
            Variant("question-term coverage list, 0.5", coverage=0.5, maxsim=None),
            Variant("article-title embedding list, 0.5", title_list=0.5, maxsim=None),
            Variant("question-sentence dense list, 1.0", question_sentence=1.0, maxsim=None),
        ]
    return variants[:1] if shipped_only else variants


def newer_grid() -> list[Variant]:
    """Newest-first-when-close settings to tune (issue #17): off, as a score bonus that also
    chooses the passages (tuned first: weights 0.1-0.5, half-lives 7 and 60 days, before or after
    late interaction, which made no difference), and as a reordering of the chosen passages only."""
    grid = [Variant("newest first: off", newer=None),
            Variant("newest first as a score bonus, 0.25 x 0.5^(days/60)", newer=(0.25, 60.0, 20, "after"),
                    newer_order_only=False)]
    for weight in (0.25, 0.5, 1.0):
        grid.append(Variant(f"newest first reorders the chosen passages, {weight} x 0.5^(days/60)",
                            newer=(weight, 60.0, 20, "after")))
    return grid


def variant_row(replay: Replay, v: Variant, scenario: str, qs: list[dict], qvecs: list[np.ndarray],
                tuning: set[str]) -> list[str]:
    """Recall@1, @5, @10 of variant v on all, tuning and held-out questions, then MRR@5 on all
    and held out, as table cells."""
    hits: dict[tuple[str, int], list[bool]] = {}
    ranks: dict[str, list[float]] = {}
    for q, qvec in zip(qs, qvecs):
        as_of = TODAY if scenario == "asked today" else quiz_day(q)
        until = None if scenario == "asked today" else as_of
        group = "tuning" if q["question_id"] in tuning else "held out"
        for k in (1, 5, 10):
            chosen = chosen_passages(replay, v, q["question"], qvec, as_of, until, k)
            found = contains_answer([replay.texts[i] for i in chosen], q["answer_texts"])
            for g in ("all", group):
                hits.setdefault((g, k), []).append(found)
            if k == 5:
                first = next((r for r, i in enumerate(chosen, 1)
                              if contains_answer([replay.texts[i]], q["answer_texts"])), None)
                for g in ("all", group):
                    ranks.setdefault(g, []).append(1 / first if first else 0.0)
    cells = [f"{np.mean(hits[(g, k)]):.3f}" for g in ("all", "tuning", "held out") for k in (1, 5, 10)]
    return cells + [f"{np.mean(ranks[g]):.3f}" for g in ("all", "held out")]


def chosen_passages(replay: Replay, v: Variant, question: str, qvec: np.ndarray, as_of: date,
                    until: date | None, k: int) -> list[int]:
    """The k passages variant v shows, in order."""
    sc = replay.scores(v, question, qvec, as_of, until)
    if not v.newer_order_only:
        return replay.select_passages(sc, k, v.per_article)
    base = replay.scores(replace(v, newer=None), question, qvec, as_of, until)
    return sorted(replay.select_passages(base, k, v.per_article), key=lambda i: sc[i], reverse=True)


def print_changes(replay: Replay, qs: list[dict], qvecs: list[np.ndarray], tuning: set[str]) -> None:
    """The questions whose 5 passages (set or order) the shipped newest-first setting changes,
    asked on the quiz day and asked today: where the first passage with the answer was before
    and after (- for none), and the dates of the passages that came and went."""
    off, on = Variant("off", newer=None), Variant("shipped")
    for scenario in ("asked on the quiz day", "asked today"):
        print(f"\n## {scenario}: questions whose top 5 changed\n")
        print("| question | held out | answer at (before) | (after) | dates left | dates came |")
        print("|---|---|---|---|---|---|")
        for q, qvec in zip(qs, qvecs):
            as_of = TODAY if scenario == "asked today" else quiz_day(q)
            until = None if scenario == "asked today" else as_of
            before, after = (chosen_passages(replay, v, q["question"], qvec, as_of, until, 5) for v in (off, on))
            if before == after:
                continue
            at = [next((str(r) for r, i in enumerate(chosen, 1)
                        if contains_answer([replay.texts[i]], q["answer_texts"])), "-") for chosen in (before, after)]
            left = ", ".join(sorted(str(replay.published[i]) for i in set(before) - set(after)))
            came = ", ".join(sorted(str(replay.published[i]) for i in set(after) - set(before)))
            print(f"| {q['question'][:90]} | {'no' if q['question_id'] in tuning else 'yes'} | "
                  f"{at[0]} | {at[1]} | {left} | {came} |", flush=True)


def main() -> None:
    args = parse_args()
    replay = Replay(args.work, args.vectors)
    if args.embed_alone:
        embed_alone(replay, args.embed_alone)
        return
    records = load_jsonl(require(RTQA) / "corpus.jsonl")
    qs = eval_questions({r["doc_id"] for r in records[:args.articles]})
    tuning = {q["question_id"] for q in eval_questions({r["doc_id"] for r in records[:args.tuned_on]})}
    # One at a time, as `ask` does: the int8 model quantizes activations per batch, so a batch
    # of questions gives slightly different vectors (worth about 2 points of recall@5 here).
    qvecs = [replay.c.embedder.embed([q["question"]])[0] for q in qs]
    if args.changes:
        print_changes(replay, qs, qvecs, tuning)
        if not args.newer:
            return
    variants = newer_grid() if args.newer else variants_to_replay(args.earlier, args.shipped_only)
    for scenario in ("asked on the quiz day",) if args.quiz_day_only else ("asked today", "asked on the quiz day"):
        print(f"\n## {scenario}: {len(qs)} questions, {len(tuning & {q['question_id'] for q in qs})} tuning\n")
        print("| variant | all @1 | @5 | @10 | tuning @1 | @5 | @10 | held out @1 | @5 | @10 | MRR@5 all | held out |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for v in variants:
            cells = variant_row(replay, v, scenario, qs, qvecs, tuning)
            print(f"| {v.name} | " + " | ".join(cells) + " |", flush=True)
            replay.save_tokens()


if __name__ == "__main__":
    main()
