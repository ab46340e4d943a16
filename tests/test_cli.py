"""The `newsdesk` CLI contract of docs/contract.md: JSON shapes, exit codes, batch search."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from helpers import write_article

from rag.cli.app import main

BODY = (
    "The harbour authority approved a plan on Monday to dredge the eastern channel so that larger "
    "container ships can dock. The work will cost 18 million euros and start in March."
)
BODY2 = (
    "A regional court ruled on Tuesday that the new wind farm may go ahead after a two-year legal "
    "fight. Residents had argued that the turbines would harm migrating birds."
)


@pytest.fixture
def cli(tmp_path, embedder, tokenizer):
    """Run the CLI in-process with the session's model injected (no reload per command)."""
    from rag.components import Components

    data = tmp_path / "data"
    obj = {"components": lambda settings: Components(settings, embedder=embedder, tokenizer=tokenizer)}

    def run(*args: str, input: str | None = None):
        return CliRunner().invoke(main, [*args, "--data-dir", str(data)], input=input, obj=obj,
                                  catch_exceptions=False)

    return run


def test_ingest_json_contract_and_exit_codes(cli, tmp_path):
    a = write_article(tmp_path / "in", "a.md", "Dredging approved", BODY, outlet="Coast Post",
                      published="2024-06-19", url="https://coast.example.com/a")
    result = cli("ingest", str(a), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"added", "updated", "unchanged", "duplicates", "failed", "skipped", "articles"}
    assert data["added"] == 1 and data["failed"] == []
    art = data["articles"][0]
    assert {"article_id", "title", "source", "published", "path", "url", "status"} <= set(art)
    assert (art["source"], art["published"], art["status"]) == ("Coast Post", "2024-06-19", "added")

    bad = cli("ingest", str(a), str(tmp_path / "nope.md"), "--json")
    assert bad.exit_code == 1
    data = json.loads(bad.stdout)
    assert data["unchanged"] == 1
    assert data["failed"] == [{"input": str(tmp_path / "nope.md"), "error": "no such file or directory"}]


def test_usage_errors_exit_2(cli):
    assert cli("search", "x", "--since", "June").exit_code == 2
    assert cli("search", "x", "--k", "0").exit_code == 2
    bad_day = cli("ask", "x", "--as-of", "yesterday")
    assert bad_day.exit_code == 2 and "YYYY-MM-DD" in bad_day.output
    assert cli("ingest").exit_code == 2
    assert cli("stats", "--collection", "a b").exit_code == 2


def test_search_json_and_batch_mode(cli, tmp_path):
    write_article(tmp_path / "in", "a.md", "Dredging approved", BODY, outlet="Coast Post", published="2024-06-19")
    write_article(tmp_path / "in", "b.md", "Wind farm cleared", BODY2, outlet="Valley News", published="2024-06-20")
    assert cli("ingest", str(tmp_path / "in")).exit_code == 0
    result = cli("search", "court ruling on wind turbines", "--json", "--k", "1")
    data = json.loads(result.stdout)
    assert data["query"] == "court ruling on wind turbines"
    (hit,) = data["results"]
    assert hit["rank"] == 1 and hit["title"] == "Wind farm cleared" and "turbines" in hit["text"]
    assert {"article_id", "source", "published", "url", "path", "score"} <= set(hit)

    batch = cli("search", "-", "--json", "--k", "1", input="container ships\n\nmigrating birds\n")
    lines = [json.loads(line) for line in batch.stdout.splitlines()]
    assert [d["query"] for d in lines] == ["container ships", "migrating birds"]
    assert lines[0]["results"][0]["title"] == "Dredging approved"

    filtered = json.loads(cli("search", "news", "--json", "--source", "valley news").stdout)
    assert {r["source"] for r in filtered["results"]} == {"Valley News"}

    # --as-of reaches retrieval: "this week" asked on 2024-06-21 covers both articles, which get
    # the recency bonus; asked a year later it covers neither.
    def scores(day: str) -> dict[str, float]:
        got = json.loads(cli("search", "what was decided this week", "--json", "--as-of", day).stdout)
        return {r["title"]: r["score"] for r in got["results"]}

    then, later = scores("2024-06-21"), scores("2025-06-21")
    assert set(then) == set(later) == {"Dredging approved", "Wind farm cleared"}
    for title in then:
        assert then[title] > later[title]


def test_articles_stats_remove(cli, tmp_path):
    write_article(tmp_path / "in", "a.md", "Dredging approved", BODY, outlet="Coast Post")
    write_article(tmp_path / "in2", "copy.md", "Dredging approved", BODY, outlet="Coast Post")
    cli("ingest", str(tmp_path / "in"), str(tmp_path / "in2"))
    listing = json.loads(cli("articles", "--json").stdout)["articles"]
    assert len(listing) == 2
    assert {"article_id", "title", "source", "published", "url", "path", "ingested_at", "chunks",
            "duplicate_of"} <= set(listing[0])
    dups = [x for x in listing if x["duplicate_of"]]
    assert len(dups) == 1 and dups[0]["chunks"] == 0

    stats = json.loads(cli("stats", "--json").stdout)
    assert (stats["articles"], stats["indexed"], stats["duplicates"]) == (2, 1, 1)
    assert stats["chunks"] == stats["vectors"] > 0

    removed = cli("remove", "in/a.md", "--json")  # a relative path, as given to ingest (cwd is tmp_path)
    assert removed.exit_code == 0
    assert json.loads(removed.stdout)["promoted"] == [dups[0]["article_id"]]
    assert cli("remove", "no-such-id").exit_code == 1
    stats = json.loads(cli("stats", "--json").stdout)
    assert (stats["articles"], stats["indexed"], stats["duplicates"]) == (1, 1, 0)


def test_empty_collection_is_not_an_error(cli):
    assert json.loads(cli("stats", "--json").stdout)["articles"] == 0
    asked = json.loads(cli("ask", "Who won?", "--json").stdout)
    assert asked["answerable"] is False and "no articles are indexed" in asked["warnings"][0]
    assert json.loads(cli("articles", "--json").stdout) == {"articles": []}
    assert json.loads(cli("search", "anything", "--json").stdout)["results"] == []


def test_collections_keep_corpora_apart(cli, tmp_path):
    write_article(tmp_path / "a", "a.md", "Dredging approved", BODY, outlet="Coast Post")
    write_article(tmp_path / "b", "b.md", "Wind farm cleared", BODY2, outlet="Valley News")
    assert cli("ingest", str(tmp_path / "a"), "--collection", "harbour").exit_code == 0
    assert cli("ingest", str(tmp_path / "b"), "--collection", "energy").exit_code == 0
    harbour = json.loads(cli("search", "wind turbines court", "--json", "--collection", "harbour").stdout)
    assert {r["title"] for r in harbour["results"]} == {"Dredging approved"}
    energy = json.loads(cli("articles", "--json", "--collection", "energy").stdout)["articles"]
    assert [a["title"] for a in energy] == ["Wind farm cleared"]
    assert json.loads(cli("stats", "--json").stdout)["articles"] == 0  # the default collection is untouched


def test_a_file_of_several_articles_is_not_one_article(cli, tmp_path):
    """`remove`/`summarize` by the path of a JSONL file holding two articles must not quietly act
    on one of them: they name the ids to choose from."""
    path = tmp_path / "two.jsonl"
    path.write_text(json.dumps({"title": "Tides", "text": BODY}) + "\n" + json.dumps({"title": "Wind", "text": BODY2}) + "\n")
    assert cli("ingest", str(path)).exit_code == 0
    for command in ("remove", "summarize"):
        res = cli(command, str(path))
        assert res.exit_code == 1 and "holds 2 articles; give one of their ids" in res.output, res.output
    data = json.loads(cli("articles", "--json").stdout)
    assert len(data["articles"]) == 2
    one = data["articles"][0]["article_id"]
    assert cli("summarize", one, "--json").exit_code == 0


def test_reversed_window_and_unknown_outlet_are_reported(cli, tmp_path):
    a = write_article(tmp_path / "in", "a.md", "Dredging approved", BODY, outlet="Coast Post", published="2024-06-19")
    cli("ingest", str(a))
    for command in ("search", "ask"):
        res = cli(command, "dredging", "--since", "2024-06-23", "--until", "2024-06-17")
        assert res.exit_code == 2 and "is after" in res.output
    res = cli("ask", "What will the dredging cost?", "--source", "Coast Psot", "--json")
    data = json.loads(res.stdout)
    assert any("no articles from outlet 'Coast Psot'" in w and "Coast Post" in w for w in data["warnings"])
    res = cli("search", "dredging", "--source", "Coast Psot")
    assert res.exit_code == 0 and "no articles from outlet 'Coast Psot'" in res.stderr
    assert res.stdout.strip() == "No matching passages under these --source/--since/--until filters."
    assert cli("remove", "").exit_code == 2
