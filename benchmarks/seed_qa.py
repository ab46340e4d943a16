"""Seed-article QA: extractive answers to our own question set (tests/data/seed_questions.json).

Prints, per question, the best sentence score (what the refusal threshold is compared with),
whether the answer holds an accepted answer string and cites the right article; then the
score ranges of answerable vs unanswerable questions, from which ANSWER_THRESHOLD was set.

    .venv/bin/python benchmarks/seed_qa.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, SEEDS, components, ingest, require  # noqa: E402


def main() -> None:
    from rag.answer.extractive import ExtractiveAnswerer
    from rag.answer.pipeline import answer_question
    from rag.search.retrieval import retrieve

    data = json.loads((ROOT / "tests" / "data" / "seed_questions.json").read_text())
    c = components()
    ingest(c, [require(SEEDS)])
    ex = ExtractiveAnswerer(c)
    ok, pos_scores, neg_scores = 0, [], []
    for item in data["answerable"]:
        passages = retrieve(c, item["q"], 5)
        best = ex.score(item["q"], passages)[0].score
        pos_scores.append(best)
        ans = answer_question(c, item["q"])
        files = {Path(x.path).name for x in ans.citations}
        right = ans.answerable and any(a.lower() in ans.answer.lower() for a in item["answer"]) \
            and bool(files & set(item["files"]))
        ok += right
        print(f"{'OK ' if right else 'BAD'} {best:.3f} {item['q']}\n      -> {ans.answer[:150]}")
    refused = 0
    for q in data["unanswerable"]:
        passages = retrieve(c, q, 5)
        scored = ex.score(q, passages)
        best = scored[0].score if scored else 0.0
        neg_scores.append(best)
        ans = answer_question(c, q)
        refused += not ans.answerable
        print(f"{'REF' if not ans.answerable else 'ANS'} {best:.3f} {q}")
    near_refused = 0
    for q in data["near_miss"]:
        ans = answer_question(c, q)
        near_refused += not ans.answerable
        print(f"{'REF' if not ans.answerable else 'ANS'} near miss: {q}" +
              ("" if not ans.answerable else f"\n      -> {ans.answer[:150]}"))
    print(f"\nanswerable: {ok}/{len(pos_scores)} correct and citing the right article; "
          f"scores {min(pos_scores):.3f}..{max(pos_scores):.3f}")
    print(f"unanswerable: {refused}/{len(neg_scores)} refused; scores {min(neg_scores):.3f}..{max(neg_scores):.3f}")
    print(f"near misses (name things in the articles, ask what they do not say): "
          f"{near_refused}/{len(data['near_miss'])} refused")


if __name__ == "__main__":
    main()
