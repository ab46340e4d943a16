"""Scale benchmark: grow one index to 1k, 10k and 100k passages and measure, at each size, the
ingest rate, hybrid search latency (p50/p95, warm), disk per passage and a search process's memory.

- Up to `--real` passages (default 10k) the index grows by real ingestion of RealTime QA articles
  (the whole pipeline, packaged model included).
- Above that, passages are synthetic: real passage texts with their sentences shuffled, each with
  a vector derived from a real one plus noise (unit length), written through the same registry
  and Chroma calls as ingestion but without the model (embedding 90k passages would take ~40 min
  here and says nothing new about the model's rate). Their write rate is reported separately.

    .venv/bin/python benchmarks/scale.py [--sizes 1000,10000,100000] [--real 10000] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RTQA, Timer, components, ingest, load_jsonl, percentile, require  # noqa: E402

PROBE = """
import json, sys, time
from pathlib import Path
sys.path.insert(0, {bench!r})
from common import components
from rag.search.retrieval import retrieve
c = components(Path({data!r}))
qs = json.loads({queries!r})
retrieve(c, qs[0], 10)
lat = []
for q in qs:
    t = time.perf_counter(); retrieve(c, q, 10); lat.append(time.perf_counter() - t)
# VmHWM, not ru_maxrss: the latter carries over the parent's peak across fork/exec.
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(json.dumps({{"lat": lat, "rss_mb": hwm / 1024}}))
"""


def disk_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def measure(data: Path, queries: list[str]) -> dict:
    """Search latency and peak memory in a fresh process (as a CLI call or the bot would see)."""
    code = PROBE.format(bench=str(Path(__file__).resolve().parent), data=str(data), queries=json.dumps(queries))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=1800)
    if out.returncode:
        raise SystemExit(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def synthetic_fill(c, target: int, rng: random.Random) -> tuple[int, float]:
    """Grow the index to `target` passages with synthetic articles of 10 passages each."""
    from rag.ingest.pipeline import chunk_metadata
    from rag.models import ArticleRecord, Chunk
    from rag.store.registry import chunk_id
    from rag.text.sentences import split_sentences

    rows = c.registry.db.execute("SELECT chunk_id, text FROM chunks").fetchall()
    pool_ids = [r[0] for r in rows]
    pool_text = {r[0]: r[1] for r in rows}
    pool_vec: dict[str, np.ndarray] = {}
    for i in range(0, len(pool_ids), 2000):
        pool_vec.update(c.store.vectors(pool_ids[i:i + 2000]))
    pool_ids = [p for p in pool_ids if p in pool_vec]
    have = c.registry.counts()["chunks"]
    noise = np.random.default_rng(0)
    t0 = time.perf_counter()
    written = 0
    while have < target:
        batch_records, ids, vecs, docs, metas = [], [], [], [], []
        for _ in range(min(100, (target - have + 9) // 10)):
            aid = f"synthetic-{have}"
            chunks, pos, texts = [], 0, []
            for ordinal in range(10):
                src = rng.choice(pool_ids)
                sentences = [pool_text[src][s:e] for s, e in split_sentences(pool_text[src])]
                rng.shuffle(sentences)
                text = " ".join(sentences)
                chunks.append(Chunk(ordinal, pos, pos + len(text), text))
                texts.append(text)
                pos += len(text) + 1
                v = pool_vec[src] + noise.normal(0, 0.02, 384).astype(np.float32)
                vecs.append(v / np.linalg.norm(v))
            day = f"2026-{rng.randint(1, 6):02d}-{rng.randint(1, 28):02d}"
            rec = ArticleRecord(aid, "v1", aid, f"Synthetic article {have}", rng.choice(["cnn.com", "usatoday.com"]),
                                None, None, None, day, "2026-11-21T00:00:00+00:00", "2026-11-21T00:00:00+00:00",
                                10, None, None, " ".join(texts))
            for ch in chunks:
                ids.append(chunk_id(aid, "v1", ch.ord))
                docs.append(ch.text)
                metas.append(chunk_metadata(rec, ch))
            batch_records.append((rec, chunks))
            have += 10
        c.store.upsert(ids, np.stack(vecs), docs, metas)
        with c.registry.transaction():
            for rec, chunks in batch_records:
                c.registry.save_article(rec, chunks)
        written += len(ids)
    return written, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--real", type=int, default=10_000, help="grow by real ingestion up to this many passages")
    ap.add_argument("--work", type=Path)
    ap.add_argument("--queries", type=int, default=100)
    args = ap.parse_args()
    require(RTQA)
    sizes = [int(s) for s in args.sizes.split(",")]
    work = args.work or Path(tempfile.mkdtemp(prefix="newsdesk-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    data = work / "index"
    c = components(data)
    records = [r for r in load_jsonl(RTQA / "corpus.jsonl") if (r.get("text") or "").strip()]
    queries = [q["question"] for q in load_jsonl(RTQA / "questions.jsonl")][:args.queries]
    rng = random.Random(0)
    print(f"embedding backend: {type(c.embedder).__name__}")
    print("| passages | how they were added | ingest rate | search p50 | search p95 | disk per passage | search process RSS |")
    print("|---|---|---|---|---|---|---|")
    next_record = 0
    for size in sizes:
        have = c.registry.counts()["chunks"] if c.registry_exists() else 0
        how, rate = "", ""
        if have < size and have < args.real:
            added_articles, added_chunks, seconds = 0, 0, 0.0
            goal = min(size, args.real)
            while have < goal and next_record < len(records):
                # About 11 passages per article: ingest in steps that land near the goal.
                step = max(1, min(200, (goal - have) // 11 + 1))
                part = work / f"part-{next_record}.jsonl"
                part.write_text("".join(json.dumps(r) + "\n" for r in records[next_record:next_record + step]))
                next_record += step
                with Timer() as t:
                    report = ingest(c, [part])
                seconds += t.seconds
                added_articles += report.added
                added_chunks += report.chunks_embedded
                have = c.registry.counts()["chunks"]
            how = f"real ingest (+{added_articles} articles)"
            rate = f"{added_chunks / seconds:.1f} passages/s, {added_articles / seconds:.2f} articles/s"
        if have < size:
            written, seconds = synthetic_fill(c, size, rng)
            how = (how + " + " if how else "") + f"synthetic (+{written})"
            rate = (rate + "; " if rate else "") + f"synthetic writes {written / seconds:.0f} passages/s"
            have = c.registry.counts()["chunks"]
        m = measure(data, queries)
        disk = disk_bytes(data)
        print(f"| {have:,} | {how or 'already there'} | {rate or '-'} | {percentile(m['lat'], 50) * 1000:.0f} ms | "
              f"{percentile(m['lat'], 95) * 1000:.0f} ms | {disk / have / 1024:.1f} KB | {m['rss_mb']:.0f} MB |",
              flush=True)


if __name__ == "__main__":
    main()
