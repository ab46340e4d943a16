"""Newsdesk against a real `chroma run` server on 127.0.0.1 (NEWSDESK_CHROMA_HOST set):
ingest, search and ask go to the server and no embedded store is written."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from helpers import assert_consistent, free_port, run_ingest, start_server, watched

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chroma_process(tmp_path_factory):
    exe = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    if not Path(exe).exists():
        pytest.skip("the `chroma` command (shipped with chromadb) is not installed")
    port = free_port()
    root = tmp_path_factory.mktemp("chroma-server")
    server = start_server([exe, "run", "--path", str(root / "db"), "--host", "127.0.0.1", "--port", str(port)],
                          f"http://127.0.0.1:{port}/api/v2/heartbeat", root / "server.log", port,
                          timeout=60)
    yield server
    server.stop()


@pytest.fixture
def chroma_server(chroma_process):
    """The server's port; the process is checked alive before and after each test."""
    for server in watched(chroma_process):
        yield server.port


def test_ingest_search_ask_through_the_server(chroma_server, tmp_path, embedder, tokenizer, seeds):
    from rag.answer.pipeline import answer_question
    from rag.components import Components
    from rag.search.retrieval import search
    from rag.settings import Settings

    data = tmp_path / "data"
    settings = Settings(_env_file=None, data_dir=data, chroma_host="127.0.0.1", chroma_port=chroma_server,
                        collection="server-test")
    c = Components(settings, embedder=embedder, tokenizer=tokenizer)
    report = run_ingest(c, [seeds])
    assert report.added == 5
    assert not (data / "chroma").exists()  # nothing embedded was written
    assert_consistent(c)
    assert "Vostochny" in " ".join(p.text for p in search(c, "Vostochny Cosmodrome meeting", k=3))
    ans = answer_question(c, "How many Iranian drones did Russia launch in 2024?")
    assert ans.answerable and "2,270" in ans.answer
    assert run_ingest(c, [seeds]).unchanged == 5
    c.close()


def test_two_ingests_at_once_both_land_and_everything_uses_the_server(chroma_server, tmp_path, embedder,
                                                                      tokenizer, seeds):
    """Two real `newsdesk ingest` processes into one server collection at the same time, while
    the bot's core answers; then briefing and summaries, all through the server."""
    import os
    import subprocess
    from datetime import date

    from helpers import make_corpus

    from bot.config import BotConfig
    from bot.core import BotCore
    from rag.components import Components
    from rag.settings import Settings

    data = tmp_path / "data"
    env = {**os.environ, "NEWSDESK_CHROMA_HOST": "127.0.0.1", "NEWSDESK_CHROMA_PORT": str(chroma_server),
           "NEWSDESK_COLLECTION": "concurrent"}
    settings = Settings(_env_file=None, data_dir=data, chroma_host="127.0.0.1", chroma_port=chroma_server,
                        collection="concurrent")
    c = Components(settings, embedder=embedder, tokenizer=tokenizer)
    run_ingest(c, [seeds])
    make_corpus(tmp_path / "a", 40, seed=3)
    make_corpus(tmp_path / "b", 40, seed=4)
    newsdesk = str(Path(sys.executable).with_name("newsdesk"))
    procs = [subprocess.Popen([newsdesk, "ingest", str(tmp_path / name), "--data-dir", str(data)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for name in ("a", "b")]
    core = BotCore(settings, BotConfig(token="x"), lambda s: Components(s, embedder=embedder, tokenizer=tokenizer))
    while any(p.poll() is None for p in procs):
        ans = core.ask(None, "How many Iranian drones did Russia launch in 2024?")
        assert ans.answerable and "2,270" in ans.answer
    assert [p.wait(timeout=600) for p in procs] == [0, 0]
    fresh = Components(settings, embedder=embedder, tokenizer=tokenizer)
    assert fresh.registry.counts()["articles"] == 5 + 40 + 40
    assert_consistent(fresh)
    from rag.briefing.pipeline import make_briefing

    b = make_briefing(fresh, date(2000, 1, 1), date.today(), max_stories=1000)
    assert sum(len(s.article_ids) for s in b.stories) == 85 and all(s.citations for s in b.stories)
    assert core.summarize(None, "Iran drones for Russia").citations
    assert not (data / "chroma").exists()  # nothing embedded was written, by any process
    core.close()
    fresh.close()
    c.close()
