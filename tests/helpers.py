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
