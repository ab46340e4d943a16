"""Hostile input against the index (issue #18): oversized JSON and JSONL inputs, forged record
ids, and a `remove` killed half-way. One bad input never costs a good one, nor indexed data."""

from __future__ import annotations

import http.server
import json
import threading
import tracemalloc
from pathlib import Path

import pytest
from helpers import assert_consistent, run_ingest

from rag.ingest.loader import Loader
from rag.ingest.pipeline import Ingestor
from rag.models import Article, LoadFailure
from rag.settings import Settings

BODY = ("The harbour authority approved the dredging plan on Tuesday after a long public "
        "consultation, and work on the northern channel starts in the spring. ") * 4


def _load(tmp_path: Path, *inputs: Path) -> list[Article | LoadFailure]:
    settings = Settings(_env_file=None, data_dir=tmp_path / "data")
    return list(Loader(settings).load([str(i) for i in inputs]))


# --------------------------------------------------------------------------- JSON sizes (item 19)


def test_an_overlong_jsonl_line_fails_alone_and_is_never_held_whole(tmp_path):
    """A line longer than any record Newsdesk accepts is that line's failure, read in pieces;
    the lines around it load."""
    from rag.ingest.json_files import MAX_JSONL_LINE_BYTES

    path = tmp_path / "corpus.jsonl"
    with path.open("wb") as fh:
        fh.write(json.dumps({"id": "before", "text": BODY}).encode() + b"\n")
        fh.write(b'{"id": "huge", "text": "')
        piece = b"x" * (1 << 20)
        for _ in range(MAX_JSONL_LINE_BYTES // len(piece) * 4):  # 4 times the cap
            fh.write(piece)
        fh.write(b'"}\n')
        fh.write(json.dumps({"id": "after", "text": BODY}).encode() + b"\n")
    tracemalloc.start()
    try:
        results = _load(tmp_path, path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [type(r).__name__ for r in results] == ["Article", "LoadFailure", "Article"]
    assert [results[0].given_id, results[2].given_id] == ["before", "after"]
    bad = results[1]
    assert bad.input == f"{path}:2" and "line 2 too long" in bad.error
    # What is read of the line is bounded by the cap (readline joins its pieces: twice the cap at
    # most), never by the line's length.
    assert peak < MAX_JSONL_LINE_BYTES * 2.5, f"peak {peak / 1e6:.0f} MB"


def test_a_jsonl_line_at_the_cap_still_loads(tmp_path):
    """The cap counts the bytes before the newline: a line of exactly that length is read."""
    from rag.ingest.json_files import jsonl_articles

    record = json.dumps({"id": "fits", "text": BODY}).encode()
    path = tmp_path / "edge.jsonl"
    path.write_bytes(record + b"\n" + record.replace(b"fits", b"over") + b"x\n")
    results = list(jsonl_articles(path, str(path), str(path), max_line_bytes=len(record)))
    assert isinstance(results[0], Article) and results[0].given_id == "fits"
    assert isinstance(results[1], LoadFailure) and "line 2 too long" in results[1].error


def test_a_json_document_over_the_cap_is_refused_and_its_neighbours_load(tmp_path):
    from rag.ingest.json_files import MAX_JSON_DOCUMENT_CHARS

    big = tmp_path / "big.json"
    filler = "y" * (MAX_JSON_DOCUMENT_CHARS + 10)
    big.write_text(json.dumps([{"id": "big", "text": BODY, "note": filler}]), encoding="utf-8")
    good = tmp_path / "good.json"
    good.write_text(json.dumps([{"id": "good", "text": BODY}]), encoding="utf-8")
    results = _load(tmp_path, big, good)
    assert isinstance(results[0], LoadFailure), results[0]
    assert results[0].input == str(big) and "too large" in results[0].error
    assert ".jsonl" in results[0].error
    assert isinstance(results[1], Article) and results[1].given_id == "good"


def test_bad_jsonl_lines_fail_alone_and_the_lines_after_them_load(tmp_path):
    """A line nested too deep, a line with an integer over Python's digit limit and a record whose
    field cannot be read each fail that line only (before: the rest of the file was lost)."""
    lines = [json.dumps({"id": "one", "text": BODY}),
             "[" * 100_000 + "]" * 100_000,
             json.dumps({"id": "two", "text": BODY}),
             '{"id": "big", "text": "x", "n": ' + "9" * 5000 + "}",
             json.dumps({"id": "three", "text": BODY})]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    results = _load(tmp_path, path)
    assert [r.given_id for r in results if isinstance(r, Article)] == ["one", "two", "three"]
    failures = [r for r in results if isinstance(r, LoadFailure)]
    assert [f.input for f in failures] == [f"{path}:2", f"{path}:4"], failures
    assert "nested too deeply" in failures[0].error


# --------------------------------------------------------------------------- forged ids (item 3)

REAL = ("The harbour authority approved the dredging plan on Tuesday. Work on the northern channel "
        "starts in spring and costs 18 million euros, the authority said after a public consultation.")
FORGED = ("The harbour authority cancelled the dredging plan and resigned in disgrace on Tuesday, "
          "admitting that the consultation was a sham and the money had gone missing.")


class _Site(http.server.ThreadingHTTPServer):
    """A web site on 127.0.0.1 serving `pages` (path -> (content type, body)); each port is an
    origin of its own."""

    daemon_threads = True

    def __init__(self) -> None:
        self.pages: dict[str, tuple[str, bytes]] = {}
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                ctype, body = site.pages.get(self.path, ("text/plain", b""))
                self.send_response(200 if self.path in site.pages else 404)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def json(self, path: str, records: list[dict]) -> str:
        self.pages[path] = ("application/json", json.dumps(records).encode())
        return self.url + path

    def markdown(self, path: str, text: str) -> str:
        self.pages[path] = ("text/markdown", text.encode())
        return self.url + path


@pytest.fixture
def sites(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    real, evil = _Site(), _Site()
    yield real, evil
    for site in (real, evil):
        site.shutdown()
        site.server_close()


def _only(report) -> dict:
    assert report.failed == [], report.failed
    assert len(report.articles) == 1, report.articles
    return report.articles[0]


def test_a_record_from_another_site_cannot_replace_an_article_by_its_id(components, sites):
    """The shown id of an article, put in a record served by another site, makes a new article:
    the real one keeps its text and its source."""
    real, evil = sites
    url = real.json("/news.json", [{"id": "harbour-1", "title": "Dredging approved", "text": REAL,
                                    "url": real.url + "/harbour"}])
    first = _only(run_ingest(components, [url]))
    shown_id = first["article_id"]
    for forged_id in (shown_id, "harbour-1"):
        attack = evil.json(f"/{forged_id}.json", [{"id": forged_id, "title": "Dredging approved",
                                                    "text": FORGED, "url": real.url + "/harbour"}])
        got = _only(run_ingest(components, [attack]))
        assert got["status"] in ("added", "duplicate") and got["article_id"] != shown_id
    kept = components.registry.get(shown_id, with_text=True)
    assert kept.text == REAL and kept.updated_at == kept.ingested_at
    assert components.registry.counts()["articles"] == 3
    assert_consistent(components)


def test_a_url_claimed_by_another_site_makes_a_new_article(components, sites):
    """Ids derived from a URL are scoped too: front matter naming the real article's URL does not
    make a page from another site that article."""
    real, evil = sites
    page = real.markdown("/harbour.md", f"# Dredging approved\n\n{REAL}\n")
    shown_id = _only(run_ingest(components, [page]))["article_id"]
    attack = evil.markdown("/x.md", f"---\nurl: {page}\nid: {shown_id}\n---\n# Dredging approved\n\n{FORGED}\n")
    got = _only(run_ingest(components, [attack]))
    assert got["status"] == "added" and got["article_id"] != shown_id
    assert components.registry.get(shown_id, with_text=True).text.strip() == REAL


def test_the_same_site_still_updates_its_own_article(components, sites):
    real, _ = sites
    url = real.json("/news.json", [{"id": "harbour-1", "title": "Dredging approved", "text": REAL}])
    shown_id = _only(run_ingest(components, [url]))["article_id"]
    real.json("/news.json", [{"id": "harbour-1", "title": "Dredging approved", "text": REAL + " Update."}])
    got = _only(run_ingest(components, [url]))
    assert (got["status"], got["article_id"]) == ("updated", shown_id)
    assert components.registry.counts()["articles"] == 1


def test_a_web_record_cannot_replace_a_local_article(components, sites, tmp_path):
    _, evil = sites
    local = tmp_path / "mine.json"
    local.write_text(json.dumps([{"id": "harbour-1", "title": "Dredging approved", "text": REAL}]))
    local_id = _only(run_ingest(components, [local]))["article_id"]
    assert local_id == "harbour-1"  # local files keep their own ids, as before
    attack = evil.json("/a.json", [{"id": "harbour-1", "title": "Dredging approved", "text": FORGED}])
    assert _only(run_ingest(components, [attack]))["article_id"] != local_id
    kept = components.registry.get(local_id, with_text=True)
    assert kept.text == REAL and kept.path == str(local.resolve())


def test_articles_fetched_before_ids_were_scoped_keep_their_ids(components, sites):
    """An index written before scoping holds web articles under unscoped ids: their own site
    still updates them in place (no duplicate); another site's record with that id cannot."""
    from rag.ingest.pipeline import make_article_id

    real, evil = sites
    url = real.json("/news.json", [{"id": "harbour-1", "title": "Dredging approved", "text": REAL,
                                    "url": real.url + "/harbour"}])
    loaded = [a for a in Loader(components.settings).load([url]) if isinstance(a, Article)]
    legacy_id = make_article_id(loaded[0])
    assert legacy_id == "harbour-1"
    with components.writing():  # as the code before scoping indexed it
        ingestor = Ingestor(components)
        ingestor.add(loaded[0], article_id=legacy_id)
        ingestor.flush()
    real.json("/news.json", [{"id": "harbour-1", "title": "Dredging approved", "text": REAL + " Update.",
                              "url": real.url + "/harbour"}])
    got = _only(run_ingest(components, [url]))
    assert (got["status"], got["article_id"]) == ("updated", legacy_id)
    # The very same article from elsewhere (a feed item polled again, through another host)
    # is that article, unchanged: nothing about it changes.
    same = evil.json("/same.json", [{"id": "harbour-1", "title": "Dredging approved",
                                     "text": REAL + " Update.", "url": real.url + "/harbour"}])
    got = _only(run_ingest(components, [same]))
    assert (got["status"], got["article_id"]) == ("unchanged", legacy_id)
    attack = evil.json("/a.json", [{"id": "harbour-1", "title": "Dredging approved", "text": FORGED,
                                    "url": real.url + "/harbour"}])
    assert _only(run_ingest(components, [attack]))["article_id"] != legacy_id
    assert components.registry.get(legacy_id, with_text=True).text == REAL + " Update."
