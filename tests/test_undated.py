"""One rule for undated articles (issue #17): under --since/--until, an article with no published
date falls in a window by the day it was first ingested (in NEWSDESK_TIMEZONE), as in briefings,
and the text output marks it "date unknown, ingested YYYY-MM-DD"."""

from __future__ import annotations

import json
from datetime import date

import pytest
from click.testing import CliRunner
from helpers import run_ingest, write_article

from rag.cli.app import main

DREDGING = (
    "The harbour authority approved a plan on Monday to dredge the eastern channel so that larger "
    "container ships can dock. The work will cost 18 million euros and start in March."
)
WIND = (
    "A regional court ruled on Tuesday that the new wind farm may go ahead after a two-year legal "
    "fight. Residents had argued that the turbines would harm migrating birds."
)
GLACIER = (
    "The new glacier museum in the mountain town will open its doors to visitors next spring, the "
    "mayor said. Tickets for the glacier museum will cost twelve euros for adults, and school "
    "classes will visit the glacier exhibits for free."
)
TZ = "Europe/Berlin"
# 23:30 UTC on 19 June is 01:30 on 20 June in Berlin: the ingest day there is the 20th.
INGESTED_AT = "2024-06-19T23:30:00+00:00"
DAY = date(2024, 6, 20)
GLACIER_TITLE = "Glacier museum to open"


@pytest.fixture
def desk(tmp_path, monkeypatch, embedder, tokenizer):
    """A collection of two dated articles and one undated one (ingested at INGESTED_AT), read in
    Berlin time; yields (components, id of the undated article)."""
    from rag.components import Components
    from rag.settings import Settings

    monkeypatch.setenv("NEWSDESK_TIMEZONE", TZ)
    folder = tmp_path / "in"
    write_article(folder, "a.md", "Dredging approved", DREDGING, outlet="Coast Post", published="2024-06-19")
    write_article(folder, "b.md", "Wind farm cleared", WIND, outlet="Valley News", published="2024-06-20")
    undated = write_article(folder, "c.md", GLACIER_TITLE, GLACIER, outlet="Alpine Herald")
    c = Components(Settings(_env_file=None, data_dir=tmp_path / "data"), embedder=embedder, tokenizer=tokenizer)
    run_ingest(c, [folder])
    rec = c.registry.find(str(undated.resolve()))
    assert rec is not None and rec.published is None
    with c.registry.transaction() as db:
        db.execute("UPDATE articles SET ingested_at=? WHERE article_id=?", (INGESTED_AT, rec.article_id))
    yield c, rec.article_id
    c.close()


@pytest.fixture
def cli(desk, tmp_path, embedder, tokenizer):
    """Run the CLI in-process on the desk's data dir."""
    from rag.components import Components

    obj = {"components": lambda settings: Components(settings, embedder=embedder, tokenizer=tokenizer)}

    def run(*args: str):
        result = CliRunner().invoke(main, [*args, "--data-dir", str(tmp_path / "data")], obj=obj,
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result

    return run


def _ids(c, query: str, k: int = 5, **filters) -> list[str]:
    from rag.search.filters import SearchFilters
    from rag.search.retrieval import RetrievalConfig, search

    mode = filters.pop("mode", "hybrid")
    config = RetrievalConfig(rerank_depth=c.settings.rerank_depth, mode=mode)
    return [p.article_id for p in search(c, query, k, SearchFilters(**filters), config)]


@pytest.mark.parametrize("mode", ["hybrid", "dense", "keyword"])
def test_undated_article_falls_in_by_its_ingest_day(desk, mode):
    c, undated = desk
    query = "glacier museum tickets"
    assert undated in _ids(c, query, mode=mode, since=DAY, until=DAY)
    assert undated in _ids(c, query, mode=mode, until=DAY)
    assert undated in _ids(c, query, mode=mode, since=DAY)
    # The UTC day of the ingest is the 19th; in Berlin it is the 20th.
    assert undated not in _ids(c, query, mode=mode, since=date(2024, 6, 19), until=date(2024, 6, 19))
    assert undated not in _ids(c, query, mode=mode, since=date(2024, 6, 21))
    assert undated not in _ids(c, query, mode=mode, until=date(2024, 6, 19))


def test_dated_articles_and_outlets_keep_their_rules(desk):
    c, undated = desk
    query = "harbour dredging, wind farm court, glacier museum"
    titles = {aid: c.registry.get(aid).title for aid in _ids(c, query, k=10, since=DAY, until=DAY)}
    assert set(titles.values()) == {"Wind farm cleared", GLACIER_TITLE}
    assert _ids(c, query, k=10, since=DAY, until=DAY, source="alpine herald") == [undated]
    assert undated not in _ids(c, query, k=10, since=DAY, until=DAY, source="Valley News")


def test_unfiltered_search_is_unchanged(desk):
    from rag.search.retrieval import search

    c, undated = desk
    passages = search(c, "harbour dredging, wind farm court, glacier museum", k=10)
    assert {p.title for p in passages} == {"Dredging approved", "Wind farm cleared", GLACIER_TITLE}
    assert next(p for p in passages if p.article_id == undated).published is None


def test_answer_question_under_a_window(desk):
    from rag.answer.pipeline import answer_question
    from rag.search.filters import SearchFilters

    c, undated = desk
    question = "How much will tickets for the glacier museum cost?"
    inside = answer_question(c, question, filters=SearchFilters(since=DAY, until=DAY))
    assert undated in {cit.article_id for cit in inside.citations}
    assert all(cit.published is None for cit in inside.citations if cit.article_id == undated)
    outside = answer_question(c, question, filters=SearchFilters(since=date(2024, 6, 21)))
    assert undated not in {cit.article_id for cit in outside.citations}


def test_cli_search_marks_the_undated_source(cli):
    query = "glacier museum tickets"
    shown = cli("search", query, "--since", "2024-06-20", "--until", "2024-06-20").stdout
    assert GLACIER_TITLE in shown
    assert "date unknown, ingested 2024-06-20" in shown
    assert "Wind farm cleared — Valley News, 2024-06-20" in shown

    outside = cli("search", query, "--since", "2024-06-19", "--until", "2024-06-19").stdout
    assert GLACIER_TITLE not in outside and "Dredging approved" in outside

    plain = cli("search", query).stdout
    assert GLACIER_TITLE in plain and "date unknown" not in plain
    assert f"{GLACIER_TITLE} — Alpine Herald\n" in plain


def test_cli_search_json_keeps_its_shape(cli):
    data = json.loads(cli("search", "glacier museum tickets", "--since", "2024-06-20", "--json").stdout)
    hit = next(r for r in data["results"] if r["title"] == GLACIER_TITLE)
    assert set(hit) == {"rank", "article_id", "title", "source", "published", "url", "path", "text", "score"}
    assert hit["published"] is None


def test_cli_ask_marks_the_undated_source(cli):
    question = "How much will tickets for the glacier museum cost?"
    shown = cli("ask", question, "--since", "2024-06-20", "--until", "2024-06-20").stdout
    assert "Sources:" in shown
    assert f"{GLACIER_TITLE} — Alpine Herald, date unknown, ingested 2024-06-20" in shown

    asked = json.loads(cli("ask", question, "--until", "2024-06-20", "--json").stdout)
    cited = [cit for cit in asked["citations"] if cit["title"] == GLACIER_TITLE]
    assert cited and all(cit["published"] is None for cit in cited)
    assert set(cited[0]) == {"n", "article_id", "title", "source", "published", "url", "path", "quote"}

    outside = cli("ask", question, "--since", "2024-06-21", "--json").stdout
    assert GLACIER_TITLE not in outside

    plain = cli("ask", question).stdout
    assert f"{GLACIER_TITLE} — Alpine Herald\n" in plain and "date unknown" not in plain
