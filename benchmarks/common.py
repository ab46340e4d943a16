"""Helpers shared by the benchmark scripts (run them with the project's .venv)."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SEEDS = SHARED / "seeds"
RTQA = SHARED / "eval" / "realtimeqa"


def require(path: Path) -> Path:
    """Exit with a clear message when the shared data is absent."""
    if not path.exists():
        raise SystemExit(f"{path} not found: the benchmarks need ../shared beside the project")
    return path


def components(data_dir: Path | None = None, embedder=None, **overrides):
    """Components over a fresh (or given) data dir."""
    from rag.components import Components
    from rag.settings import Settings

    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="newsdesk-bench-"))
    return Components(Settings(_env_file=None, data_dir=data_dir, **overrides), embedder=embedder)


def ingest(c, inputs) -> object:
    """Ingest under the write lock; returns the IngestReport."""
    from rag.ingest.pipeline import Ingestor

    with c.writing():
        return Ingestor(c).ingest([str(i) for i in inputs])


def first_records(n: int, out: Path) -> Path:
    """The first n records of RealTime QA's corpus as a JSONL file."""
    with (require(RTQA) / "corpus.jsonl").open() as src, out.open("w") as dst:
        for i, line in enumerate(src):
            if i >= n:
                break
            dst.write(line)
    return out


def load_jsonl(path: Path) -> list[dict]:
    with path.open() as fh:
        return [json.loads(line) for line in fh if line.strip()]


class Timer:
    def __enter__(self):
        self.t = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    i = min(len(values) - 1, max(0, round(q / 100 * (len(values) - 1))))
    return values[i]
