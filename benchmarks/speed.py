"""Speed on this machine (issue #20): which CPU, every embedding backend's bare rate, the one
calibration chose, ingest end to end against the naive peer in the same run, warm search and
cold `ask`.

    .venv/bin/python benchmarks/speed.py [--articles 400] [--texts 320] [--search-index DIR]

- Bare rates: the same `--texts` RealTime QA passages of 1,000 characters, batch 16, after one
  warm-up batch; cosine to torch fp32 per text (min shown).
- Ingest: the first `--articles` RealTime QA articles, Newsdesk with its default settings (the
  calibrated bulk backend, fp32 vectors) against the naive LangChain-tutorial peer of
  benchmarks/retrieval.py (torch, 1,000/200-character chunks, dense only), one after the other.
- Search: warm `retrieve` p50/p95 over the RealTime QA questions on the index just built, or on
  `--search-index` (a data dir; e.g. the whole corpus, as `benchmarks/retrieval.py --work DIR`
  leaves it in DIR/newsdesk); re-ranking on (the default).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RTQA, SEEDS, Timer, components, first_records, ingest, load_jsonl, percentile, require  # noqa: E402

# CPU flags that decide which backend is fast (shown when present).
FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16")


def passage_texts(n: int) -> list[str]:
    """`n` pieces of 1,000 characters from the start of RealTime QA's articles."""
    texts: list[str] = []
    for rec in load_jsonl(require(RTQA) / "corpus.jsonl"):
        body = rec.get("text") or ""
        texts += [body[i:i + 1000] for i in range(0, len(body) - 1000, 1000)][:3]
        if len(texts) >= n:
            break
    return texts[:n]


def print_machine() -> None:
    from rag.store.calibration import cpu_description

    name, flags = cpu_description()
    have = [f for f in FLAGS if f in flags]
    print(f"## Machine\n- CPU: {name}, {os.cpu_count()} cores; flags: {' '.join(have) or 'none of ' + ', '.join(FLAGS)}")


def bare_rates(texts: list[str]) -> dict[str, float]:
    """Each backend's texts/s on `texts` and its min cosine to torch fp32."""
    from rag.store.calibration import measure
    from rag.store.embeddings import TorchEmbedder, onnx_embedder

    backends = {"torch (fp32)": TorchEmbedder(batch_size=16),
                "onnx-fp32": onnx_embedder("fp32"), "onnx-int8": onnx_embedder("int8")}
    reference = backends["torch (fp32)"].embed(texts)
    rates = {}
    print(f"\n## Bare rates ({len(texts)} RealTime QA texts of 1,000 characters, batch 16)")
    print("| backend | texts/s | min cosine to torch fp32 |\n|---|---|---|")
    for name, emb in backends.items():
        rates[name] = measure(emb.embed, texts, 16)
        cos = float((emb.embed(texts) * reference).sum(axis=1).min())
        print(f"| {name} | {rates[name]:.1f} | {cos:.4f} |")
    return rates


def ingest_against_peer(articles: int, tmp: Path) -> tuple[object, float, int]:
    """Newsdesk (defaults, calibrated) and the naive peer on the same articles, one after the other."""
    from retrieval import Baseline

    from rag.store.embeddings import TorchEmbedder

    corpus = first_records(articles, tmp / "corpus.jsonl")
    c = components(tmp / "newsdesk")
    c.embedder.embed(["warm up"])
    with Timer() as t_calib:
        bulk = c.bulk_embedder  # the calibration, if this CPU was never measured
    calibration = c.calibration()
    print(f"\n## Calibration\n- {calibration.describe() if calibration else getattr(bulk, 'backend', bulk.name)}"
          f" ({t_calib.seconds:.1f} s now)")
    with Timer() as t_ours:
        report = ingest(c, [corpus])
    peer = Baseline(TorchEmbedder(), tmp / "peer")
    with Timer() as t_peer:
        n_peer, _ = peer.ingest(load_jsonl(corpus))
    ours_chunks = report.chunks_embedded  # type: ignore[attr-defined]
    print(f"\n## Ingest ({articles} RealTime QA articles, the same run)")
    print(f"- Newsdesk: {ours_chunks} passages in {t_ours.seconds:.1f} s ({ours_chunks / t_ours.seconds:.1f} passages/s, "
          f"embedding {report.embed_seconds:.1f} s)")  # type: ignore[attr-defined]
    print(f"- naive peer: {n_peer} chunks in {t_peer.seconds:.1f} s")
    print(f"- Newsdesk is {t_peer.seconds / t_ours.seconds:.2f}x the naive peer's speed")
    rows = [r[0] for r in c.registry.db.execute("SELECT text FROM chunks").fetchall()]
    return c, t_ours.seconds, len(rows)


def end_to_end_against_bare(c, seconds: float, rates: dict[str, float]) -> None:
    """Newsdesk's end-to-end passage rate against the fastest bare backend on its own passages."""
    from rag.store.calibration import measure

    rows = [r[0] for r in c.registry.db.execute("SELECT text FROM chunks").fetchall()]
    sample = rows[:320]
    fastest = max(rates, key=lambda k: rates[k] if k != "onnx-int8" else -1)  # fp32 backends only
    bulk_rate = measure(c.bulk_embedder.embed, sample, 16)
    e2e = len(rows) / seconds
    print(f"- end to end {e2e:.1f} passages/s; the bulk backend alone on these passages {bulk_rate:.1f}/s "
          f"({e2e / bulk_rate:.0%} of it; fastest fp32 backend on the 1,000-character texts: {fastest})")


def search_latency(data_dir: Path, questions: list[str]) -> None:
    """Warm `retrieve` latency, re-ranking on."""
    from rag.search.retrieval import RetrievalConfig, retrieve

    c = components(data_dir)
    retrieve(c, "warm up", 5, None, RetrievalConfig())
    lat = []
    for q in questions:
        t = time.perf_counter()
        retrieve(c, q, 5, None, RetrievalConfig())
        lat.append(time.perf_counter() - t)
    counts = c.registry.counts()
    kept = c.registry.token_count(c.registry.embedding_space() or "")
    print(f"\n## Search ({counts['articles']} articles, {len(questions)} questions, re-ranking on; token vectors "
          f"kept for {kept:,} of {counts['chunks']:,} passages)")
    print(f"- warm search p50 {percentile(lat, 50) * 1000:.0f} ms, p95 {percentile(lat, 95) * 1000:.0f} ms")
    c.close()


def cold_ask(tmp: Path) -> None:
    from retrieval import cold_ask_seconds

    seeds = tmp / "seeds"
    ingest(components(seeds), [require(SEEDS)])
    times = [cold_ask_seconds(seeds) for _ in range(3)]
    print(f"- cold `newsdesk ask` on the seed index: {min(times):.2f} s best of 3 ({', '.join(f'{t:.2f}' for t in times)})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=400)
    ap.add_argument("--texts", type=int, default=320)
    ap.add_argument("--search-index", type=Path, help="a data dir to time search on (default: the one built)")
    ap.add_argument("--skip-ingest", action="store_true", help="bare rates, search and cold ask only")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="newsdesk-speed-"))
    print_machine()
    rates = bare_rates(passage_texts(args.texts))
    if not args.skip_ingest:
        c, seconds, _ = ingest_against_peer(args.articles, tmp)
        end_to_end_against_bare(c, seconds, rates)
        c.close()
    questions = [q["question"] for q in load_jsonl(RTQA / "questions.jsonl")][:200]
    search_latency(args.search_index or tmp / "newsdesk", questions)
    cold_ask(tmp)
    print(json.dumps({"rates": {k: round(v, 2) for k, v in rates.items()}}))


if __name__ == "__main__":
    main()
