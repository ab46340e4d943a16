"""Concurrency with the embedded store, all real processes: while a `newsdesk ingest` runs, a
second ingest waits for the write lock (then lands), and readers — `newsdesk search` in another
process, and the bot's core answering in this one — keep working. Nothing is lost or doubled.
Long-running readers (a `Components`, the bot's core, `newsdesk search -`) answer about articles
another process indexed after they started, by dense and keyword search, without errors
(issue #17). (The same with a Chroma server: test_chroma_server.py.)"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from helpers import assert_consistent, make_corpus, run_ingest, write_article

pytestmark = pytest.mark.slow

NEWSDESK = str(Path(sys.executable).with_name("newsdesk"))

BRIDGE = ("Ship strikes Harlow Street bridge",
          "A container ship struck the Harlow Street bridge early on Tuesday. Fourteen people were "
          "injured, most of them workers on a night maintenance crew.")
ERUPTION = ("Zorblax volcano erupts in Quendria",
            "The Zorblax volcano in Quendria erupted on Friday, covering the valley town of Mirelund "
            "in ash. Farmers moved their herds of yaks to the coast.")
FERRY = ("Glimmerfen ferry sinks off Osterby",
         "The Glimmerfen ferry sank off Osterby on Sunday. Fishermen rescued all forty passengers "
         "from the icy water before the coast guard arrived.")


def ingest_elsewhere(folder: Path, data: Path) -> None:
    """`newsdesk ingest` in another process, run to completion."""
    cmd = [sys.executable, "-m", "rag.cli", "ingest", str(folder), "--data-dir", str(data)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


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
    write_article(tmp_path / "more", "eruption.md", ERUPTION[0], ERUPTION[1], outlet="Valley Post",
                  date="2026-03-04")
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
    # The core started before both ingests; it answers about what they indexed.
    ans = core.ask(None, "Which town did the Zorblax volcano cover in ash?")
    assert ans.answerable and "Mirelund" in ans.answer
    core.close()
    fresh = Components(settings, embedder=embedder, tokenizer=tokenizer)
    assert fresh.registry.counts()["articles"] == 1 + 120 + 8 + 1
    assert_consistent(fresh)
    fresh.close()
    reader.close()


def _titles(passages) -> list[str]:
    return [p.title for p in passages]


def test_open_readers_see_what_another_process_indexed(tmp_path, settings, embedder, tokenizer):
    """A Components and a bot core, each opened with one search done, then `newsdesk ingest` in
    another process: both find the new article by dense and by keyword search, and answer."""
    from bot.config import BotConfig
    from bot.core import BotCore
    from rag.answer.pipeline import answer_question
    from rag.components import Components
    from rag.search.retrieval import RetrievalConfig, retrieve

    write_article(tmp_path / "first", "bridge.md", *BRIDGE, outlet="Coastal Times", date="2026-03-03")
    ingest_elsewhere(tmp_path / "first", settings.data_dir)
    reader = Components(settings, embedder=embedder, tokenizer=tokenizer)
    assert _titles(retrieve(reader, "ship struck the bridge", k=1)) == [BRIDGE[0]]
    core = BotCore(settings, BotConfig(token="x"), lambda s: Components(s, embedder=embedder, tokenizer=tokenizer))
    assert "Fourteen" in core.ask(None, "How many people were injured on the bridge?").answer
    seen_at = reader.store.generation

    for folder, (title, body), question, word in (
            ("second", ERUPTION, "Which town did the Zorblax volcano cover in ash?", "Mirelund"),
            ("third", FERRY, "Where did the Glimmerfen ferry sink?", "Osterby")):
        write_article(tmp_path / folder, "new.md", title, body, outlet="Valley Post", date="2026-03-05")
        ingest_elsewhere(tmp_path / folder, settings.data_dir)
        query = " ".join(body.split()[1:8])
        dense = retrieve(reader, query, k=1, config=RetrievalConfig(mode="dense", rerank_depth=0))
        keyword = retrieve(reader, query, k=1, config=RetrievalConfig(mode="keyword", rerank_depth=0))
        assert _titles(dense) == _titles(keyword) == [title]
        assert retrieve(reader, query, k=1)[0].title == title  # hybrid, re-ranked
        assert word in answer_question(reader, question).answer
        ans = core.ask(None, question)
        assert ans.answerable and word in ans.answer and title in [cit.title for cit in ans.citations]
    assert reader.store.generation > seen_at  # the view was reopened, not built anew
    for _ in range(3):  # and stays usable: no "Error finding id" on later searches
        assert _titles(retrieve(reader, "ship struck the bridge", k=1)) == [BRIDGE[0]]
    core.close()
    reader.close()


def test_a_writer_does_not_reopen_its_own_writes(tmp_path, components, monkeypatch):
    """Under the write lock only this process writes: its own ingests never reopen its store,
    while a write by another process does (once)."""
    from rag.search.retrieval import retrieve
    from rag.store.vectorstore import VectorStore

    reopened: list[int | None] = []
    real = VectorStore.reopen

    def counted(self: VectorStore, generation: int | None = None) -> None:
        reopened.append(generation)
        real(self, generation)

    monkeypatch.setattr(VectorStore, "reopen", counted)
    for i, (title, body) in enumerate((BRIDGE, ERUPTION)):
        write_article(tmp_path / f"own{i}", "a.md", title, body)
        run_ingest(components, [tmp_path / f"own{i}"])
        assert _titles(retrieve(components, body, k=1)) == [title]
    assert reopened == []
    write_article(tmp_path / "other", "a.md", *FERRY)
    ingest_elsewhere(tmp_path / "other", components.settings.data_dir)
    assert _titles(retrieve(components, FERRY[1], k=1)) == [FERRY[0]]
    assert _titles(retrieve(components, FERRY[1], k=1)) == [FERRY[0]]
    assert reopened == [components.registry.generation()]


def test_a_search_during_a_write_elsewhere_reopens_and_retries(tmp_path, components):
    """A view that is stale although the generation check passed (another process wrote during
    the search) fails in Chroma; the search reopens it once and succeeds."""
    from rag.search.retrieval import retrieve

    write_article(tmp_path / "a", "a.md", *BRIDGE)
    run_ingest(components, [tmp_path / "a"])
    assert _titles(retrieve(components, BRIDGE[1], k=1)) == [BRIDGE[0]]
    write_article(tmp_path / "b", "b.md", *ERUPTION)
    ingest_elsewhere(tmp_path / "b", components.settings.data_dir)
    components.store.generation = components.registry.generation()  # as if checked just before it
    assert _titles(retrieve(components, ERUPTION[1], k=1)) == [ERUPTION[0]]


class LineReader:
    """The stdout lines of a process, read in a thread, so a test can wait for one with a timeout."""

    def __init__(self, stream):
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream) -> None:
        for line in stream:
            self.lines.put(line)

    def next(self, timeout: float = 120) -> str:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no output line within {timeout:g} s", pytrace=False)


def test_search_from_stdin_answers_each_line_and_sees_new_articles(tmp_path, settings, components):
    """`newsdesk search - --json`, started before anything is indexed, answers each line while
    stdin stays open, one JSON object per line, and finds what this (other) process indexes."""
    cmd = [sys.executable, "-m", "rag.cli", "search", "-", "--json", "--k", "1",
           "--data-dir", str(settings.data_dir)]
    log = (tmp_path / "search.log").open("w")
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                            text=True, bufsize=1)
    out = LineReader(proc.stdout)
    try:
        asked = [("ship struck the Harlow Street bridge", None, None),
                 ("ship struck the Harlow Street bridge", "first", BRIDGE),
                 ("volcano covered the valley town of Mirelund in ash", "second", ERUPTION)]
        for query, folder, article in asked:
            if article:
                write_article(tmp_path / folder, "a.md", *article)
                run_ingest(components, [tmp_path / folder])
            proc.stdin.write(query + "\n\n")  # a blank line is skipped
            proc.stdin.flush()
            got = json.loads(out.next())
            assert got["query"] == query
            assert [r["title"] for r in got["results"]] == ([article[0]] if article else [])
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0, (tmp_path / "search.log").read_text()
        assert out.lines.empty()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
