"""Ingestion end to end against a real embedded Chroma and the real packaged model."""

from __future__ import annotations

import shutil

import pytest
from helpers import assert_consistent, run_ingest, write_article

from rag.search.retrieval import search

BODY_A = (
    "The harbour authority approved a plan on Monday to dredge the eastern channel so that larger "
    "container ships can dock. The work will cost 18 million euros and start in March. Fishermen "
    "said they worry about the effect on the mussel beds near the breakwater. The authority said "
    "a study found no lasting harm and promised to monitor the beds for five years."
)
BODY_C = (
    "The city library will stay open until midnight during the exam season, the council said. "
    "Students had collected more than 2,000 signatures asking for longer hours. The extra opening "
    "will cost about 40,000 euros, paid from the culture budget. Security staff will be added for "
    "the late shifts, and the cafe on the ground floor will serve food until 11 p.m."
)
BODY_B = (
    "A regional court ruled on Tuesday that the new wind farm may go ahead after a two-year legal "
    "fight. Residents had argued that the turbines would harm migrating birds. The judges found the "
    "developer's surveys adequate and ordered extra radar monitoring during spring migration."
)


def test_seeds_add_then_unchanged_then_updated(components, seeds, tmp_path):
    folder = tmp_path / "seeds"
    shutil.copytree(seeds, folder)
    first = run_ingest(components, [folder])
    assert (first.added, first.updated, first.unchanged, first.duplicates) == (5, 0, 0, 0)
    assert first.failed == []
    assert first.chunks_embedded > 5
    assert_consistent(components)

    again = run_ingest(components, [folder])
    assert (again.added, again.updated, again.unchanged) == (0, 0, 5)
    assert again.chunks_embedded == 0  # no embedding work for unchanged content

    target = sorted(folder.iterdir())[2]
    target.chmod(0o644)
    target.write_text(target.read_text() + "\n\nThe zebra crossing at Vostochny was repainted in bright teal.\n")
    edited = run_ingest(components, [folder])
    assert (edited.added, edited.updated, edited.unchanged) == (0, 1, 4)
    assert_consistent(components)
    hits = search(components, "zebra crossing repainted teal", k=3)
    assert any("bright teal" in p.text for p in hits), [(p.title, p.score) for p in hits]
    assert components.registry.counts()["articles"] == 5


def test_same_text_under_another_path_is_a_duplicate(components, tmp_path):
    a = write_article(tmp_path / "in", "a.md", "Harbour dredging approved", BODY_A, outlet="Coast Post")
    b = write_article(tmp_path / "copy", "b.md", "Harbour dredging approved", BODY_A, outlet="Coast Post")
    report = run_ingest(components, [a])
    chunks_before = components.registry.counts()["chunks"]
    report = run_ingest(components, [b])
    assert report.duplicates == 1 and report.added == 0
    dup = report.articles[0]
    assert dup["status"] == "duplicate" and dup["duplicate_of"]
    assert components.registry.counts()["chunks"] == chunks_before  # not indexed twice
    assert_consistent(components)


def test_near_duplicate_is_linked_to_the_original(components, tmp_path):
    long_body = "\n\n".join([BODY_A, BODY_C.replace("city library", "harbour museum"), BODY_A.replace("euros", "EUR")])
    original = write_article(tmp_path, "orig.md", "Harbour dredging approved", long_body,
                             outlet="Coast Post", url="https://coastpost.example.com/dredging")
    syndicated = long_body.replace("on Monday", "this week").replace("Fishermen said", "Local fishermen said") + (
        "\n\nThis story was distributed by the Regional Wire."
    )
    copy = write_article(tmp_path, "copy.md", "Harbour dredging plan approved", syndicated,
                         outlet="Regional Wire", url="https://regionalwire.example.com/x")
    other = write_article(tmp_path, "other.md", "Wind farm cleared by court", BODY_B, outlet="Coast Post")
    report = run_ingest(components, [original, copy, other])
    by_title = {a["title"]: a for a in report.articles}
    assert by_title["Harbour dredging plan approved"]["status"] == "duplicate"
    assert by_title["Harbour dredging plan approved"]["duplicate_of"] == by_title["Harbour dredging approved"]["article_id"]
    assert by_title["Wind farm cleared by court"]["status"] == "added"
    rec = components.registry.get(by_title["Harbour dredging plan approved"]["article_id"])
    assert 0.8 <= rec.similarity < 1.0
    assert_consistent(components)


def test_remove_promotes_a_duplicate(components, tmp_path):
    from rag.ingest.pipeline import remove_article

    a = write_article(tmp_path / "a", "a.md", "Harbour dredging approved", BODY_A)
    b = write_article(tmp_path / "b", "b.md", "Harbour dredging approved", BODY_A)
    report = run_ingest(components, [a, b])
    orig_id, dup_id = report.articles[0]["article_id"], report.articles[1]["article_id"]
    with components.writing():
        assert remove_article(components, orig_id) == [dup_id]
    assert components.registry.get(orig_id) is None
    promoted = components.registry.get(dup_id)
    assert promoted.duplicate_of is None and promoted.chunks > 0
    assert_consistent(components)
    assert search(components, "mussel beds dredging", k=1)[0].article_id == dup_id


def test_bad_inputs_are_reported_and_good_ones_indexed(components, tmp_path):
    good = write_article(tmp_path / "in", "good.md", "Wind farm cleared by court", BODY_B)
    (tmp_path / "in" / "empty.txt").write_text("   \n\n")
    (tmp_path / "in" / "binary.txt").write_bytes(b"\x00\x01\x02\xff" * 50)
    (tmp_path / "in" / "bad.jsonl").write_text('{"title": "ok", "text": "' + BODY_A + '"}\n{not json}\n')
    report = run_ingest(components, [tmp_path / "in", tmp_path / "missing.txt"])
    assert report.added == 2  # good.md and the valid JSONL record
    errors = {f.input.rsplit("/", 1)[-1]: f.error for f in report.failed}
    assert "missing.txt" in errors and "no such file" in errors["missing.txt"]
    assert "empty" in errors["empty.txt"]
    assert "binary" in errors["binary.txt"]
    assert "line 2" in errors["bad.jsonl:2"]
    assert good.exists()
    assert_consistent(components)


def test_changed_article_replaces_its_old_passages(components, tmp_path):
    path = write_article(tmp_path, "a.md", "Harbour dredging approved", BODY_A)
    run_ingest(components, [path])
    old_ids = components.registry.chunk_ids()
    write_article(tmp_path, "a.md", "Harbour dredging approved", BODY_B)
    report = run_ingest(components, [path])
    assert report.updated == 1
    assert components.registry.chunk_ids().isdisjoint(old_ids)
    assert_consistent(components)
    assert "wind farm" in search(components, "court ruling turbines birds", k=1)[0].text


def test_interrupted_write_is_repaired_on_the_next_run(components, tmp_path, monkeypatch):
    """A failure between the vector write and the registry commit leaves nothing visible and
    nothing duplicated; the next run completes the work."""
    from rag.store.registry import Registry

    paths = [write_article(tmp_path / "in", f"{i}.md", f"Story {i}", body)
             for i, body in enumerate([BODY_A, BODY_B, BODY_C])]
    boom = {"armed": True}
    real_save = Registry.save_article

    def failing_save(self, record, chunks):
        if boom["armed"]:
            raise RuntimeError("simulated crash")
        return real_save(self, record, chunks)

    monkeypatch.setattr(Registry, "save_article", failing_save)
    with pytest.raises(RuntimeError):
        run_ingest(components, [tmp_path / "in"])
    assert components.registry.counts()["articles"] == 0
    assert components.store.count() > 0  # vectors were written before the "crash"
    assert search(components, "dredging", k=3) == []  # but readers never see them

    boom["armed"] = False
    report = run_ingest(components, [tmp_path / "in"])
    assert report.added == 3
    assert_consistent(components)
    assert len(paths) == 3


def test_published_date_filters(components, tmp_path):
    from datetime import date

    from rag.search.filters import SearchFilters

    old = write_article(tmp_path, "old.md", "Harbour dredging approved", BODY_A, published="2023-01-05",
                        outlet="Coast Post")
    new = write_article(tmp_path, "new.md", "Wind farm cleared by court", BODY_B, published="2024-03-02",
                        outlet="Valley News")
    run_ingest(components, [old, new])
    since = search(components, "news", k=5, filters=SearchFilters(since=date(2024, 1, 1)))
    assert {p.title for p in since} == {"Wind farm cleared by court"}
    until = search(components, "news", k=5, filters=SearchFilters(until=date(2023, 12, 31)))
    assert {p.title for p in until} == {"Harbour dredging approved"}
    by_source = search(components, "news", k=5, filters=SearchFilters(source="coast post"))
    assert {p.source for p in by_source} == {"Coast Post"}


def test_records_without_id_or_url_are_separate_articles(components, tmp_path):
    """Several records of one JSONL/JSON file with no id and no URL must not overwrite each other."""
    import json

    bodies = [BODY_A, BODY_B, BODY_C]
    jsonl = tmp_path / "plain.jsonl"
    jsonl.write_text("".join(json.dumps({"title": f"Story {i}", "text": b}) + "\n" for i, b in enumerate(bodies)))
    first = run_ingest(components, [jsonl])
    assert (first.added, first.updated) == (3, 0)
    again = run_ingest(components, [jsonl])
    assert again.unchanged == 3
    listed = tmp_path / "plain.json"
    listed.write_text(json.dumps({"articles": [{"title": f"Other {i}", "body": b + " Extra sentence here."}
                                               for i, b in enumerate(bodies)]}))
    report = run_ingest(components, [listed])
    assert report.added + report.duplicates == 3 and report.updated == 0
    assert components.registry.counts()["articles"] == 6
    assert_consistent(components)


def test_numbered_records_of_two_files_do_not_replace_each_other(components, tmp_path):
    """Record numbers ("id": 1, 2, ...) are unique only within their file: two exports numbered
    from 1 are different articles, and re-ingesting one changes nothing."""
    import json

    first, second = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    first.write_text("".join(json.dumps({"id": i + 1, "title": f"One {i}", "text": b}) + "\n"
                             for i, b in enumerate([BODY_A, BODY_B])))
    second.write_text(json.dumps({"id": "1", "title": "Two 0", "text": BODY_C}) + "\n")
    assert run_ingest(components, [first]).added == 2
    report = run_ingest(components, [second])
    assert (report.added, report.updated) == (1, 0)
    assert {r.title for r in components.registry.articles()} == {"One 0", "One 1", "Two 0"}
    assert run_ingest(components, [first, second]).unchanged == 3
    assert_consistent(components)


def test_duplicates_are_checked_again_when_their_original_changes(components, tmp_path):
    """A copy of an article's old text is indexed on its own once the original is rewritten,
    so its text stays searchable."""
    a = write_article(tmp_path / "a", "a.md", "Harbour dredging approved", BODY_A)
    b = write_article(tmp_path / "b", "b.md", "Harbour dredging approved", BODY_A)
    report = run_ingest(components, [a, b])
    orig_id, dup_id = report.articles[0]["article_id"], report.articles[1]["article_id"]
    assert components.registry.get(dup_id).duplicate_of == orig_id
    write_article(tmp_path / "a", "a.md", "Wind farm cleared by court", BODY_B)
    changed = run_ingest(components, [a])
    assert (changed.updated, changed.added, changed.duplicates) == (1, 0, 0)  # the copy is not an input
    copy = components.registry.get(dup_id)
    assert copy.duplicate_of is None and copy.chunks > 0
    assert search(components, "mussel beds dredging", k=1)[0].article_id == dup_id
    assert_consistent(components)


def test_articles_are_found_as_given_to_ingest(components, tmp_path, monkeypatch):
    """By the relative path of a file deleted since, and by a URL spelled as before a redirect."""
    from rag.search.articles import find_article

    monkeypatch.chdir(tmp_path)
    write_article(tmp_path / "in", "gone.md", "Harbour dredging approved", BODY_A)
    write_article(tmp_path / "in", "page.md", "Wind farm cleared by court", BODY_B,
                  url="https://www.courier.example/news/wind-farm/")
    run_ingest(components, [tmp_path / "in"])
    (tmp_path / "in" / "gone.md").unlink()
    assert find_article(components, "in/gone.md").title == "Harbour dredging approved"
    for spelling in ("http://courier.example/news/wind-farm", "https://courier.example/news/wind-farm/",
                     "https://www.courier.example/news/wind-farm"):
        assert find_article(components, spelling).title == "Wind farm cleared by court", spelling
    assert find_article(components, "https://courier.example/news/other") is None


def test_numbered_records_sharing_a_url_stay_apart_and_old_ids_are_kept(components, tmp_path):
    """Numbered entries of one live page (same URL) are different articles; an article indexed
    under its bare number before numbers were qualified keeps that id on re-ingest."""
    import json

    page = tmp_path / "live.jsonl"
    page.write_text("".join(json.dumps({"id": i + 1, "url": "https://live.example/blog", "title": f"Entry {i}",
                                        "text": b}) + "\n" for i, b in enumerate([BODY_A, BODY_B])))
    assert run_ingest(components, [page]).added == 2
    legacy = tmp_path / "legacy.jsonl"
    legacy.write_text(json.dumps({"id": 7, "title": "Old", "text": BODY_C}) + "\n")
    report = run_ingest(components, [legacy])
    # Simulate an index written before: the article under its bare number.
    with components.registry.transaction() as db:
        db.execute("UPDATE articles SET article_id='7' WHERE article_id=?", (report.articles[0]["article_id"],))
        db.execute("UPDATE chunks SET article_id='7' WHERE article_id=?", (report.articles[0]["article_id"],))
    again = run_ingest(components, [legacy])
    assert again.unchanged == 1 and again.articles[0]["article_id"] == "7"


def test_rechecks_survive_a_killed_run(components, tmp_path, monkeypatch):
    """The duplicates to check again are queued in the registry with the original's new text: if
    the run dies before checking them, the next run (where the original is unchanged) does."""
    from rag.store.registry import Registry

    a = write_article(tmp_path / "a", "a.md", "Harbour dredging approved", BODY_A)
    b = write_article(tmp_path / "b", "b.md", "Harbour dredging approved", BODY_A)
    dup_id = run_ingest(components, [a, b]).articles[1]["article_id"]
    write_article(tmp_path / "a", "a.md", "Wind farm cleared by court", BODY_B)

    def killed(self):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(Registry, "rechecks", killed)
        with pytest.raises(KeyboardInterrupt):
            run_ingest(components, [a])
    assert components.registry.get(dup_id).duplicate_of is not None
    again = run_ingest(components, [a])
    assert again.unchanged == 1
    assert components.registry.get(dup_id).duplicate_of is None
    assert search(components, "mussel beds dredging", k=1)[0].article_id == dup_id
    assert_consistent(components)


def test_an_original_that_becomes_a_duplicate_frees_its_duplicates(components, tmp_path):
    """A is rewritten into a copy of C: A's own duplicate (a copy of A's old text) is indexed."""
    a = write_article(tmp_path / "a", "a.md", "Harbour dredging approved", BODY_A)
    b = write_article(tmp_path / "b", "b.md", "Harbour dredging approved", BODY_A)
    c = write_article(tmp_path / "c", "c.md", "Library hours", BODY_C)
    ids = [x["article_id"] for x in run_ingest(components, [a, b, c]).articles]
    write_article(tmp_path / "a", "a.md", "Library hours", BODY_C)
    run_ingest(components, [a])
    assert components.registry.get(ids[0]).duplicate_of == ids[2]
    assert components.registry.get(ids[1]).duplicate_of is None
    assert search(components, "mussel beds dredging", k=1)[0].article_id == ids[1]
    assert_consistent(components)
