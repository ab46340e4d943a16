"""Where ingest time goes: cProfile over a real ingest of the first N RealTime QA articles,
grouped by stage (embedding, chunking and tokenizing, near-duplicate detection, Chroma writes,
SQLite writes, loading).

    .venv/bin/python benchmarks/profile_ingest.py [--articles 200]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Timer, components, first_records, ingest  # noqa: E402

# (stage, substrings of "file:function" that belong to it), first match wins
STAGES = [
    ("embedding (model)", ("embeddings.py:embed",)),
    ("chunking + token counting", ("chunking.py", "embeddings.py:count")),
    ("near-duplicate check (MinHash)", ("dedup.py",)),
    ("Chroma writes", ("vectorstore.py:upsert", "vectorstore.py:delete_other_versions")),
    ("SQLite registry + FTS5", ("registry.py",)),
    ("loading + parsing", ("loaders.py",)),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--articles", type=int, default=200)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="newsdesk-profile-"))
    corpus = first_records(args.articles, work / "corpus.jsonl")
    c = components(work / "index")
    c.embedder.embed(["warm up"])
    c.tokenizer.count(["warm up"])
    profiler = cProfile.Profile()
    with Timer() as t:
        profiler.enable()
        report = ingest(c, [corpus])
        profiler.disable()
    stats = pstats.Stats(profiler)
    # cumulative time of the outermost call of each stage (nested calls are not counted twice)
    totals = dict.fromkeys([name for name, _ in STAGES], 0.0)
    for (filename, _, func), (_, _, _, cumulative, _) in stats.stats.items():
        key = f"{Path(filename).name}:{func}"
        for name, needles in STAGES:
            if any(n in key for n in needles):
                totals[name] = max(totals[name], cumulative)
                break
    print(f"Ingest of {report.added} articles, {report.chunks_embedded} passages: {t.seconds:.1f} s under the "
          f"profiler ({type(c.embedder).__name__})")
    print("| stage | seconds | share |")
    print("|---|---|---|")
    for name, seconds in totals.items():
        print(f"| {name} | {seconds:.1f} | {seconds / t.seconds:.0%} |")
    rest = t.seconds - sum(totals.values())
    print(f"| everything else | {rest:.1f} | {rest / t.seconds:.0%} |")


if __name__ == "__main__":
    main()
