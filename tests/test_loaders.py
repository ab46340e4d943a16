"""Unit tests for rag.loaders: files, folders, JSON/JSONL records, feeds and URLs.

Fast and offline: no embedding model, no Chroma. URL tests use a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import http.server
import itertools
import json
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from rag.ingest.decoding import LoadError, decode_bytes
from rag.ingest.fetch import Fetcher
from rag.ingest.guard import PrivateAddressError, refuse_private_address
from rag.ingest.html_pages import html_to_article
from rag.ingest.loader import Loader
from rag.ingest.records import record_to_article
from rag.ingest.text_files import parse_text_article
from rag.models import Article, LoadFailure
from rag.settings import Settings

UNREACHABLE = "http://127.0.0.1:9"  # port 9 (discard) is closed: connection refused at once
PNG_BYTES = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10"


# --------------------------------------------------------------------------- helpers


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    """Local HTTP must not go through a proxy configured in the environment."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def make_settings(tmp_path: Path, **overrides) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "data", **overrides)


def load(tmp_path: Path, *inputs: str | Path, **overrides) -> list[Article | LoadFailure]:
    return list(Loader(make_settings(tmp_path, **overrides)).load([str(i) for i in inputs]))


def load_one(tmp_path: Path, item: str | Path, **overrides) -> Article | LoadFailure:
    results = load(tmp_path, item, **overrides)
    assert len(results) == 1, results
    return results[0]


def article(result: Article | LoadFailure) -> Article:
    assert isinstance(result, Article), f"expected an article, got {result!r}"
    return result


def failure(result: Article | LoadFailure) -> LoadFailure:
    assert isinstance(result, LoadFailure), f"expected a failure, got {result!r}"
    assert result.error and "\n" not in result.error, f"error is not one line: {result.error!r}"
    return result


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


BODY = (
    "The harbor commission voted on Tuesday to extend the ferry season by three weeks, "
    "citing strong ticket sales over the summer.\n\n"
    "Commissioners said the extra sailings would run on weekends only."
)

ARTICLE_HTML = """<!DOCTYPE html>
<html><head>
<title>Lighthouse Museum Opens | Gull Point Gazette</title>
<meta property="og:site_name" content="Gull Point Gazette">
<meta property="og:title" content="Lighthouse Museum Opens">
<meta name="author" content="Priya Natarajan">
<meta property="article:published_time" content="2024-05-14T09:00:00Z">
</head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/weather">Weather desk menu</a></li></ul></nav>
<article>
<h1>Lighthouse Museum Opens</h1>
<p>The restored keeper's cottage at Gull Point opened as a small museum on Saturday, drawing a line
of visitors that stretched down to the breakwater.</p>
<p>Volunteers spent four winters repairing the roof, and the original brass lamp now sits in the front room
beside logbooks that date back to the 1880s.</p>
</article>
<footer><p>Subscribe to our newsletter footer text. All rights reserved by the footer.</p></footer>
</body></html>
"""

EMPTY_HTML = """<html><head><title>Menu</title></head><body>
<nav><a href="/">Home</a> <a href="/about">About</a></nav><footer>Footer</footer></body></html>
"""


def story_html(title: str, paragraphs: list[str], site: str = "Tidewater Courier") -> str:
    paras = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<html><head><title>{title}</title><meta property='og:site_name' content='{site}'>"
        f"<meta property='og:title' content='{title}'></head><body>"
        f"<nav><a href='/'>Home</a> <a href='/sports'>Sports section link</a></nav>"
        f"<article><h1>{title}</h1>{paras}</article><footer>Footer boilerplate text</footer></body></html>"
    )


def rss_feed(title: str, items: list[dict]) -> str:
    parts = []
    for it in items:
        parts.append(
            "<item>"
            f"<title>{it['title']}</title>"
            f"<link>{it['link']}</link>"
            f"<pubDate>{it['date']}</pubDate>"
            + (f"<description><![CDATA[{it['summary']}]]></description>" if it.get("summary") else "")
            + (f"<content:encoded><![CDATA[{it['content']}]]></content:encoded>" if it.get("content") else "")
            + "</item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"<title>{title}</title><link>http://example.org/</link><description>Feed</description>"
        + "".join(parts)
        + "</channel></rss>"
    )


# --------------------------------------------------------------------------- decode_bytes


class TestDecodeBytes:
    def test_utf8(self):
        assert decode_bytes("Zürich — naïve".encode()) == "Zürich — naïve"

    def test_utf8_bom_is_dropped(self):
        assert decode_bytes(b"\xef\xbb\xbfHello") == "Hello"

    def test_utf16_with_bom(self):
        assert decode_bytes("Grüße aus Kiel".encode("utf-16")) == "Grüße aus Kiel"

    def test_cp1252_fallback(self):
        assert decode_bytes("Café owners — “quoted”".encode("cp1252")) == "Café owners — “quoted”"

    def test_nul_bytes_are_binary(self):
        with pytest.raises(LoadError, match="binary"):
            decode_bytes(b"abc\x00def\x00")

    @pytest.mark.parametrize("magic", [b"\x89PNG\r\n\x1a\n", b"%PDF-1.7\n", b"PK\x03\x04", b"\xff\xd8\xff\xe0"])
    def test_magic_numbers_are_binary(self, magic):
        with pytest.raises(LoadError, match="binary page"):
            decode_bytes(magic + b"rest of it", "page")

    def test_undecodable(self):
        with pytest.raises(LoadError, match="undecodable") as info:
            decode_bytes(b"\x81\x8d\x8f\x90\x9d abc")
        assert "UTF-8" in str(info.value) and "1252" in str(info.value)


# --------------------------------------------------------------------------- plain text


class TestTextArticles:
    def test_title_from_first_line_and_labelled_headers(self, tmp_path):
        path = write(
            tmp_path / "budget.txt",
            "Council approves harbor budget\n"
            "Outlet: Bayside Herald\n"
            "Author: Jane Roe\n"
            "Date: 2024-06-19\n"
            "URL: https://bayside.example/budget\n"
            "\n" + BODY + "\n",
        )
        art = article(load_one(tmp_path, path))
        assert art.title == "Council approves harbor budget"
        assert art.source == "Bayside Herald"
        assert art.author == "Jane Roe"
        assert art.published == date(2024, 6, 19)
        assert art.url == "https://bayside.example/budget"
        assert art.text == BODY
        assert "Outlet:" not in art.text and "Council approves" not in art.text
        assert art.origin == str(path)
        assert art.path == str(path.resolve())

    def test_header_aliases(self):
        raw = "Ferry season extended\nPublisher: Bayside Herald\nBy: Jane Roe\nLink: https://x.example/f\n\n" + BODY
        art = parse_text_article(raw, "o", markdown=False)
        assert (art.source, art.author, art.url) == ("Bayside Herald", "Jane Roe", "https://x.example/f")

    def test_explicit_leading_date_line_is_metadata(self, tmp_path):
        path = write(tmp_path / "a.txt", "Ferry season extended\n\ndate 2023-11-12 " + BODY + "\n")
        art = article(load_one(tmp_path, path))
        assert art.published == date(2023, 11, 12)
        assert art.text == BODY
        assert "2023-11-12" not in art.text
        assert art.title == "Ferry season extended"

    def test_explicit_date_line_without_title(self):
        art = parse_text_article("date 2023-11-12 " + BODY, "o", markdown=False)
        assert art.published == date(2023, 11, 12)
        assert art.text == BODY
        assert art.title.startswith("The harbor commission voted on Tuesday")

    def test_dateline_gives_published_date(self, tmp_path):
        body = "WASHINGTON, June 19, 2024 — Lawmakers approved the harbor dredging bill late on Wednesday."
        art = article(load_one(tmp_path, write(tmp_path / "a.txt", "Dredging bill passes\n\n" + body + "\n")))
        assert art.published == date(2024, 6, 19)
        assert art.text == body  # a dateline is part of the article text

    @pytest.mark.parametrize("body", [
        "Lawmakers met again this week.\nOn June 19, 2024 the council met to discuss the harbor budget.",
        "On June 19, 2024 the council met to discuss the harbor budget in a long session.",
        "The council, which met on 2024-06-19, postponed its vote on the harbor budget.",
    ])
    def test_date_mentioned_in_body_is_not_published_date(self, tmp_path, body):
        art = article(load_one(tmp_path, write(tmp_path / "a.txt", "Council meeting\n\n" + body + "\n")))
        assert art.published is None
        assert art.text == body

    def test_outlet_lead(self, tmp_path):
        body = "(Patch.com) – The county fair returns next month with a new livestock barn and more parking."
        art = article(load_one(tmp_path, write(tmp_path / "a.txt", "County fair returns\n\n" + body + "\n")))
        assert art.source == "Patch.com"
        assert art.text == body

    @pytest.mark.parametrize("closing", ["© 2024 Bayside Herald", "This article first appeared on Bayside Herald."])
    def test_outlet_from_closing_line(self, closing):
        art = parse_text_article("Ferry season extended\n\n" + BODY + "\n\n" + closing + "\n", "o", markdown=False)
        assert art.source == "Bayside Herald"

    def test_header_outlet_beats_outlet_lead(self):
        raw = "Fair returns\nOutlet: County Times\n\n(Patch.com) – The county fair returns next month with more."
        assert parse_text_article(raw, "o", markdown=False).source == "County Times"

    def test_no_title_line_uses_first_sentence(self):
        text = "A single long paragraph " * 10 + "ends here."  # longer than 150 chars: not a title line
        art = parse_text_article(text + "\nSecond line follows here.", "o", markdown=False)
        assert art.text.startswith("A single long paragraph")
        assert len(art.title) <= 100 and art.title.startswith("A single long paragraph")

    def test_crlf_text_file(self, tmp_path):
        raw = "Ferry season extended\r\nOutlet: Bayside Herald\r\n\r\n" + BODY.replace("\n", "\r\n") + "\r\n"
        art = article(load_one(tmp_path, write(tmp_path / "a.txt", raw.encode())))
        assert art.title == "Ferry season extended"
        assert art.source == "Bayside Herald"
        assert art.text == BODY and "\r" not in art.text

    def test_uppercase_suffix_is_supported(self, tmp_path):
        art = article(load_one(tmp_path, write(tmp_path / "NOTE.TXT", "Ferry season extended\n\n" + BODY)))
        assert art.title == "Ferry season extended"

    def test_cp1252_file_is_decoded(self, tmp_path):
        raw = "Café reopens on the pier\n\nThe café at the end of the pier reopened — with a new espresso machine.\n"
        art = article(load_one(tmp_path, write(tmp_path / "cafe.txt", raw.encode("cp1252"))))
        assert art.title == "Café reopens on the pier"
        assert art.text == "The café at the end of the pier reopened — with a new espresso machine."

    def test_title_only_is_empty_article(self):
        with pytest.raises(LoadError, match="empty article"):
            parse_text_article("Just a headline\nOutlet: Bayside Herald\n", "o", markdown=False)

    def test_byline_under_title(self):
        art = parse_text_article("Ferry season extended\nBy Jane Roe\n\n" + BODY, "o", markdown=False)
        assert art.author == "Jane Roe"
        assert art.text == BODY

    def test_headers_without_title_line(self):
        art = parse_text_article("Outlet: Bayside Herald\nDate: 2024-06-19\n\n" + BODY, "o", markdown=False)
        assert art.source == "Bayside Herald"
        assert art.published == date(2024, 6, 19)
        assert not art.title.startswith("Outlet")

    def test_one_line_file_with_trailing_newline(self, tmp_path):
        line = "The harbor commission voted on Tuesday to extend the ferry season by three weeks."
        art = article(load_one(tmp_path, write(tmp_path / "one.txt", line + "\n")))
        assert art.text == line

    def test_one_line_file_without_trailing_newline(self, tmp_path):
        line = "The harbor commission voted on Tuesday to extend the ferry season by three weeks."
        art = article(load_one(tmp_path, write(tmp_path / "one.txt", line)))
        assert art.text == line and art.title == line

    def test_explicit_date_with_colon_keeps_body_on_same_line(self):
        art = parse_text_article("Ferry season extended\n\nDate: 2023-11-12 " + BODY, "o", markdown=False)
        assert art.published == date(2023, 11, 12)
        assert art.text == BODY


# --------------------------------------------------------------------------- markdown


class TestMarkdown:
    def test_front_matter_and_heading(self, tmp_path):
        raw = (
            "---\n"
            "title: Night market returns to the wharf\n"
            "outlet: Wharfside Weekly\n"
            "author: Lena Ortiz\n"
            "published: 2024-08-02\n"
            "url: https://wharfside.example/night-market\n"
            "---\n"
            "# Night market returns to the wharf\n\n" + BODY + "\n"
        )
        art = article(load_one(tmp_path, write(tmp_path / "market.md", raw)))
        assert art.title == "Night market returns to the wharf"
        assert art.source == "Wharfside Weekly"
        assert art.author == "Lena Ortiz"
        assert art.published == date(2024, 8, 2)
        assert art.url == "https://wharfside.example/night-market"
        assert art.text == BODY
        assert "---" not in art.text and "outlet:" not in art.text

    def test_front_matter_wins(self, tmp_path):
        raw = (
            "---\ntitle: Front Matter Title\nsource: Front Outlet\nauthor: Front Author\n"
            "published: 2024-08-02\nurl: https://front.example/a\n---\n"
            "# A Different Heading\n"
            "Source: Header Outlet\nAuthor: Header Author\nDate: 2020-01-01\nURL: https://header.example/a\n\n"
            + BODY + "\n"
        )
        art = article(load_one(tmp_path, write(tmp_path / "m.markdown", raw)))
        assert art.title == "Front Matter Title"
        assert art.source == "Front Outlet"
        assert art.author == "Front Author"
        assert art.published == date(2024, 8, 2)
        assert art.url == "https://front.example/a"
        assert art.text == BODY

    def test_front_matter_wins_over_header_aliases(self, tmp_path):
        raw = (
            "---\ntitle: Front Matter Title\noutlet: Front Outlet\ndate: 2024-08-02\n---\n"
            "# A Different Heading\n"
            "Outlet: Header Outlet\nPublished: 2020-01-01\n\n" + BODY + "\n"
        )
        art = article(load_one(tmp_path, write(tmp_path / "m.md", raw)))
        assert art.source == "Front Outlet"
        assert art.published == date(2024, 8, 2)

    def test_heading_is_title_without_front_matter(self, tmp_path):
        art = article(load_one(tmp_path, write(tmp_path / "m.md", "## Pier repairs begin ##\n\n" + BODY)))
        assert art.title == "Pier repairs begin"
        assert art.text == BODY

    def test_front_matter_lists_and_keys(self):
        raw = "---\nTitle: Mixed Case Keys\nauthors: [Ann Lee, Bo Park]\nsource: Valley Ledger\n---\n" + BODY
        art = parse_text_article(raw, "o", markdown=True)
        assert art.title == "Mixed Case Keys"
        assert art.author == "Ann Lee, Bo Park"
        assert art.source == "Valley Ledger"

    def test_malformed_front_matter(self, tmp_path):
        result = failure(load_one(tmp_path, write(tmp_path / "bad.md", "---\ntitle: [unclosed\n---\n" + BODY)))
        assert "front matter" in result.error

    def test_front_matter_with_crlf(self, tmp_path):
        raw = "---\r\ntitle: Windows Title\r\noutlet: Valley Ledger\r\n---\r\n\r\n" + BODY.replace("\n", "\r\n")
        art = article(load_one(tmp_path, write(tmp_path / "win.md", raw.encode())))
        assert art.title == "Windows Title"
        assert art.source == "Valley Ledger"
        assert art.text == BODY


# --------------------------------------------------------------------------- HTML


class TestHtml:
    def test_html_file(self, tmp_path):
        art = article(load_one(tmp_path, write(tmp_path / "museum.html", ARTICLE_HTML)))
        assert art.title == "Lighthouse Museum Opens"
        assert art.source == "Gull Point Gazette"
        assert art.author == "Priya Natarajan"
        assert art.published == date(2024, 5, 14)
        assert "restored keeper's cottage" in art.text
        assert "original brass lamp" in art.text
        assert "Weather desk menu" not in art.text
        assert "newsletter" not in art.text
        assert not art.text.startswith("Lighthouse Museum Opens")
        assert art.path == str((tmp_path / "museum.html").resolve())

    def test_html_to_article_uses_url_host_without_site_name(self):
        html = ARTICLE_HTML.replace('<meta property="og:site_name" content="Gull Point Gazette">', "")
        html = html.replace(" | Gull Point Gazette", "")
        art = html_to_article(html, "o", url="https://www.gullpoint.example/museum")
        assert art.source == "gullpoint.example"  # the host, without "www."
        assert art.url == "https://www.gullpoint.example/museum"

    def test_html_without_article_text(self, tmp_path):
        result = failure(load_one(tmp_path, write(tmp_path / "menu.htm", EMPTY_HTML)))
        assert "no article text" in result.error
        assert result.input == str(tmp_path / "menu.htm")

    def test_html_to_article_raises(self):
        with pytest.raises(LoadError, match="no article text"):
            html_to_article(EMPTY_HTML, "o")


# --------------------------------------------------------------------------- JSON records


RTQA_RECORD = {
    "doc_id": "rtqa_d00001",
    "url": "https://www.usatoday.example/story/ferry",
    "source_domain": "usatoday.com",
    "title": "Ferry line adds winter sailings",
    "published_date": "2026/01/22",
    "authors": ["A", "B"],
    "text": BODY,
}


class TestRecords:
    def test_realtime_qa_record(self):
        art = record_to_article(RTQA_RECORD, "rtqa.jsonl:1")
        assert art.given_id == "rtqa_d00001"
        assert art.source == "usatoday.com"
        assert art.published == date(2026, 1, 22)
        assert art.author == "A, B"
        assert art.title == "Ferry line adds winter sailings"
        assert art.url == "https://www.usatoday.example/story/ferry"
        assert art.text == BODY
        assert art.origin == "rtqa.jsonl:1"

    def test_record_dateline_gives_published_date_when_no_date_field(self):
        text = "WASHINGTON, June 19, 2024 — Lawmakers approved the harbor dredging bill late on Wednesday."
        assert record_to_article({"title": "Bill", "text": text}, "o").published == date(2024, 6, 19)
        dated = record_to_article({"title": "Bill", "text": text, "date": "2024-06-21"}, "o")
        assert dated.published == date(2024, 6, 21)  # the record's own field wins

    def test_multihop_rag_record(self):
        record = {"title": "Grid upgrade", "author": None, "source": "The Verge", "published_at":
                  "2023-09-26T16:00:00+00:00", "category": "technology", "url": "https://v.example/g", "body": BODY}
        art = record_to_article(record, "o")
        assert (art.source, art.published, art.author, art.text) == ("The Verge", date(2023, 9, 26), None, BODY)

    @pytest.mark.parametrize("field", ["text", "body", "content"])
    def test_text_fields(self, field):
        assert record_to_article({field: BODY}, "o").text == BODY

    def test_empty_text_field_falls_through(self):
        assert record_to_article({"text": "", "body": BODY}, "o").text == BODY

    def test_text_as_list_of_paragraphs(self):
        art = record_to_article({"text": ["First paragraph here.", "Second paragraph here."]}, "o")
        assert art.text == "First paragraph here.\n\nSecond paragraph here."

    @pytest.mark.parametrize("field,value,expected", [
        ("source", "Reuters", "Reuters"),
        ("source_domain", "apnews.com", "apnews.com"),
        ("outlet", "Valley Ledger", "Valley Ledger"),
        ("source", {"id": None, "name": "BBC News"}, "BBC News"),
    ])
    def test_source_fields(self, field, value, expected):
        assert record_to_article({"text": BODY, field: value}, "o").source == expected

    @pytest.mark.parametrize("field,value", [
        ("published", "2024-06-19"),
        ("published_date", "2024/06/19"),
        ("published_at", "2024-06-19T22:15:00Z"),
        ("date", "June 19, 2024"),
        ("published", "19 June 2024"),
    ])
    def test_date_fields(self, field, value):
        assert record_to_article({"text": BODY, field: value}, "o").published == date(2024, 6, 19)

    def test_unreadable_date_is_ignored(self):
        assert record_to_article({"text": BODY, "published": "sometime last week"}, "o").published is None

    @pytest.mark.parametrize("value", ["Monday", "20 June", "June 2024", "2024"])
    def test_partial_date_is_not_completed_from_today(self, value):
        """dateutil would fill the missing day, month or year from today's date."""
        assert record_to_article({"text": BODY, "published": value}, "o").published is None

    @pytest.mark.parametrize("field,value,expected", [
        ("author", "Jane Roe", "Jane Roe"),
        ("authors", ["Jane Roe", "Sam Lee"], "Jane Roe, Sam Lee"),
        ("authors", [{"name": "Jane Roe"}, {"name": "Sam Lee"}], "Jane Roe, Sam Lee"),
    ])
    def test_author_fields(self, field, value, expected):
        assert record_to_article({"text": BODY, field: value}, "o").author == expected

    @pytest.mark.parametrize("field,value,expected", [("id", "abc-1", "abc-1"), ("doc_id", "d7", "d7"), ("id", 42, "42")])
    def test_id_fields(self, field, value, expected):
        assert record_to_article({"text": BODY, field: value}, "o").given_id == expected

    def test_url_and_missing_title(self):
        art = record_to_article({"text": BODY, "url": "https://x.example/a"}, "o")
        assert art.url == "https://x.example/a"
        assert art.title.startswith("The harbor commission voted on Tuesday")

    def test_no_text(self):
        with pytest.raises(LoadError, match="no article text"):
            record_to_article({"title": "Only a title", "text": "   "}, "o")

    def test_not_an_object(self):
        with pytest.raises(LoadError, match="expected a JSON object.*list"):
            record_to_article(["not", "a", "record"], "o")


class TestJsonFiles:
    def test_list_of_records(self, tmp_path):
        records = [dict(RTQA_RECORD), {"title": "Second", "body": BODY, "id": "s2"}]
        path = write(tmp_path / "list.json", json.dumps(records))
        results = load(tmp_path, path)
        arts = [article(r) for r in results]
        assert [a.given_id for a in arts] == ["rtqa_d00001", "s2"]
        assert [a.origin for a in arts] == [f"{path}[0]", f"{path}[1]"]
        assert all(a.path == str(path.resolve()) for a in arts)

    @pytest.mark.parametrize("key", ["articles", "items"])
    def test_wrapped_records(self, tmp_path, key):
        path = write(tmp_path / "wrapped.json", json.dumps({key: [{"title": "One", "content": BODY}], "total": 1}))
        art = article(load_one(tmp_path, path))
        assert art.title == "One" and art.text == BODY

    def test_single_record(self, tmp_path):
        path = write(tmp_path / "one.json", json.dumps(RTQA_RECORD))
        art = article(load_one(tmp_path, path))
        assert art.given_id == "rtqa_d00001"
        assert art.origin == str(path)

    def test_bad_record_among_good(self, tmp_path):
        path = write(tmp_path / "mixed.json", json.dumps([{"title": "x"}, {"text": BODY}, "junk"]))
        results = load(tmp_path, path)
        assert len(results) == 3
        assert "no article text" in failure(results[0]).error and results[0].input == f"{path}[0]"
        assert article(results[1]).text == BODY
        assert "expected a JSON object" in failure(results[2]).error

    def test_malformed_json_mentions_line(self, tmp_path):
        path = write(tmp_path / "bad.json", '[\n  {"text": "fine"},\n  {"text": oops}\n]\n')
        result = failure(load_one(tmp_path, path))
        assert "malformed JSON" in result.error and "line 3" in result.error
        assert result.input == str(path)

    def test_empty_list(self, tmp_path):
        assert "no articles" in failure(load_one(tmp_path, write(tmp_path / "e.json", "[]"))).error

    def test_record_over_limit(self, tmp_path):
        path = write(tmp_path / "long.json", json.dumps([{"text": "word " * 200}, {"text": BODY}]))
        results = load(tmp_path, path, max_article_chars=500)
        assert "too long" in failure(results[0]).error
        assert article(results[1]).text == BODY


# --------------------------------------------------------------------------- JSONL


class TestJsonl:
    def test_records_blank_lines_and_bad_lines(self, tmp_path):
        lines = [
            json.dumps({"id": "r1", "title": "First", "text": BODY}),
            "",
            "   ",
            '{"id": "r2", "title": "Broken", "text": ',  # line 4: malformed
            json.dumps({"id": "r3", "title": "No text"}),  # line 5: no text
            json.dumps({"id": "r4", "title": "Last", "body": BODY}),
        ]
        path = write(tmp_path / "corpus.jsonl", "\n".join(lines) + "\n")
        results = load(tmp_path, path)
        assert len(results) == 4
        assert article(results[0]).given_id == "r1" and results[0].origin == f"{path}:1"
        bad = failure(results[1])
        assert bad.input.endswith(":4") and bad.input == f"{path}:4"
        assert "line 4" in bad.error and "malformed JSON" in bad.error
        missing = failure(results[2])
        assert missing.input == f"{path}:5" and "no article text" in missing.error
        assert article(results[3]).given_id == "r4" and results[3].origin == f"{path}:6"
        assert results[3].path == str(path.resolve())

    def test_ndjson_and_bom(self, tmp_path):
        raw = "\ufeff" + json.dumps(RTQA_RECORD) + "\n"
        art = article(load_one(tmp_path, write(tmp_path / "x.ndjson", raw)))
        assert art.given_id == "rtqa_d00001" and art.author == "A, B"

    def test_non_object_line(self, tmp_path):
        path = write(tmp_path / "x.jsonl", "[1, 2]\n" + json.dumps({"text": BODY}) + "\n")
        results = load(tmp_path, path)
        assert "expected a JSON object" in failure(results[0]).error and results[0].input == f"{path}:1"
        assert article(results[1]).text == BODY

    def test_line_over_limit(self, tmp_path):
        path = write(tmp_path / "x.jsonl", json.dumps({"text": "word " * 200}) + "\n" + json.dumps({"text": BODY}))
        results = load(tmp_path, path, max_article_chars=500)
        assert "too long" in failure(results[0]).error and results[0].input == f"{path}:1"
        assert article(results[1]).text == BODY

    def test_blank_only_file(self, tmp_path):
        assert "empty" in failure(load_one(tmp_path, write(tmp_path / "blank.jsonl", "\n\n  \n"))).error

    def test_multibyte_character_across_the_first_8_kb(self, tmp_path):
        """A good UTF-8 file whose byte 8,192 falls inside a character, with a curly quote (not
        Windows-1252 either) before it: every record loads."""
        first = json.dumps({"id": "q1", "text": "\u201cQuoted,\u201d she said. " + BODY}, ensure_ascii=False)
        last = json.dumps({"id": "q3", "text": BODY + " " + "\u00e9" * 5000}, ensure_ascii=False)
        for pad in (100, 101):  # one of them puts the first byte of an "é" at byte 8,191
            filler = json.dumps({"id": "pad", "text": "x" * pad})
            data = f"{first}\n{filler}\n{last}\n".encode()
            if data[8191] == 0xC3:
                break
        assert data[8191] == 0xC3 and data[8192] == 0xA9
        path = tmp_path / "utf8.jsonl"
        path.write_bytes(data)
        results = load(tmp_path, path, max_article_chars=20_000)
        assert [article(r).given_id for r in results] == ["q1", "pad", "q3"]

    def test_lazy_on_big_file(self, tmp_path):
        path = tmp_path / "big.jsonl"
        record = {"title": "Item", "text": BODY}
        with path.open("w", encoding="utf-8") as fh:
            for n in range(30_000):
                record["id"] = f"big-{n}"
                fh.write(json.dumps(record) + "\n")
        results = Loader(make_settings(tmp_path)).load([str(path)])
        assert isinstance(results, Iterator)
        started = time.perf_counter()
        first = next(itertools.islice(results, 1))
        assert article(first).given_id == "big-0"
        assert time.perf_counter() - started < 2.0
        results.close()  # closes the open file

    def test_reads_file_as_a_stream(self, tmp_path):
        """Records appended after the first article was taken are still seen: the file is streamed."""
        path = tmp_path / "grow.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            for n in range(2_000):  # well beyond one read buffer
                fh.write(json.dumps({"id": f"g{n}", "text": BODY}) + "\n")
        results = Loader(make_settings(tmp_path)).load([str(path)])
        assert article(next(results)).given_id == "g0"
        with path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"id": "appended", "text": BODY}) + "\n")
        rest = list(results)
        assert len(rest) == 2_000
        assert rest[-1].given_id == "appended"

    def test_a_path_we_may_not_look_at_fails_alone(self, tmp_path, monkeypatch):
        """EACCES from stat() (a folder we may not enter, as a normal user) is that input's
        failure; the other inputs still load. (Tests run as root here, so stat() is made to fail.)"""
        good = write(tmp_path / "good.txt", f"Good story\n\n{BODY}")
        locked = tmp_path / "locked" / "x.md"
        real_exists = Path.exists

        def exists(self, *args, **kwargs):
            if self == locked:
                raise PermissionError(13, "Permission denied")
            return real_exists(self, *args, **kwargs)

        monkeypatch.setattr(Path, "exists", exists)
        results = load(tmp_path, locked, good)
        assert failure(results[0]).error == "cannot read: Permission denied"
        assert article(results[1]).title == "Good story"

    def test_inputs_are_consumed_lazily(self, tmp_path):
        paths = [write(tmp_path / f"{n}.txt", f"Story {n}\n\n{BODY}") for n in range(3)]
        pulled = []

        def inputs():
            for p in paths:
                pulled.append(p)
                yield str(p)

        results = Loader(make_settings(tmp_path)).load(inputs())
        assert pulled == []
        assert article(next(results)).title == "Story 0"
        assert pulled == paths[:1]
        assert [a.title for a in results] == ["Story 1", "Story 2"]


# --------------------------------------------------------------------------- feed files


# Feed items under 40 words are skipped, not articles (rag.ingest.feeds.MIN_FEED_ITEM_WORDS): the
# items below carry this tail to stay articles.
TAIL = ("Residents, business owners and local officials followed the news closely this week, and the "
        "council said it would publish a full report with figures, dates and next steps soon. Until then, "
        "the office answers questions by phone and posts updates on its notice board every morning.")

RSS_FILE = rss_feed("Coast Times", [
    {
        "title": "Harbor Bridge Reopens",
        "link": f"{UNREACHABLE}/bridge",
        "date": "Tue, 05 Mar 2024 08:00:00 GMT",
        "summary": "<p>The Harbor Bridge reopened to traffic on <b>Tuesday</b> after repairs.</p>"
                   f"<p>Tolls will stay the same through next year, officials said.</p><p>{TAIL}</p>",
    },
    {
        "title": "Ferry schedule changes",
        "link": f"{UNREACHABLE}/ferry",
        "date": "Wed, 06 Mar 2024 09:30:00 GMT",
        "content": f"<div>The island ferry will add two evening crossings in April.<br>Fares are unchanged. {TAIL}</div>",
    },
])

ATOM_FILE = f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Valley Ledger</title><id>urn:valley</id>
<updated>2024-04-02T10:00:00Z</updated>
<entry><title>Orchard harvest starts early</title><link rel="alternate" href="{UNREACHABLE}/orchard"/><id>urn:1</id>
<published>2024-04-01T07:00:00Z</published><updated>2024-04-02T10:00:00Z</updated>
<author><name>Sam Lee</name></author>
<content type="html">&lt;p&gt;Growers in the valley began picking apples two weeks early this year.&lt;/p&gt;&lt;p&gt;A warm
spring is to blame, the cooperative said.&lt;/p&gt;&lt;p&gt;{TAIL}&lt;/p&gt;</content></entry>
<entry><title>Dam inspection finds no faults</title><link href="{UNREACHABLE}/dam"/><id>urn:2</id>
<updated>2024-04-03T12:00:00Z</updated>
<summary>Engineers finished the yearly inspection of the upper dam and reported no structural faults. {TAIL}</summary>
</entry>
</feed>"""


class TestFeedFiles:
    @pytest.mark.parametrize("name", ["coast.xml", "coast.rss"])
    def test_rss_file(self, tmp_path, name):
        path = write(tmp_path / name, RSS_FILE)
        results = load(tmp_path, path, http_timeout=3)
        arts = [article(r) for r in results]
        assert [a.title for a in arts] == ["Harbor Bridge Reopens", "Ferry schedule changes"]
        assert [a.url for a in arts] == [f"{UNREACHABLE}/bridge", f"{UNREACHABLE}/ferry"]
        assert [a.published for a in arts] == [date(2024, 3, 5), date(2024, 3, 6)]
        assert {a.source for a in arts} == {"Coast Times"}
        assert arts[0].text == (
            "The Harbor Bridge reopened to traffic on Tuesday after repairs.\n\n"
            "Tolls will stay the same through next year, officials said.\n\n" + TAIL
        )
        assert "<" not in arts[1].text
        assert "evening crossings in April." in arts[1].text and "Fares are unchanged." in arts[1].text
        assert [a.origin for a in arts] == [f"{path}#1", f"{path}#2"]
        assert all(a.path == str(path.resolve()) and a.given_id is None for a in arts)

    def test_atom_file(self, tmp_path):
        path = write(tmp_path / "valley.atom", ATOM_FILE)
        arts = [article(r) for r in load(tmp_path, path, http_timeout=3)]
        assert [a.title for a in arts] == ["Orchard harvest starts early", "Dam inspection finds no faults"]
        assert [a.published for a in arts] == [date(2024, 4, 1), date(2024, 4, 3)]  # published, else updated
        assert [a.url for a in arts] == [f"{UNREACHABLE}/orchard", f"{UNREACHABLE}/dam"]
        assert {a.source for a in arts} == {"Valley Ledger"}
        assert arts[0].author == "Sam Lee"
        assert arts[0].text.startswith("Growers in the valley began picking apples")
        assert "<p>" not in arts[0].text and "&lt;" not in arts[0].text
        assert arts[1].text == "Engineers finished the yearly inspection of the upper dam and reported no structural faults. " + TAIL

    def test_date_as_the_publisher_wrote_it(self, tmp_path):
        """10 p.m. in New York is the next day in UTC; the item is dated as published, as the same
        date in a JSON record is."""
        feed = rss_feed("Coast Times", [
            {"title": "Late story", "link": f"{UNREACHABLE}/late", "date": "Thu, 20 Jun 2024 22:00:00 -0400",
             "summary": "A story filed late in the evening, with enough words in its summary. " + TAIL},
        ])
        arts = [article(r) for r in load(tmp_path, write(tmp_path / "late.xml", feed), http_timeout=3)]
        assert [a.published for a in arts] == [date(2024, 6, 20)]
        assert record_to_article({"text": BODY, "published": "Thu, 20 Jun 2024 22:00:00 -0400"}, "o").published \
            == date(2024, 6, 20)

    def test_entry_without_text(self, tmp_path):
        feed = rss_feed("Coast Times", [
            {"title": "Empty entry", "link": f"{UNREACHABLE}/empty", "date": "Tue, 05 Mar 2024 08:00:00 GMT"},
            {"title": "Full entry", "link": f"{UNREACHABLE}/full", "date": "Tue, 05 Mar 2024 08:00:00 GMT",
             "summary": "A full entry with enough words in its summary to count. " + TAIL},
        ])
        path = write(tmp_path / "f.xml", feed)
        results = load(tmp_path, path, http_timeout=3)
        assert "no text" in failure(results[0]).error and results[0].input == f"{path}#1"
        assert article(results[1]).title == "Full entry"

    @pytest.mark.parametrize("name,content,word", [
        ("empty.xml", b"", "empty"),
        ("blank.rss", b"  \n \n", "empty"),
        ("image.atom", PNG_BYTES, "binary"),
    ])
    def test_bad_feed_files_get_specific_reasons(self, tmp_path, name, content, word):
        assert word in failure(load_one(tmp_path, write(tmp_path / name, content))).error

    def test_not_a_feed(self, tmp_path):
        path = write(tmp_path / "config.xml", '<?xml version="1.0"?><settings><a>1</a></settings>')
        assert "not an RSS/Atom feed" in failure(load_one(tmp_path, path)).error


# --------------------------------------------------------------------------- bad inputs


class TestBadInputs:
    def test_missing_path(self, tmp_path):
        result = failure(load_one(tmp_path, tmp_path / "nope.txt"))
        assert "no such file" in result.error and result.input == str(tmp_path / "nope.txt")

    @pytest.mark.parametrize("name", ["empty.txt", "empty.md", "empty.html", "empty.json", "empty.jsonl"])
    def test_empty_file(self, tmp_path, name):
        assert "empty" in failure(load_one(tmp_path, write(tmp_path / name, b""))).error

    @pytest.mark.parametrize("name", ["blank.txt", "blank.md", "blank.html", "blank.json"])
    def test_whitespace_only_file(self, tmp_path, name):
        assert "empty" in failure(load_one(tmp_path, write(tmp_path / name, " \n\t\n  \r\n"))).error

    @pytest.mark.parametrize("content", [b"Title\x00\x00\x01binary junk\x00", PNG_BYTES])
    @pytest.mark.parametrize("name", ["data.txt", "data.md", "data.html", "data.json"])
    def test_binary_file(self, tmp_path, content, name):
        assert "binary" in failure(load_one(tmp_path, write(tmp_path / name, content))).error

    def test_binary_jsonl_gives_only_failures(self, tmp_path):
        results = load(tmp_path, write(tmp_path / "data.jsonl", PNG_BYTES))
        assert results and all(isinstance(failure(r), LoadFailure) for r in results)
        assert "binary" in results[0].error

    def test_binary_jsonl_is_one_failure(self, tmp_path):
        result = failure(load_one(tmp_path, write(tmp_path / "data.jsonl", PNG_BYTES)))
        assert "binary" in result.error

    def test_undecodable_file(self, tmp_path):
        result = failure(load_one(tmp_path, write(tmp_path / "weird.txt", b"\x81\x8d\x8f\x90\x9d abc")))
        assert "undecodable" in result.error

    @pytest.mark.parametrize("name", ["report.pdf", "README"])
    def test_unsupported_extension(self, tmp_path, name):
        result = failure(load_one(tmp_path, write(tmp_path / name, b"%PDF-1.4 whatever")))
        assert "unsupported file type" in result.error
        assert (".pdf" if name.endswith(".pdf") else "(none)") in result.error

    def test_text_article_too_long(self, tmp_path):
        path = write(tmp_path / "long.txt", "Long story\n\n" + "word " * 150)  # ~750 chars, < 4x limit in bytes
        result = failure(load_one(tmp_path, path, max_article_chars=500))
        assert "too long" in result.error

    def test_text_file_too_large(self, tmp_path):
        path = write(tmp_path / "huge.md", "# Huge\n\n" + "word " * 1000)  # > 4x the limit in bytes
        result = failure(load_one(tmp_path, path, max_article_chars=500))
        assert "too large" in result.error or "too long" in result.error

    def test_html_article_too_long(self, tmp_path):
        paras = [f"Paragraph number {n} of a long report on the harbor works and the ferry timetable."
                 for n in range(12)]
        path = write(tmp_path / "long.html", story_html("Long report", paras))
        result = failure(load_one(tmp_path, path, max_article_chars=500))
        assert "too long" in result.error or "too large" in result.error

    def test_empty_folder(self, tmp_path):
        folder = tmp_path / "empty"
        folder.mkdir()
        assert "no supported files" in failure(load_one(tmp_path, folder)).error

    def test_folder_without_supported_files(self, tmp_path):
        folder = tmp_path / "misc"
        write(folder / "scan.pdf", b"%PDF-1.4")
        write(folder / "photo.png", b"\x89PNG\r\n\x1a\n")
        write(folder / ".hidden.txt", "Hidden\n\n" + BODY)
        result = failure(load_one(tmp_path, folder))
        assert "no supported files" in result.error and result.input == str(folder)

    def test_one_bad_input_does_not_stop_the_others(self, tmp_path):
        good = write(tmp_path / "good.txt", "Good story\n\n" + BODY)
        results = load(tmp_path, tmp_path / "missing.txt", write(tmp_path / "x.pdf", b"x"), good)
        assert [type(r).__name__ for r in results] == ["LoadFailure", "LoadFailure", "Article"]


# --------------------------------------------------------------------------- folders


class TestFolders:
    def test_recursive_sorted_hidden_and_unsupported_skipped(self, tmp_path):
        root = tmp_path / "news"
        write(root / "b.txt", "Story B\n\n" + BODY)
        write(root / "a.md", "# Story A\n\n" + BODY)
        write(root / "sub" / "c.json", json.dumps({"title": "Story C", "text": BODY}))
        write(root / "sub" / "deeper" / "d.jsonl", json.dumps({"title": "Story D", "text": BODY}) + "\n")
        write(root / "sub" / "e.html", story_html("Story E", [BODY.replace("\n\n", " ")]))
        write(root / ".hidden.txt", "Hidden story\n\n" + BODY)
        write(root / ".git" / "notes.txt", "Git notes\n\n" + BODY)
        write(root / "sub" / ".cache" / "x.json", json.dumps({"title": "Cached", "text": BODY}))
        write(root / "scan.pdf", b"%PDF-1.4 binary")
        write(root / "sub" / "photo.png", b"\x89PNG\r\n\x1a\n")
        write(root / "Makefile", "all:\n\techo hi\n")
        results = load(tmp_path, root)
        arts = [article(r) for r in results]
        assert [a.title for a in arts] == ["Story A", "Story B", "Story C", "Story D", "Story E"]
        assert [a.origin for a in arts] == [
            str(root / "a.md"), str(root / "b.txt"), str(root / "sub" / "c.json"),
            f"{root / 'sub' / 'deeper' / 'd.jsonl'}:1", str(root / "sub" / "e.html"),
        ]

    def test_folder_inside_hidden_directory_still_loads(self, tmp_path):
        root = tmp_path / ".config" / "articles"
        write(root / "a.txt", "Story A\n\n" + BODY)
        assert article(load_one(tmp_path, root)).title == "Story A"

    def test_failures_inside_folder_are_reported_per_file(self, tmp_path):
        root = tmp_path / "mixed"
        write(root / "a.txt", "Story A\n\n" + BODY)
        write(root / "b.txt", b"")
        write(root / "c.json", "{oops")
        results = load(tmp_path, root)
        assert article(results[0]).title == "Story A"
        assert failure(results[1]).input == str(root / "b.txt") and "empty" in results[1].error
        assert failure(results[2]).input == str(root / "c.json") and "malformed JSON" in results[2].error


# --------------------------------------------------------------------------- URLs


PAGE_ONE = [
    "The tidal power pilot in the northern channel delivered its first electricity to the grid on Monday.",
    "Engineers said the two turbines produced more power than expected during the spring tides.",
    "FULLTEXT-ONE: the operator will decide next year whether to install eight more turbines.",
]
PAGE_TWO = [
    "Fishing crews in the bay reported the best herring catch in a decade during the autumn season.",
    "FULLTEXT-TWO: prices at the harbor auction fell as boats returned with full holds each morning.",
    "Buyers from three countries came to the auction, and the harbor master said the quay would stay open "
    "late on weekdays until the end of the season so that every boat could land its catch in time.",
]


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict = {}
    release = threading.Event()
    seen: list[str] = []  # every path requested, in order

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        self.seen.append(self.path)
        route = self.routes.get(self.path)
        if route is None:
            self.send_error(404, "Not Found")
            return
        status, ctype, body, options = route
        if options.get("sleep"):
            self.release.wait(options["sleep"])
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if options.get("location"):
            self.send_header("Location", options["location"])
        if not options.get("no_length"):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # a client that gave up (timeout, too large) is fine
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    feed = rss_feed("Tidewater Courier", [
        {"title": "Tidal power pilot goes live", "link": f"{base}/story1.html",
         "date": "Mon, 10 Jun 2024 06:00:00 GMT", "summary": f"Tidal turbines start. {TAIL} Read more..."},
        {"title": "Record herring season", "link": f"{base}/story2.html",
         "date": "Tue, 11 Jun 2024 06:00:00 GMT", "summary": "<p>Herring catch is up. Read more...</p>"},
        {"title": "Link without article text", "link": f"{base}/menu.html",
         "date": "Wed, 12 Jun 2024 06:00:00 GMT",
         "summary": f"<p>The summary is the only text for this entry, and that is enough. {TAIL}</p>"},
    ])
    html = "text/html; charset=utf-8"
    records = [
        {"id": "api-1", "title": "From the API", "text": BODY, "source": "Wire", "published": "2024-06-19"},
        {"id": "api-2", "title": "With its own URL", "text": BODY, "url": "https://wire.example/2"},
    ]
    plain = "Harbor notice\nOutlet: Port Office\nDate: 2024-07-01\n\n" + BODY
    _Handler.routes = {
        "/article.html": (200, html, ARTICLE_HTML.encode(), {}),
        "/story1.html": (200, html, story_html("Tidal power pilot goes live", PAGE_ONE).encode(), {}),
        "/story2.html": (200, html, story_html("Record herring season", PAGE_TWO).encode(), {}),
        "/menu.html": (200, html, EMPTY_HTML.encode(), {}),
        "/feed.rss": (200, "application/rss+xml", feed.encode(), {}),
        "/feed-as-html": (200, html, feed.encode(), {}),
        "/api/articles": (200, "application/json", json.dumps(records).encode(), {}),
        "/notice.txt": (200, "text/plain; charset=utf-8", plain.encode(), {}),
        "/logo.png": (200, "image/png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, {}),
        "/big.html": (200, html, b"<p>" + b"x" * 5000 + b"</p>", {}),
        "/big-stream.html": (200, html, b"<p>" + b"y" * 5000 + b"</p>", {"no_length": True}),
        "/slow.html": (200, html, ARTICLE_HTML.encode(), {"sleep": 3.0}),
        "/empty.html": (200, html, b"", {}),
        "/moved": (301, html, b"", {"location": "/article.html"}),
    }
    _Handler.release.clear()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        _Handler.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


class TestUrls:
    def test_html_page(self, tmp_path, server):
        url = f"{server}/article.html"
        art = article(load_one(tmp_path, url))
        assert art.title == "Lighthouse Museum Opens"
        assert art.source == "Gull Point Gazette"
        assert art.author == "Priya Natarajan"
        assert art.published == date(2024, 5, 14)
        assert art.url == url and art.origin == url and art.path is None
        assert "original brass lamp" in art.text and "Weather desk menu" not in art.text

    @pytest.mark.parametrize("route", ["/feed.rss", "/feed-as-html"])
    def test_feed_full_text_from_linked_pages(self, tmp_path, server, route):
        results = load(tmp_path, f"{server}{route}", http_timeout=5)
        arts = [article(r) for r in results]
        assert [a.title for a in arts] == [
            "Tidal power pilot goes live", "Record herring season", "Link without article text"]
        assert [a.url for a in arts] == [f"{server}/story1.html", f"{server}/story2.html", f"{server}/menu.html"]
        assert [a.published for a in arts] == [date(2024, 6, 10), date(2024, 6, 11), date(2024, 6, 12)]
        assert {a.source for a in arts} == {"Tidewater Courier"}
        assert "FULLTEXT-ONE" in arts[0].text and "Read more" not in arts[0].text
        assert "FULLTEXT-TWO" in arts[1].text and "Read more" not in arts[1].text
        assert "Sports section link" not in arts[0].text
        # the linked page has no article text: the feed's summary is used
        assert arts[2].text == "The summary is the only text for this entry, and that is enough. " + TAIL
        assert [a.origin for a in arts] == [f"{server}{route}#{n}" for n in (1, 2, 3)]

    def test_json_endpoint(self, tmp_path, server):
        url = f"{server}/api/articles"
        arts = [article(r) for r in load(tmp_path, url)]
        assert [a.given_id for a in arts] == ["api-1", "api-2"]
        assert arts[0].source == "Wire" and arts[0].published == date(2024, 6, 19)
        assert arts[0].url is None and arts[0].locator == f"{url}[0]"  # identity: its place in the response
        assert arts[1].url == "https://wire.example/2"
        assert [a.origin for a in arts] == [f"{url}[0]", f"{url}[1]"]

    def test_plain_text_endpoint(self, tmp_path, server):
        url = f"{server}/notice.txt"
        art = article(load_one(tmp_path, url))
        assert (art.title, art.source, art.published, art.url) == ("Harbor notice", "Port Office", date(2024, 7, 1), url)
        assert art.text == BODY

    def test_redirect_is_followed(self, tmp_path, server):
        art = article(load_one(tmp_path, f"{server}/moved"))
        assert art.title == "Lighthouse Museum Opens"
        assert art.origin == f"{server}/moved"
        assert art.url == f"{server}/article.html"  # the final URL

    def test_url_guard_sees_redirects_and_feed_links(self, tmp_path, server):
        """A guard refusing some URLs stops a redirect to one and a feed item's link to one before
        any request is sent (the bot's guard against its host's internal addresses)."""
        checked = []

        def guard(url: str) -> None:
            checked.append(url)
            if url.endswith(("/article.html", "/story1.html")):
                raise PrivateAddressError(f"{url} refused")

        settings = make_settings(tmp_path, http_timeout=5)
        _Handler.seen.clear()
        loader = Loader(settings, Fetcher(settings, url_guard=guard))
        moved, *feed = list(loader.load([f"{server}/moved", f"{server}/feed.rss"]))
        assert failure(moved).error == f"{server}/article.html refused"
        first, second, _ = [article(r) for r in feed]
        assert first.text.startswith("Tidal turbines start.")  # the feed's own text, not the page
        assert "FULLTEXT-TWO" in second.text
        assert checked[:2] == [f"{server}/moved", f"{server}/article.html"]
        assert f"{server}/story1.html" in checked
        assert "/article.html" not in _Handler.seen and "/story1.html" not in _Handler.seen
        assert "/moved" in _Handler.seen and "/story2.html" in _Handler.seen

    def test_private_address_guard(self, tmp_path, server):
        settings = make_settings(tmp_path, http_timeout=5)
        loader = Loader(settings, Fetcher(settings, url_guard=refuse_private_address))
        result = failure(next(iter(loader.load([f"{server}/article.html"]))))
        assert "127.0.0.1 is a private or local address" in result.error
        with pytest.raises(PrivateAddressError, match="private or local"):
            refuse_private_address("http://169.254.169.254/latest/meta-data")

    def test_404(self, tmp_path, server):
        result = failure(load_one(tmp_path, f"{server}/does-not-exist"))
        assert "404" in result.error and result.input == f"{server}/does-not-exist"

    def test_unsupported_content_type(self, tmp_path, server):
        result = failure(load_one(tmp_path, f"{server}/logo.png"))
        assert "unsupported content type" in result.error and "image/png" in result.error

    @pytest.mark.parametrize("route", ["/big.html", "/big-stream.html"])
    def test_response_too_large(self, tmp_path, server, route):
        result = failure(load_one(tmp_path, f"{server}{route}", http_max_bytes=1000))
        assert "too large" in result.error and "1000" in result.error

    def test_empty_response(self, tmp_path, server):
        assert "empty response" in failure(load_one(tmp_path, f"{server}/empty.html")).error

    def test_page_without_article_text(self, tmp_path, server):
        assert "no article text" in failure(load_one(tmp_path, f"{server}/menu.html")).error

    def test_unreachable(self, tmp_path):
        result = failure(load_one(tmp_path, f"{UNREACHABLE}/x", http_timeout=3))
        assert "unreachable" in result.error and result.input == f"{UNREACHABLE}/x"

    def test_timeout(self, tmp_path, server):
        started = time.perf_counter()
        result = failure(load_one(tmp_path, f"{server}/slow.html", http_timeout=0.5))
        assert "timed out" in result.error and "0.5" in result.error
        assert time.perf_counter() - started < 2.5

    def test_urls_and_files_mixed_in_order(self, tmp_path, server):
        path = write(tmp_path / "local.txt", "Local story\n\n" + BODY)
        results = load(tmp_path, f"{server}/article.html", path, f"{server}/does-not-exist")
        assert article(results[0]).title == "Lighthouse Museum Opens"
        assert article(results[1]).title == "Local story"
        assert "404" in failure(results[2]).error
