"""Kill a real `newsdesk ingest` process with SIGKILL at several points, then re-run:
every article must end up indexed exactly once, with keyword index and vectors in agreement."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import assert_consistent, make_corpus


def committed_articles(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
            return con.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_sigkill_mid_ingest_then_rerun_is_consistent(tmp_path, settings, embedder, tokenizer):
    from rag.components import Components

    corpus = tmp_path / "corpus"
    n = 40
    make_corpus(corpus, n)
    data = settings.data_dir
    db = data / "registry" / "news.sqlite3"
    env = {**os.environ, "NEWSDESK_INGEST_BATCH_CHUNKS": "6", "NEWSDESK_LOG_LEVEL": "ERROR"}
    cmd = [sys.executable, "-m", "rag.cli", "ingest", str(corpus), "--data-dir", str(data), "--json"]
    kills = 0
    for wait_for in (1, 12, 25):  # kill after this many articles were committed (or earlier)
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while proc.poll() is None and committed_articles(db) < wait_for and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(random.Random(wait_for).uniform(0.0, 0.3))  # land somewhere inside a batch
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    assert kills >= 2, "the ingest finished before it could be killed; make the corpus larger"

    final = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr

    c = Components(settings.model_copy(update={"data_dir": data}), embedder=embedder, tokenizer=tokenizer)
    try:
        counts = c.registry.counts()
        assert counts["articles"] == n and counts["duplicates"] == 0
        assert_consistent(c)
        # Every article is findable by its own unique heading, exactly once.
        titles = [r.title for r in c.registry.articles()]
        assert sorted(titles) == sorted(f"Report number 7-{i}" for i in range(n))
    finally:
        c.close()
