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


# Runs `newsdesk remove` in a real process that SIGKILLs itself right after the delete is
# committed: at the first vector-store call made once the article is gone from the registry.
_REMOVE_KILLED_AFTER_DELETE = """
import os, signal, sys
from rag.store.registry import Registry
from rag.store.vectorstore import VectorStore

real_delete = Registry.delete_article
def delete_then_arm(self, article_id):
    real_delete(self, article_id)
    VectorStore.delete_other_versions = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
Registry.delete_article = delete_then_arm
from rag.cli import main
main(sys.argv[1:])
"""

_BODY = ("The harbour authority approved a plan on Monday to dredge the eastern channel so that "
         "larger container ships can dock. The work will cost 18 million euros and start in March. "
         "Fishermen said they worry about the effect on the mussel beds near the breakwater.")


@pytest.mark.slow
def test_sigkill_during_remove_keeps_the_duplicate(tmp_path, settings, embedder, tokenizer):
    """A `remove` killed after its delete commits, before the duplicate is indexed in the
    original's place: the duplicate is queued in that same transaction, and the next ingest (of
    anything) indexes it; re-ingesting it is then truly `unchanged`."""
    from helpers import run_ingest, write_article

    from rag.components import Components

    data = settings.data_dir
    a = write_article(tmp_path / "a", "a.md", "Harbour dredging approved", _BODY)
    b = write_article(tmp_path / "b", "b.md", "Harbour dredging approved", _BODY)
    c = Components(settings, embedder=embedder, tokenizer=tokenizer)
    try:
        report = run_ingest(c, [a, b])
        orig_id, dup_id = report.articles[0]["article_id"], report.articles[1]["article_id"]
        assert c.registry.get(dup_id).duplicate_of == orig_id
    finally:
        c.close()
    env = {**os.environ, "NEWSDESK_LOG_LEVEL": "ERROR"}
    proc = subprocess.run([sys.executable, "-c", _REMOVE_KILLED_AFTER_DELETE, "remove", orig_id,
                           "--data-dir", str(data)], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr

    c = Components(settings, embedder=embedder, tokenizer=tokenizer)
    try:
        assert c.registry.get(orig_id) is None  # the delete was committed
        assert c.registry.rechecks() == [dup_id]  # and the duplicate's re-check with it
        again = run_ingest(c, [b])
        assert again.unchanged == 1 and again.failed == []
        copy = c.registry.get(dup_id)
        assert copy.duplicate_of is None and copy.chunks > 0
        assert c.registry.rechecks() == []
        assert_consistent(c)
    finally:
        c.close()
