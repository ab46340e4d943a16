"""Concurrency with the embedded store, all real processes: while a `newsdesk ingest` runs, a
second ingest waits for the write lock (then lands), and readers — `newsdesk search` in another
process, and the bot's core answering in this one — keep working. Nothing is lost or doubled.
(The same with a Chroma server: test_chroma_server.py.)"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import assert_consistent, make_corpus, run_ingest, write_article

pytestmark = pytest.mark.slow

NEWSDESK = str(Path(sys.executable).with_name("newsdesk"))


def test_second_writer_waits_and_readers_keep_working(tmp_path, settings, embedder, tokenizer):
    from bot.config import BotConfig
    from bot.core import BotCore
    from rag.components import Components

    data = settings.data_dir
    reader = Components(settings, embedder=embedder, tokenizer=tokenizer)
    write_article(tmp_path / "first", "bridge.md", "Ship strikes Harlow Street bridge",
                  "A container ship struck the Harlow Street bridge early on Tuesday. Fourteen people were "
                  "injured, most of them workers on a night maintenance crew.", outlet="Coastal Times",
                  date="2026-03-03")
    run_ingest(reader, [tmp_path / "first"])
    make_corpus(tmp_path / "big", 120, seed=1)
    make_corpus(tmp_path / "more", 8, seed=2)
    log1, log2 = (tmp_path / "ingest1.log").open("w"), (tmp_path / "ingest2.log").open("w")
    first = subprocess.Popen([NEWSDESK, "ingest", str(tmp_path / "big"), "--data-dir", str(data)],
                             stdout=log1, stderr=subprocess.STDOUT)
    time.sleep(1.5)  # let it take the write lock
    second = subprocess.Popen([NEWSDESK, "ingest", str(tmp_path / "more"), "--data-dir", str(data)],
                              stdout=log2, stderr=subprocess.STDOUT)
    core = BotCore(settings, BotConfig(token="x"), lambda s: Components(s, embedder=embedder, tokenizer=tokenizer))
    answers, searches = 0, 0
    while first.poll() is None:
        # The bot answering (this process) and a CLI reader (another process) during the ingest.
        ans = core.ask(None, "How many people were injured?")
        assert ans.answerable and "Fourteen" in ans.answer
        answers += 1
        out = subprocess.run([NEWSDESK, "search", "Harlow Street bridge", "--data-dir", str(data), "--json"],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert "Harlow Street" in out.stdout
        searches += 1
    assert first.wait(timeout=600) == 0 and second.wait(timeout=600) == 0
    log1.close()
    log2.close()
    assert answers >= 2 and searches >= 1, "the ingest finished before the readers could overlap it"
    assert "is writing to this index; waiting" in (tmp_path / "ingest2.log").read_text()
    core.close()
    fresh = Components(settings, embedder=embedder, tokenizer=tokenizer)
    assert fresh.registry.counts()["articles"] == 1 + 120 + 8
    assert_consistent(fresh)
    fresh.close()
    reader.close()
