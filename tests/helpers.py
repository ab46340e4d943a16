"""Helpers shared by tests (import as `from helpers import ...`)."""

from __future__ import annotations

from pathlib import Path


def run_ingest(components, inputs):
    """Ingest under the write lock, as the CLI does."""
    from rag.ingest import Ingestor

    with components.writing():
        return Ingestor(components).ingest([str(i) for i in inputs])


def write_article(folder: Path, name: str, title: str, body: str, **meta: str) -> Path:
    """A Markdown article with front matter, written for a test."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["---", f"title: {title!r}"] + [f"{k}: {v}" for k, v in meta.items()] + ["---", "", body, ""]
    path = folder / name
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def assert_consistent(components) -> None:
    """Registry, keyword index and vectors agree; no chunk indexed twice; nothing journaled."""
    reg, store = components.registry, components.store
    assert reg.journal() == []
    chunk_ids = reg.chunk_ids()
    assert store.ids() == chunk_ids
    assert reg.fts_consistent()
    counts = reg.counts()
    per_article = sum(r.chunks for r in reg.articles() if r.duplicate_of is None)
    assert counts["chunks"] == per_article == len(chunk_ids)


def assert_cited(components, text: str, citations: list[dict]) -> None:
    """DESIGN.md's citation contract: every [n] in `text` has a citation with that n, numbered
    1..m in order, and every quote is verbatim in its article."""
    import re

    markers = {int(n) for n in re.findall(r"\[(\d+)\]", text)}
    assert markers == {cit["n"] for cit in citations}
    assert [cit["n"] for cit in citations] == list(range(1, len(citations) + 1))
    for cit in citations:
        assert cit["quote"] in components.registry.get(cit["article_id"], with_text=True).text


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(cmd: list[str], ready_url: str, log_path: Path, timeout: float = 120.0):
    """Start a real server process, logging to a file (not a pipe, which fills and blocks), and
    wait until `ready_url` answers 200. Returns the process; fails the test if it never does."""
    import subprocess
    import time

    import httpx
    import pytest

    log = log_path.open("w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.close()
            pytest.fail(f"{cmd[0]} exited: " + log_path.read_text()[-2000:])
        try:
            if httpx.get(ready_url, timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    log.close()
    pytest.fail(f"{' '.join(cmd[:3])} did not answer {ready_url} within {timeout:g} s")


def stop_server(proc) -> None:
    """Terminate a server started by start_server, if it still runs."""
    if proc.poll() is None:
        proc.terminate()
        proc.wait(timeout=30)


WORDS = (
    "harbour council budget minister river school strike vote court bridge tariff drought museum "
    "election airport vaccine festival border refinery railway startup orchestra glacier wildfire "
    "protest satellite harvest treaty factory lawsuit stadium reservoir subway hospital senate union "
    "ferry copper lithium census embassy pension tunnel forest summit festival ceasefire reactor"
).split()


def make_corpus(folder: Path, n: int, seed: int = 7) -> None:
    """n synthetic articles of ~18 sentences each (no shared data needed)."""
    import random

    rng = random.Random(seed)
    folder.mkdir(parents=True)
    for i in range(n):
        sentences = []
        for _ in range(18):
            words = rng.sample(WORDS, 9)
            sentences.append(" ".join(words).capitalize() + f" in district {rng.randint(1, 999)}.")
        (folder / f"story-{seed}-{i:03d}.txt").write_text(f"Report number {seed}-{i}\n\n" + " ".join(sentences) + "\n")
