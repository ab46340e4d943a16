"""`newsdesk check [--repair]` (issue #18, item 16): registry, Chroma and the keyword index are
compared; every disagreement is named, and `--repair` makes them agree without losing an article."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import assert_consistent, run_ingest, write_article

from rag.cli.app import main
from rag.search.retrieval import search

BODY_A = ("The harbour authority approved a plan on Monday to dredge the eastern channel so that "
          "larger container ships can dock. The work will cost 18 million euros and start in March. "
          "Fishermen said they worry about the effect on the mussel beds near the breakwater.")
BODY_B = ("A regional court ruled on Tuesday that the new wind farm may go ahead after a two-year "
          "legal fight. Residents had argued that the turbines would harm migrating birds. The judges "
          "found the developer's surveys adequate and ordered extra radar monitoring.")


@pytest.fixture
def cli(components):
    """The CLI in-process, on the test's own components (the session's model)."""
    def run(*args: str):
        return CliRunner().invoke(main, [*args, "--data-dir", str(components.settings.data_dir)],
                                  obj={"components": lambda settings: components}, catch_exceptions=False)

    real_close = components.close
    components.close = lambda: None  # the commands close what they open; the test keeps it
    yield run
    components.close = real_close


@pytest.fixture
def damaged(components, tmp_path):
    """An index with every kind of damage `check` knows: vectors lost and left behind, a stray
    keyword row, a duplicate whose original is gone, and a removal killed before its re-check."""
    a = write_article(tmp_path / "a", "a.md", "Harbour dredging approved", BODY_A)
    b = write_article(tmp_path / "b", "b.md", "Harbour dredging approved", BODY_A)
    c = write_article(tmp_path / "c", "c.md", "Wind farm cleared by court", BODY_B)
    report = run_ingest(components, [a, b, c])
    orig_id, dup_id, wind_id = (r["article_id"] for r in report.articles)
    reg, store = components.registry, components.store
    wind_chunks = [r["chunk_id"] for r in reg.article_chunks(wind_id)]
    store.collection.delete(ids=wind_chunks)  # vectors went missing
    store.upsert(["ghost:v0:0"], np.ones((1, components.embedder.dimension), dtype=np.float32),
                 ["left behind"], [{"article_id": "ghost", "version": "v0", "ord": 0, "title": "x"}])
    with reg.transaction() as db:
        db.execute("INSERT INTO chunks_fts(rowid, title, text) VALUES (999999, 'forged', 'stray row')")
        # The original is gone, as a `remove` killed after its delete left it before this fix.
        db.execute("DELETE FROM chunks WHERE article_id=?", (orig_id,))
        db.execute("DELETE FROM articles WHERE article_id=?", (orig_id,))
    store.delete_other_versions(orig_id, None)
    return {"orig": orig_id, "dup": dup_id, "wind": wind_id, "wind_chunks": wind_chunks}


def test_check_names_every_problem_and_repair_fixes_them(cli, components, damaged):
    found = cli("check", "--json")
    assert found.exit_code == 1, found.output
    data = json.loads(found.stdout)
    assert data["ok"] is False
    assert data["missing_vectors"] == {damaged["wind"]: len(damaged["wind_chunks"])}
    assert data["orphan_vectors"] == ["ghost:v0:0"]
    assert data["orphan_keyword_rows"] == 1
    assert data["dangling_duplicates"] == {damaged["dup"]: damaged["orig"]}

    fixed = cli("check", "--repair", "--json")
    assert fixed.exit_code == 0, fixed.output
    after = json.loads(fixed.stdout)
    assert after["ok"] is True and after["repaired"]
    assert_consistent(components)
    copy = components.registry.get(damaged["dup"])
    assert copy.duplicate_of is None and copy.chunks > 0  # the copy now stands for the article
    assert search(components, "mussel beds dredging", k=1)[0].article_id == damaged["dup"]
    assert search(components, "wind farm turbines birds", k=1)[0].article_id == damaged["wind"]
    again = cli("check")
    assert again.exit_code == 0 and "consistent" in again.output


def test_check_reports_a_pending_recheck(cli, components, tmp_path):
    a = write_article(tmp_path / "a", "a.md", "Harbour dredging approved", BODY_A)
    b = write_article(tmp_path / "b", "b.md", "Harbour dredging approved", BODY_A)
    dup_id = run_ingest(components, [a, b]).articles[1]["article_id"]
    with components.registry.transaction() as db:
        db.execute("INSERT INTO recheck VALUES (?)", (dup_id,))
    data = json.loads(cli("check", "--json").stdout)
    assert data["pending_rechecks"] == [dup_id] and data["ok"] is False
    assert json.loads(cli("check", "--repair", "--json").stdout)["ok"] is True
    assert components.registry.rechecks() == []


def test_stats_points_at_a_repair_that_happens(cli, components, damaged):
    """`stats` no longer promises that "the next ingest" repairs lost vectors (it skips unchanged
    articles); it names `newsdesk check --repair`, which does."""
    out = cli("stats").output
    assert "newsdesk check --repair" in out and "next ingest" not in out
    cli("check", "--repair")
    stats = json.loads(cli("stats", "--json").stdout)
    assert stats["chunks"] == stats["vectors"]
    assert "newsdesk check" not in cli("stats").output


def test_check_on_an_empty_collection(cli):
    result = cli("check", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["ok"] is True
