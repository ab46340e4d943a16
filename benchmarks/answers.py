"""Answer benchmark on RealTime QA: does the extractive `ask` answer contain the quiz's answer?

Each question whose answer string is in an indexed article is asked on its quiz day (`as_of` and
`until` = the quiz day, as benchmarks/retrieval.py's "asked on the quiz day"). Reported, on all
questions and on the held-out part (answerable only in articles after the first --tuned-on, the
split of benchmarks/retrieval.py; the answer-selection weights were chosen on the others and on
tests/data/seed_questions.json):
- answer accuracy: the share of extractive answers whose text contains an answer string
  (`contains_answer`), for Newsdesk now, for the extractive answerer before issue #19 (the
  committed rag/answer/extractive.py, run on the same passages), and for the naive extractive
  answer: the two sentences of the naive baseline's top-5 chunks closest to the question by
  embedding cosine (the LangChain-tutorial pipeline of benchmarks/retrieval.py);
- the retrieval's own recall@5 (answer string in the 5 passages the answer is made from), and
  answer accuracy as a share of it; refusals of these answerable questions; warm ask latency;
- paired one-sided sign tests (Newsdesk against naive, and against before).
With --tune, the selection weights are grid-searched on the tuning questions instead.

    .venv/bin/python benchmarks/answers.py --work /tmp/nd-600        # index built by retrieval.py --work
    .venv/bin/python benchmarks/answers.py --work /tmp/nd-600 --tune
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import types
from itertools import product
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, SEEDS, components, ingest, load_jsonl, percentile, require  # noqa: E402
from retrieval import Baseline, contains_answer, eval_questions, quiz_day, sign_test  # noqa: E402

GRID = {"TYPE_WEIGHT": (0.0, 0.1, 0.2, 0.3, 0.4), "NOVELTY_WEIGHT": (0.0, 0.1, 0.2),
        "CONTEXT_WEIGHT": (0.0, 0.1, 0.2), "OVERLAP_WEIGHT": (0.0, 0.2, 0.4), "SECOND_MARGIN": (0.1, 0.2)}


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, required=True,
                    help="a benchmarks/retrieval.py --work folder: corpus.jsonl and the newsdesk index")
    ap.add_argument("--baseline", type=Path, help="where the naive baseline index is kept (default WORK/baseline)")
    ap.add_argument("--tuned-on", type=int, default=800)
    ap.add_argument("--tune", action="store_true", help="grid-search the selection weights on the tuning questions")
    ap.add_argument("--limit", type=int, default=0, help="ask only the first N questions (a quick look)")
    ap.add_argument("--index", type=Path, help="the Newsdesk index to read (default WORK/newsdesk)")
    ap.add_argument("--held-out-only", action="store_true", help="ask only the held-out questions")
    ap.add_argument("--skip-naive", action="store_true", help="no naive baseline (its index takes long to build)")
    return ap.parse_args()


# The last commit before issue #19 changed the extractive answerer (6fd6563 was its first step).
BEFORE_19 = "167e7a0"


def before_answerer():
    """The pre-#19 ExtractiveAnswerer class (at BEFORE_19), loaded from git as a module."""
    src = subprocess.run(["git", "show", f"{BEFORE_19}:rag/answer/extractive.py"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    module = types.ModuleType("extractive_before")
    sys.modules[module.__name__] = module  # dataclasses look their module up there
    exec(compile(src, "extractive_before.py", "exec"), module.__dict__)
    return module.ExtractiveAnswerer


def naive_answer(baseline: Baseline, question: str, chunks: list[str]) -> str:
    """The two sentences of the chunks closest to the question by embedding cosine."""
    from rag.text.sentences import split_sentences

    sentences = [t[s:e] for t in chunks for s, e in split_sentences(t)]
    if not sentences:
        return ""
    vecs = baseline.embedder.embed([question] + sentences)
    sims = vecs[1:] @ vecs[0]
    return " ".join(sentences[i] for i in sorted(range(len(sentences)), key=lambda i: -sims[i])[:2])


def cases(c, questions: list[dict]) -> list[dict]:
    """Per question: its retrieval on the quiz day and the extractive answerer's scoring."""
    from rag.answer.extractive import ExtractiveAnswerer
    from rag.search.filters import SearchFilters
    from rag.search.langchain_retriever import NewsdeskRetriever

    ex = ExtractiveAnswerer(c)
    out = []
    for q in questions:
        day = quiz_day(q) if "question_date" in q else None
        filters = SearchFilters(until=day, as_of=day) if day else None
        passages = NewsdeskRetriever(components=c, k=5, filters=filters).passages(q["question"])
        scored = ex.score(q["question"], passages)
        gate = ex.relevant(q["question"], passages, scored) and not ex.missing(q["question"], passages)
        out.append({"q": q, "filters": filters, "passages": passages, "scored": scored, "gate": gate})
    return out


def selected_text(ex, case: dict) -> str:
    """The extractive answer's text for a prepared case under the current weights."""
    if not case["gate"] or not case["scored"]:
        return ""
    return ex._render(ex.select(case["q"]["question"], case["passages"], case["scored"]), case["passages"]).text


def correct(case: dict, text: str) -> bool:
    q = case["q"]
    if "answer_texts" in q:
        return contains_answer([text], q["answer_texts"])
    return any(a.lower() in text.lower() for a in q["answer"])


def tune(c, seed_c, tuning: list[dict], seed_items: list[dict]) -> None:
    """Grid search of the selection weights on the tuning questions (RealTime QA and seeds)."""
    import pickle

    import rag.answer.extractive as extractive

    cache = Path(c.data_dir).parent / "answers-tune-cases.pkl"  # retrieval and scoring, reused by the next --tune
    if cache.exists():
        prepared = pickle.loads(cache.read_bytes())
    else:
        prepared = cases(c, tuning) + cases(seed_c, [{"question": it["q"], "answer": it["answer"]} for it in seed_items])
        cache.write_bytes(pickle.dumps(prepared))
    ex, seed_ex = extractive.ExtractiveAnswerer(c), extractive.ExtractiveAnswerer(seed_c)
    rows = []
    for values in product(*GRID.values()):
        for name, v in zip(GRID, values):
            setattr(extractive, name, v)
        rt = sum(correct(k, selected_text(ex, k)) for k in prepared[:len(tuning)])
        seed = sum(correct(k, selected_text(seed_ex, k)) for k in prepared[len(tuning):])
        rows.append((rt / max(1, len(tuning)) + seed / max(1, len(seed_items)), rt, seed, values))
    rows.sort(key=lambda r: r[0], reverse=True)
    print(f"## Tuning: {len(tuning)} RealTime QA questions, {len(seed_items)} seed questions; "
          f"weights {', '.join(GRID)}")
    for total, rt, seed, values in rows[:12]:
        print(f"- {values}: RealTime QA {rt}/{len(tuning)}, seeds {seed}/{len(seed_items)} (sum of shares {total:.3f})")


def seed_components(embedder):
    c = components(embedder=embedder)
    ingest(c, [require(SEEDS)])
    return c


def naive_baseline(args: argparse.Namespace, records: list[dict]) -> Baseline:
    """The naive pipeline's index (built on first use, then reused)."""
    from rag.store.embeddings import TorchEmbedder

    baseline = Baseline(TorchEmbedder(), args.baseline or args.work / "baseline")
    if baseline.col.count() == 0:
        t = time.perf_counter()
        n, _ = baseline.ingest(records)
        print(f"- naive baseline index: {n} chunks in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return baseline


def run_questions(c, baseline: Baseline | None, records: list[dict], questions: list[dict]) -> dict[str, dict]:
    """Per question id: recall@5, and whether each answerer's answer holds the answer string
    (refused answers hold nothing); with the ask latency and refusals."""
    from rag.answer.pipeline import answer_question
    from rag.text.dates import parse_date

    published = {r["doc_id"]: parse_date(r.get("published_date") or "") for r in records}
    before = before_answerer()(c)
    out = {}
    for case in cases(c, questions):
        q = case["q"]
        t = time.perf_counter()
        ans = answer_question(c, q["question"], 5, case["filters"])
        seconds = time.perf_counter() - t
        old_text, old_ok, _ = before.answer(q["question"], case["passages"])
        chunks = [text for _, text in baseline.search(q["question"], 5, published, quiz_day(q))] if baseline else []
        out[q["question_id"]] = {
            "recall5": contains_answer([p.text for p in case["passages"]], q["answer_texts"]),
            "newsdesk": ans.answerable and contains_answer([ans.answer], q["answer_texts"]),
            "before": old_ok and contains_answer([old_text], q["answer_texts"]),
            "refused": not ans.answerable, "refused_before": not old_ok, "seconds": seconds,
        }
        if baseline:  # no "naive" key: not run (--skip-naive), and no row is printed for it
            out[q["question_id"]]["naive"] = contains_answer([naive_answer(baseline, q["question"], chunks)],
                                                             q["answer_texts"])
    return out


def print_table(label: str, ids: list[str], res: dict[str, dict]) -> None:
    """Accuracy rows and the paired sign tests over the questions `ids`."""
    n = max(1, len(ids))
    share = {key: sum(res[i].get(key, False) for i in ids) / n for key in ("recall5", "newsdesk", "before", "naive")}
    print(f"\n### {label}: {len(ids)} questions")
    print("| answerer | answer holds the answer string | share of recall@5 | answerable questions refused |")
    print("|---|---|---|---|")
    rows = [("newsdesk", "Newsdesk extractive (now)", "refused"),
            ("before", "Newsdesk extractive before issue #19", "refused_before"),
            ("naive", "naive extractive (top-2 sentences of naive top-5)", None)]
    naive_run = any("naive" in res[i] for i in ids)
    for key, name, refused in rows if naive_run else rows[:2]:
        ref = f"{sum(res[i][refused] for i in ids)}" if refused else "–"
        print(f"| {name} | {share[key]:.3f} | {share[key] / max(share['recall5'], 1e-9):.0%} | {ref} |")
    print(f"| retrieval recall@5 (Newsdesk passages the answer is made from) | {share['recall5']:.3f} | | |")
    for other in ("naive", "before") if naive_run else ("before",):
        wins = sum(1 for i in ids if res[i]["newsdesk"] and not res[i][other])
        losses = sum(1 for i in ids if res[i][other] and not res[i]["newsdesk"])
        print(f"- paired against {other}: {wins} right only now, {losses} only {other}; "
              f"one-sided sign test p = {sign_test(wins, losses):.4g}")


def report(c, args: argparse.Namespace, records: list[dict], questions: list[dict], tuned_ids: set[str]) -> None:
    """The accuracy tables (all, held out) and the latency of the run."""
    baseline = None if args.skip_naive else naive_baseline(args, records)
    res = run_questions(c, baseline, records, questions)
    ids = [q["question_id"] for q in questions]
    held = [i for i in ids if i not in tuned_ids]
    print(f"## Extractive answers on RealTime QA ({len(records)} articles), asked on the quiz day")
    print_table("all questions whose answer string is in an indexed article", ids, res)
    if held:
        print_table(f"held out (answerable only after the first {args.tuned_on} articles; not tuned on)", held, res)
    lat = [r["seconds"] for r in res.values()]
    print(f"\n- warm `ask` (extractive, k=5, this process): p50 {percentile(lat, 50):.2f} s, "
          f"p95 {percentile(lat, 95):.2f} s")


def main() -> None:
    args = parse_args()
    records = load_jsonl(args.work / "corpus.jsonl")
    # Components build their own embedders, as `newsdesk ask` does: an injected embedder would
    # also serve the re-rank's token vectors (one padded fp32 call, ~1.6 s a question here,
    # against ~1.0 s for the int8 model a passage at a time that users get).
    c = components(args.index or args.work / "newsdesk")
    embedder = c.embedder
    questions = eval_questions({r["doc_id"] for r in records})
    tuned_ids = {q["question_id"] for q in eval_questions({r["doc_id"] for r in records[:args.tuned_on]})}
    if args.held_out_only:
        questions = [q for q in questions if q["question_id"] not in tuned_ids]
    if args.limit:
        questions = questions[:args.limit]
    if args.tune:
        seed_items = json.loads((ROOT / "tests" / "data" / "seed_questions.json").read_text())["answerable"]
        tune(c, seed_components(embedder), [q for q in questions if q["question_id"] in tuned_ids], seed_items)
        return
    report(c, args, records, questions, tuned_ids)


if __name__ == "__main__":
    main()
