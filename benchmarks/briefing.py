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
import random
import re
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RTQA, SEEDS, components, first_records, ingest, load_jsonl, require  # noqa: E402

THRESHOLDS = (0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value.replace("/", "-")[:10]) if value else None
    except ValueError:
        return None


def story_pairs(records: dict[str, dict], indexed: set[str]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(same-story pairs, different-story pairs) of indexed doc ids."""
    questions = load_jsonl(RTQA / "questions.jsonl")
    recent: dict[str, list[str]] = {}
    week: dict[str, str] = {}
    for q in questions:
        qday = _day(q["question_date"])
        docs = []
        for d in q["retrieved_doc_ids"][:5]:
            pub = _day(records.get(d, {}).get("published_date"))
            if d in indexed and pub and qday and timedelta(0) <= qday - pub <= timedelta(days=7):
                docs.append(d)
        recent[q["question_id"]] = docs
        week[q["question_id"]] = q["question_id"].split("_")[0]
    same = set()
    for docs in recent.values():
        for a, b in itertools.combinations(docs, 2):
            if abs((_day(records[a]["published_date"]) - _day(records[b]["published_date"])).days) <= 3:
                same.add(tuple(sorted((a, b))))
    rng = random.Random(0)
    qids = [q for q, d in recent.items() if d]
    different = set()
    for _ in range(20000):
        q1, q2 = rng.sample(qids, 2)
        if week[q1] == week[q2]:
            continue
        a, b = rng.choice(recent[q1]), rng.choice(recent[q2])
        if a != b:
            different.add(tuple(sorted((a, b))))
    return sorted(same), sorted(different - same)


def opinion_table() -> None:
    from rag.stories import OPINION_THRESHOLD, opinion_score

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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--articles", type=int, default=400)
    ap.add_argument("--work", type=Path, help="keep the index here (benchmarks/retrieval.py's --work works too)")
    args = ap.parse_args()
    require(RTQA)
    from zoneinfo import ZoneInfo

    from rag.articles import articles_in_window
    from rag.briefing import compute_briefing
    from rag.stories import STORY_THRESHOLD, article_vectors, build_stories

    tmp = args.work or Path(tempfile.mkdtemp(prefix="newsdesk-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    corpus = first_records(args.articles, tmp / f"corpus-{args.articles}.jsonl")
    c = components(tmp / "newsdesk")
    t = time.perf_counter()
    report = ingest(c, [corpus])
    print(f"index: {report.added} added, {report.unchanged} unchanged ({time.perf_counter() - t:.1f} s)")
    records = {r["doc_id"]: r for r in load_jsonl(corpus)}
    arts = [a for a in c.registry.articles() if a.article_id in records]
    vecs = article_vectors(c, arts)
    same, different = story_pairs(records, set(vecs))
    cos_same = np.array([float(vecs[a] @ vecs[b]) for a, b in same])
    cos_diff = np.array([float(vecs[a] @ vecs[b]) for a, b in different])
    print(f"\n## Story threshold: cosine of article embeddings ({len(same)} same-story pairs, "
          f"{len(different)} different-story pairs, first {args.articles} articles)")
    print(f"- same story: p10 {np.percentile(cos_same, 10):.2f}, median {np.median(cos_same):.2f}; "
          f"different stories: median {np.median(cos_diff):.2f}, p99 {np.percentile(cos_diff, 99):.2f}, "
          f"max {cos_diff.max():.2f}")
    print("| threshold | same-story pairs above | different-story pairs above |")
    print("|---|---|---|")
    for th in THRESHOLDS:
        mark = " (default)" if abs(th - STORY_THRESHOLD) < 1e-9 else ""
        print(f"| {th:.2f}{mark} | {np.mean(cos_same >= th):.3f} | {np.mean(cos_diff >= th):.4f} |")

    seeds = components(Path(tempfile.mkdtemp(prefix="newsdesk-seeds-")), embedder=c.embedder)
    ingest(seeds, [require(SEEDS)])
    seed_recs = seeds.registry.articles()
    groups = [[r.title[:50] for r in seed_recs if r.article_id in s.members] for s in build_stories(seeds, seed_recs)]
    print(f"- seed articles at the default threshold: {len(groups)} stories: {groups}")

    opinion_table()

    tz = ZoneInfo("UTC")
    days = [date.fromisoformat(a.published) for a in arts if a.published]
    window = articles_in_window(c, min(days), max(days), tz)
    t = time.perf_counter()
    b = compute_briefing(c, min(days), max(days), window, max_stories=10_000)
    seconds = time.perf_counter() - t
    sizes = sorted((len(s["article_ids"]) for s in b.stories), reverse=True)
    print(f"\n## Briefing time ({len(window)} articles, {min(days)} to {max(days)}, extractive)")
    print(f"- {seconds:.1f} s for {len(b.stories)} stories (largest: {sizes[:5]}; "
          f"{sum(1 for s in sizes if s > 1)} stories with more than one article)")


if __name__ == "__main__":
    main()
