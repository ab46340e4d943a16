"""Newsdesk against a real `chroma run` server on 127.0.0.1 (NEWSDESK_CHROMA_HOST set):
ingest, search and ask go to the server and no embedded store is written."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from helpers import assert_consistent, free_port, run_ingest, start_server, stop_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    exe = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    if not Path(exe).exists():
        pytest.skip("the `chroma` command (shipped with chromadb) is not installed")
    port = free_port()
    root = tmp_path_factory.mktemp("chroma-server")
    proc = start_server([exe, "run", "--path", str(root / "db"), "--host", "127.0.0.1", "--port", str(port)],
                        f"http://127.0.0.1:{port}/api/v2/heartbeat", root / "server.log", timeout=60)
    yield port
    stop_server(proc)


def test_ingest_search_ask_through_the_server(chroma_server, tmp_path, embedder, tokenizer, seeds):
    from rag.answer import answer_question
    from rag.components import Components
    from rag.retrieval import search
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
