"""Seed-article QA: extractive answers to our own question sets over ../shared/seeds.

tests/data/seed_questions.json is the tuning set (the refusal threshold and the answer-selection
weights were set on it), and so is tests/data/seed_questions_heldout.json (`--first-held-out`: held
out until its failures were studied for issue #19); tests/data/seed_questions_heldout2.json is held
out (`--held-out`, never tuned on).
Prints, per question, the best sentence score (what the refusal threshold is compared with),
whether the answer holds an accepted answer string and cites the right article; then the score
ranges of answerable vs unanswerable questions, and the counts per set and per kind.

    .venv/bin/python benchmarks/seed_qa.py [--held-out | --first-held-out]
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, SEEDS, components, ingest, require  # noqa: E402


def right(item: dict, ans) -> bool:
    """Whether an answer holds an accepted string (for a list: enough groups) and cites a right file."""
    files = {Path(x.path).name for x in ans.citations if x.path}
    text = ans.answer.lower()
    if not ans.answerable or not files & set(item["files"]):
        return False
    if "all_of" in item:
        groups = sum(any(a.lower() in text for a in g) for g in item["all_of"])
        return groups >= item["min_groups"] and len(files & set(item["files"])) >= item.get("min_files", 1)
    return any(a.lower() in text for a in item["answer"])


def answerable(c, items: list[dict]) -> tuple[int, list[float], Counter, Counter]:
    from rag.answer.extractive import ExtractiveAnswerer
    from rag.answer.pipeline import answer_question
    from rag.search.retrieval import retrieve

    ex = ExtractiveAnswerer(c)
    ok, scores, kinds, kinds_ok = 0, [], Counter(), Counter()
    for item in items:
        scored = ex.score(item["q"], retrieve(c, item["q"], 5))
        scores.append(scored[0].score if scored else 0.0)
        ans = answer_question(c, item["q"])
        good = right(item, ans)
        ok += good
        kinds[item.get("kind", "fact")] += 1
        kinds_ok[item.get("kind", "fact")] += good
        print(f"{'OK ' if good else 'BAD'} {scores[-1]:.3f} {item['q']}\n      -> {ans.answer[:150]}")
    return ok, scores, kinds, kinds_ok


def refused(c, questions: list[str], label: str) -> tuple[int, list[float]]:
    from rag.answer.extractive import ExtractiveAnswerer
    from rag.answer.pipeline import answer_question
    from rag.search.retrieval import retrieve

    ex = ExtractiveAnswerer(c)
    n, scores = 0, []
    for q in questions:
        scored = ex.score(q, retrieve(c, q, 5))
        scores.append(scored[0].score if scored else 0.0)
        ans = answer_question(c, q)
        n += not ans.answerable
        print(f"{'REF' if not ans.answerable else 'ANS'} {scores[-1]:.3f} {label}{q}" +
              ("" if not ans.answerable else f"\n      -> {ans.answer[:150]}"))
    return n, scores


def main() -> None:
    held_out = "--held-out" in sys.argv
    name = "seed_questions_heldout2.json" if held_out else \
        "seed_questions_heldout.json" if "--first-held-out" in sys.argv else "seed_questions.json"
    data = json.loads((ROOT / "tests" / "data" / name).read_text())
    c = components()
    ingest(c, [require(SEEDS)])
    ok, pos, kinds, kinds_ok = answerable(c, data["answerable"])
    off, neg = refused(c, data["unanswerable"], "")
    near = data.get("near_miss") or [it["q"] for it in data.get("refuse", [])]
    near_refused, _ = refused(c, near, "near miss: ")
    print(f"\n{name} ({'held out' if held_out else 'tuning'}):")
    print(f"answerable: {ok}/{len(pos)} correct and citing the right article; scores {min(pos):.3f}..{max(pos):.3f}")
    print("  by kind: " + ", ".join(f"{k} {kinds_ok[k]}/{v}" for k, v in sorted(kinds.items())))
    print(f"unanswerable: {off}/{len(neg)} refused; scores {min(neg):.3f}..{max(neg):.3f}")
    print(f"near misses (name things the articles do not say, or names no article holds): "
          f"{near_refused}/{len(near)} refused")


if __name__ == "__main__":
    main()
