"""Briefing benchmark: the thresholds of story clustering and opinion detection, and briefing time.

1. Story threshold (rag/stories.py STORY_THRESHOLD), on RealTime QA articles in the index:
   same-story pairs = two articles found for the same quiz question, both published in the 7 days
   before the question and within 3 days of each other; different-story pairs = articles found
   for questions of different weeks. Reports the cosine of article embeddings (mean of passage
   vectors) for both, and the share of each above each threshold.
2. Opinion threshold (OPINION_THRESHOLD), on the whole RealTime QA corpus (text only): articles
   whose URL is under /opinion vs the others.
3. Briefing time over the first N articles (extractive, whole date range, nothing reused).

    .venv/bin/python benchmarks/briefing.py [--articles 400] [--work DIR]
"""

from __future__ import annotations

import argparse
import itertools
import re
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RTQA, SEEDS, components, first_records, ingest, load_jsonl, require  # noqa: E402

THRESHOLDS = (0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8)


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value.replace("/", "-")[:10]) if value else None
    except ValueError:
        return None


def story_pairs(records: dict[str, dict], indexed: set[str]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(same-story pairs, different-story pairs) of indexed doc ids, all published within 3 days
    of each other (a briefing's window): same story = found for the same quiz question;
    different = found only for different questions."""
    questions = load_jsonl(RTQA / "questions.jsonl")
    recent: dict[str, list[str]] = {}
    together: set[tuple[str, str]] = set()
    for q in questions:
        qday = _day(q["question_date"])
        docs = []
        for d in q["retrieved_doc_ids"][:5]:
            pub = _day(records.get(d, {}).get("published_date"))
            if d in indexed and pub and qday and timedelta(0) <= qday - pub <= timedelta(days=7):
                docs.append(d)
        recent[q["question_id"]] = docs
        together.update(tuple(sorted(p)) for p in itertools.combinations(q["retrieved_doc_ids"], 2))

    def close(a: str, b: str) -> bool:
        return abs((_day(records[a]["published_date"]) - _day(records[b]["published_date"])).days) <= 3

    same = {tuple(sorted(p)) for docs in recent.values() for p in itertools.combinations(docs, 2) if close(*p)}
    pool = sorted({d for docs in recent.values() for d in docs})
    different = {tuple(sorted(p)) for p in itertools.combinations(pool, 2)
                 if close(*p) and tuple(sorted(p)) not in together}
    return sorted(same), sorted(different)


def opinion_table() -> None:
    from rag.briefing.opinion import OPINION_THRESHOLD, opinion_score

    rows = [r for r in load_jsonl(RTQA / "corpus.jsonl") if (r.get("text") or "").strip()]
    labels = np.array([bool(re.search(r"/opinions?/", r["url"])) for r in rows])
    scores = np.array([opinion_score(r["text"], r["title"]) for r in rows])
    print(f"\n## Opinion detection ({labels.sum()} RealTime QA articles under /opinion, {(~labels).sum()} others; "
          "text cues only, the URL not used)")
    print("| threshold | precision | recall | flagged |")
    print("|---|---|---|---|")
    for t in (0.2, 0.3, OPINION_THRESHOLD, 0.4, 0.5, 0.7):
        pred = scores >= t
        tp = int((pred & labels).sum())
        mark = " (default)" if t == OPINION_THRESHOLD else ""
        print(f"| {t:.2f}{mark} | {tp / max(1, pred.sum()):.3f} | {tp / labels.sum():.3f} | {pred.sum()} |")
    for path in sorted(require(SEEDS).glob("*.txt")):
        text = path.read_text()
        print(f"- seed {path.name}: opinion score {opinion_score(text, text.splitlines()[0]):.2f}")


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    ap.add_argument("--articles", type=int, default=400)
    ap.add_argument("--work", type=Path, help="keep the index here (benchmarks/retrieval.py's --work works too)")
    ap.add_argument("--skip-timing", action="store_true", help="thresholds only, no briefing time")
    return ap.parse_args()


def story_threshold_table(c, records: dict[str, dict], arts: list, articles: int) -> None:
    """Share of same-story and different-story pairs at or above each threshold, per keyword weight."""
    from rag.briefing.stories import KEYWORD_WEIGHT, STORY_THRESHOLD, StoryConfig, article_vectors, story_similarity

    vecs = article_vectors(c, arts)
    same, different = story_pairs(records, set(vecs))
    ids = sorted({a for pair in same + different for a in pair})
    index = {a: i for i, a in enumerate(ids)}
    texts = {r["doc_id"]: r.get("text") or "" for r in records.values()}
    days = {a: _day(records[a]["published_date"]) for a in ids}
    print(f"\n## Story threshold ({len(same)} same-story and {len(different)} different-story pairs of "
          f"articles published within 3 days of each other, first {articles} articles)")
    print("Similarity = (1 - w) x cosine of article embeddings + w x TF-IDF cosine of their texts. "
          "Share of pairs at or above each threshold (same story: want high; different: want ~0):")
    print("| w | threshold | same-story pairs | different-story pairs |")
    print("|---|---|---|---|")
    for w in (0.0, 0.3, 0.5):
        sim = story_similarity(ids, vecs, days, texts, StoryConfig(keyword_weight=w, day_penalty=0))
        s_same = np.array([sim[index[a], index[b]] for a, b in same])
        s_diff = np.array([sim[index[a], index[b]] for a, b in different])
        for th in THRESHOLDS:
            mark = " (default)" if abs(th - STORY_THRESHOLD) < 1e-9 and w == KEYWORD_WEIGHT else ""
            print(f"| {w} | {th:.2f}{mark} | {np.mean(s_same >= th):.3f} | {np.mean(s_diff >= th):.4f} |")


def seed_stories(embedder) -> None:
    """The stories the seed articles form at the default threshold."""
    from rag.briefing.stories import build_stories

    seeds = components(Path(tempfile.mkdtemp(prefix="newsdesk-seeds-")), embedder=embedder)
    ingest(seeds, [require(SEEDS)])
    seed_recs = seeds.registry.articles(with_text=True)
    seed_days = {r.article_id: date.fromisoformat((r.published or r.ingested_at)[:10]) for r in seed_recs}
    stories = build_stories(seeds, seed_recs, seed_days, {r.article_id: r.text for r in seed_recs})
    groups = [[r.title[:40] for r in seed_recs if r.article_id in s.members] for s in stories]
    print(f"- seed articles at the default threshold: {len(groups)} stories: {groups}")


def briefing_time(c, arts: list) -> None:
    """Time of one extractive briefing over every dated article in the index."""
    from zoneinfo import ZoneInfo

    from rag.briefing.pipeline import compute_briefing
    from rag.search.articles import articles_in_window

    tz = ZoneInfo("UTC")
    days = [date.fromisoformat(a.published) for a in arts if a.published]
    window = articles_in_window(c, min(days), max(days), tz)
    t = time.perf_counter()
    b = compute_briefing(c, min(days), max(days), window, max_stories=10_000)
    seconds = time.perf_counter() - t
    sizes = sorted((len(s.article_ids) for s in b.stories), reverse=True)
    print(f"\n## Briefing time ({len(window)} articles, {min(days)} to {max(days)}, extractive)")
    print(f"- {seconds:.1f} s for {len(b.stories)} stories (largest: {sizes[:5]}; "
          f"{sum(1 for s in sizes if s > 1)} stories with more than one article)")


def main() -> None:
    args = parse_args()
    require(RTQA)
    tmp = args.work or Path(tempfile.mkdtemp(prefix="newsdesk-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    corpus = first_records(args.articles, tmp / f"corpus-{args.articles}.jsonl")
    c = components(tmp / "newsdesk")
    t = time.perf_counter()
    report = ingest(c, [corpus])
    print(f"index: {report.added} added, {report.unchanged} unchanged ({time.perf_counter() - t:.1f} s)")
    records = {r["doc_id"]: r for r in load_jsonl(corpus)}
    arts = [a for a in c.registry.articles() if a.article_id in records]
    story_threshold_table(c, records, arts, args.articles)
    seed_stories(c.embedder)
    opinion_table()
    if not args.skip_timing:
        briefing_time(c, arts)


if __name__ == "__main__":
    main()
