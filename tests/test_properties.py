"""Property tests of the loaders and parsers (issue #18): whatever the bytes, JSON, front matter or
feed, the only outcome of one input is its articles or its failures, and a good input beside it
still loads (and is indexed). Kept short: under 30 s on 2 cores."""

from __future__ import annotations

import json
import tempfile
from datetime import date
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.ingest.decoding import LoadError
from rag.ingest.fetch import Fetcher
from rag.ingest.fields import (
    AUTHOR_FIELDS,
    AUTHOR_MAX_CHARS,
    DATE_FIELDS,
    ID_FIELDS,
    SOURCE_FIELDS,
    SOURCE_MAX_CHARS,
    TEXT_FIELDS,
    TITLE_FIELDS,
    TITLE_MAX_CHARS,
    URL_FIELDS,
    as_name,
)
from rag.ingest.html_pages import html_to_article, screen_markup
from rag.ingest.loader import Loader
from rag.ingest.text_files import parse_text_article
from rag.models import Article, LoadFailure
from rag.settings import Settings
from rag.text.dates import leading_date, parse_date

FEW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SOME = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

BODY = (
    "The harbor commission voted on Tuesday to extend the ferry season by three weeks, "
    "citing strong ticket sales over the summer.\n\n"
    "Commissioners said the extra sailings would run on weekends only."
)

GOOD_MD = f"---\ntitle: Ferry season extended\nsource: Gull Point Gazette\n---\n\n{BODY}\n"

SUFFIXES = (".txt", ".md", ".html", ".json", ".jsonl", ".xml", ".atom")


class OfflineFetcher(Fetcher):
    """A fetcher that reaches nothing: a feed item's link fails that item."""

    def get(self, url: str) -> tuple[bytes, str, str]:
        raise LoadError("offline (test)")


def load_beside_good(files: dict[str, bytes]) -> list[Article | LoadFailure]:
    """Load a folder of `files` (name: bytes) and a good article, checking what every loader
    promises: only articles and one-line failures come out, the good article among them."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        for name, data in files.items():
            (folder / name).write_bytes(data)
        (folder / "zz_good.md").write_text(GOOD_MD, encoding="utf-8")
        config = Settings(_env_file=None, data_dir=Path(tmp) / "data")
        results = list(Loader(config, OfflineFetcher(config)).load([str(folder)]))
    for r in results:
        assert isinstance(r, Article | LoadFailure), r
        if isinstance(r, LoadFailure):
            assert r.input and r.error and "\n" not in r.error, r
        else:
            check_article(r)
    assert any(isinstance(r, Article) and r.title == "Ferry season extended" for r in results), results
    return results


def check_article(art: Article) -> None:
    assert art.text.strip() and "\x00" not in art.text
    assert art.title and len(art.title) <= TITLE_MAX_CHARS
    assert art.source is None or len(art.source) <= SOURCE_MAX_CHARS
    assert art.author is None or len(art.author) <= AUTHOR_MAX_CHARS
    assert art.published is None or isinstance(art.published, date)


# --------------------------------------------------------------------------- strategies

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
field_names = st.sampled_from(TEXT_FIELDS + TITLE_FIELDS + URL_FIELDS + SOURCE_FIELDS + DATE_FIELDS
                              + AUTHOR_FIELDS + ID_FIELDS)
records = st.dictionaries(field_names | st.text(max_size=8), json_values | st.just(BODY), max_size=8)
date_values = (json_values | st.dates() | st.datetimes() | st.tuples(scalars, scalars, scalars)
               | st.lists(st.integers() | st.floats(), min_size=3, max_size=4)
               | st.from_regex(r"\A\d{1,5}[-/.]\d{1,3}[-/.]\d{1,3}\Z")
               | st.sampled_from(["2024-02-30", "Feb 30, 2024", "31 April 2023", "June 19, 2024", "0000-01-01",
                                  "9999-12-31T23:59:59+14:00", "Monday", "1e30"]))
yaml_text = st.text(st.characters(codec="utf-8"), max_size=200) | st.builds(
    lambda d: yaml.safe_dump(d, allow_unicode=True), st.dictionaries(field_names | st.text(max_size=6), json_values,
                                                                     max_size=6))
markup = st.lists(st.sampled_from(["<p>", "</p>", "<div class='a'>", "</div>", "<title>", "</title>", "<article>",
                                   "<!--", "-->", "<script>", "</script>", "&amp;", "&#0;", "<br/>", "<", ">",
                                   '"', "=", BODY, "word ", "\n"]) | st.text(max_size=20), max_size=40).map("".join)


def feed_xml(items: list[tuple[str, str, str]], atom: bool) -> bytes:
    """An RSS or Atom feed of (title, description, date) items, unescaped on purpose."""
    if atom:
        entries = "".join(f"<entry><title>{t}</title><updated>{d}</updated><summary>{s}</summary></entry>"
                          for t, s, d in items)
        return f"<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'><title>F</title>{entries}</feed>".encode()
    entries = "".join(f"<item><title>{t}</title><pubDate>{d}</pubDate><description>{s}</description></item>"
                      for t, s, d in items)
    return f"<?xml version='1.0'?><rss version='2.0'><channel><title>F</title>{entries}</channel></rss>".encode()


feed_items = st.lists(st.tuples(st.text(max_size=30), st.text(max_size=60) | st.just(BODY) | markup,
                                st.text(max_size=20) | st.sampled_from(["Tue, 19 Jun 2024 10:00:00 GMT", "2024-02-30"])),
                      min_size=1, max_size=4)


# --------------------------------------------------------------------------- every loader


@FEW
@given(st.sampled_from(SUFFIXES), st.binary(max_size=400))
def test_random_bytes_in_any_format(suffix, data):
    load_beside_good({f"a{suffix}": data})


@FEW
@given(st.sampled_from(SUFFIXES), st.text(max_size=300))
def test_random_text_in_any_format(suffix, text):
    load_beside_good({f"a{suffix}": text.encode("utf-8", "surrogatepass")})


@SOME
@given(st.lists(records | json_values, max_size=4))
def test_random_json_records(values):
    results = load_beside_good({"a.json": json.dumps(values).encode(), "b.jsonl": "\n".join(
        json.dumps(v) for v in values).encode() or b"\n"})
    for r in results:  # a record with a text field of BODY loads, however odd its other fields
        if isinstance(r, Article):
            check_article(r)


@FEW
@given(st.builds(dict, version=st.just("https://jsonfeed.org/version/1.1"),
                 items=st.lists(records | json_values, max_size=3), title=json_values))
def test_random_json_feed(feed):
    load_beside_good({"a.json": json.dumps(feed).encode()})


@SOME
@given(yaml_text, st.text(max_size=200) | st.just(BODY))
def test_random_front_matter(front, body):
    load_beside_good({"a.md": f"---\n{front}\n---\n{body}\n".encode("utf-8", "surrogatepass")})


@FEW
@given(feed_items, st.booleans())
def test_random_feeds(items, atom):
    load_beside_good({"a.atom" if atom else "a.xml": feed_xml(items, atom)})


@FEW
@given(markup)
def test_random_html(page):
    load_beside_good({"a.html": page.encode()})


# --------------------------------------------------------------------------- the parsers


@SOME
@given(date_values)
def test_parse_date_never_raises(value):
    assert parse_date(value) is None or isinstance(parse_date(value), date)


@SOME
@given(st.text(max_size=200) | date_values.map(str))
def test_leading_date_never_raises(text):
    found = leading_date(text)
    assert found is None or (isinstance(found[0], date) and 0 < found[1] <= len(text))


@SOME
@given(yaml_text, st.text(max_size=300), st.booleans())
def test_text_parser_gives_an_article_or_a_load_error(front, body, markdown):
    try:
        art = parse_text_article(f"---\n{front}\n---\n{body}", "a.md", markdown)
    except LoadError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert art.text.strip()


@SOME
@given(json_values)
def test_as_name_is_a_one_line_string_or_none(value):
    name = as_name(value)
    assert name is None or (name and "\n" not in name and name == name.strip())


@FEW
@given(markup)
def test_html_parser_gives_an_article_or_a_load_error(page):
    try:
        art = html_to_article(page, "a.html")
    except LoadError:
        return
    assert art.text.strip()


@SOME
@given(markup)
def test_screening_leaves_ordinary_markup_alone(page):
    assert screen_markup(page) == page


# --------------------------------------------------------------------------- end to end


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(SUFFIXES).map(lambda s: f"bad{s}"), st.binary(max_size=300), min_size=1))
def test_good_input_beside_bad_ones_is_indexed(components, files):
    from helpers import assert_consistent, run_ingest

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, data in files.items():
            (folder / name).write_bytes(data)
        (folder / "zz_good.md").write_text(GOOD_MD, encoding="utf-8")
        report = run_ingest(components, [folder])
    assert len(report.failed) <= len(files)
    assert "Ferry season extended" in [r.title for r in components.registry.articles()]
    assert_consistent(components)
