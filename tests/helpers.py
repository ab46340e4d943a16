"""Helpers shared by tests (import as `from helpers import ...`)."""

from __future__ import annotations

from pathlib import Path


def run_ingest(components, inputs):
    """Ingest under the write lock, as the CLI does."""
    from rag.ingest.pipeline import Ingestor

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
    kept = {r[0] for r in reg.db.execute("SELECT chunk_id FROM chunk_tokens")}
    assert kept <= chunk_ids  # no token vectors outlive their passage
    counts = reg.counts()
    per_article = sum(r.chunks for r in reg.articles() if r.duplicate_of is None)
    assert counts["chunks"] == per_article == len(chunk_ids)


def assert_cited(components, text: str, citations) -> None:
    """The citation contract of docs/contract.md: every [n] in `text` has a citation with that n,
    numbered 1..m in order, and every quote is verbatim in its article."""
    import re

    markers = {int(n) for n in re.findall(r"\[(\d+)\]", text)}
    assert markers == {cit.n for cit in citations}
    assert [cit.n for cit in citations] == list(range(1, len(citations) + 1))
    for cit in citations:
        assert cit.quote in components.registry.get(cit.article_id, with_text=True).text


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """A real server process started for tests, logging to a file (not a pipe, which fills and
    blocks). `assert_alive()` fails the test with the exit code and the log's last lines, so a
    server that died reads as a dead server, not as "unreachable" (issue #15)."""

    LOG_LINES = 40

    def __init__(self, cmd: list[str], log_path: Path, port: int, url: str = ""):
        import subprocess

        self.cmd, self.log_path, self.port, self.url = cmd, log_path, port, url
        self._log = log_path.open("w")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT)

    @property
    def name(self) -> str:
        return " ".join(Path(part).name for part in self.cmd[:3])

    def log_tail(self) -> str:
        self._log.flush()
        lines = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-self.LOG_LINES:])

    def exit_description(self) -> str | None:
        """None while the process runs; else how it ended ("exit code 1", "killed by SIGILL")."""
        import signal

        code = self.proc.poll()
        if code is None:
            return None
        if code < 0:
            return f"killed by {signal.Signals(-code).name} (exit {128 - code})"
        return f"exit code {code}"

    def assert_alive(self, when: str = "") -> None:
        import pytest

        ended = self.exit_description()
        if ended is not None:
            pytest.fail(f"the server {self.name} is dead{' ' + when if when else ''}: {ended}. "
                        f"Last lines of {self.log_path}:\n{self.log_tail()}", pytrace=False)

    def stop(self) -> None:
        """Terminate the server if it still runs."""
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        self._log.close()


def start_server(cmd: list[str], ready_url: str, log_path: Path, port: int, timeout: float = 120.0,
                 url: str = "") -> ServerProcess:
    """Start a real server and wait until `ready_url` answers 200; fails the test, with the exit
    and the log, if the process ends first or never answers."""
    import time

    import httpx
    import pytest

    server = ServerProcess(cmd, log_path, port, url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        server.assert_alive("before it answered")
        try:
            if httpx.get(ready_url, timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.3)
    server.proc.kill()
    server.proc.wait(timeout=30)
    pytest.fail(f"{server.name} did not answer {ready_url} within {timeout:g} s. Last lines of "
                f"{log_path}:\n{server.log_tail()}", pytrace=False)


def watched(server: ServerProcess):
    """Generator body for a per-test fixture: the server must be alive before and after each use."""
    server.assert_alive("before the test")
    yield server
    server.assert_alive("after the test")


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


def with_llm(components, chat_model):
    """The same components (shared registry, store and model) with a LangChain chat model, usually
    a fake one, as their LLM."""
    import copy

    from rag.llm.chat import ChatLLM

    c = copy.copy(components)
    c.__dict__["llm"] = ChatLLM.wrap(chat_model, components.settings)
    return c
