"""Feed formats (issue #17): RSS 0.91/2.0, RSS 1.0 (RDF), Atom 0.3/1.0 and JSON Feed 1.0/1.1, as
files, in folders and as URLs; their encodings, declared and not; items too short to be articles.

Fast and offline: feeds are generated here, URLs are served by a real HTTP server on 127.0.0.1,
and the ingest tests use the hashing embedder (tests/fakes.py), not the model.
"""

from __future__ import annotations

import http.server
import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from html import escape
from pathlib import Path

import pytest
from click.testing import CliRunner
from fakes import HashingEmbedder

from rag.ingest.decoding import decode_markup
from rag.ingest.feeds import MIN_FEED_ITEM_WORDS, looks_like_feed, looks_like_json_feed, word_count
from rag.ingest.fetch import Fetcher
from rag.ingest.loader import Loader
from rag.ingest.pipeline import Ingestor, make_article_id
from rag.models import Article, LoadFailure
from rag.settings import Settings

UNREACHABLE = "http://127.0.0.1:9"  # port 9 (discard) is closed: connection refused at once


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    """Local HTTP must not go through a proxy configured in the environment."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


# --------------------------------------------------------------------------- generated feeds


@dataclass
class Item:
    """One item to write into a generated feed."""

    title: str
    link: str | None
    text: str  # plain text; written as HTML (<p>) where the format carries HTML
    published: str = "2024-03-05"  # written in the format's own date form
    author: str = "Dana Ruiz"


SENTENCES = [
    "The harbour commission voted on Tuesday to extend the ferry season by three weeks, citing strong "
    "ticket sales over the summer and a mild forecast for the autumn.",
    "Commissioners said the extra sailings would run on weekends only, and that the timetable would be "
    "published on Friday after talks with the crews' union.",
    "Shop owners on the quay welcomed the decision, saying the late visitors make up for a slow spring, "
    "while residents asked for more parking near the terminal.",
]


def long_text(marker: str) -> str:
    """An article-length text (over MIN_FEED_ITEM_WORDS words) carrying `marker`."""
    return f"{marker}: " + " ".join(SENTENCES)


def items(base: str = UNREACHABLE) -> list[Item]:
    """Two items long enough to be articles and one too short, each linking to `base`."""
    return [
        Item("Ferry season extended", f"{base}/ferry", long_text("MARK-ONE"), "2024-03-05", "Dana Ruiz"),
        Item("Quay shops welcome late visitors", f"{base}/quay", long_text("MARK-TWO"), "2024-03-06", "Lee Okafor"),
        Item("Some headline", f"{base}/short", "Some text.", "2024-03-07", "Dana Ruiz"),
    ]


def _rfc822(day: str) -> str:
    return date.fromisoformat(day).strftime("%a, %d %b %Y 08:00:00 GMT")


def _html(text: str) -> str:
    return escape(f"<p>{escape(text)}</p>", quote=False)  # escaped HTML, as feeds carry it


def _xml_head(encoding: str | None) -> str:
    return f'<?xml version="1.0" encoding="{encoding}"?>\n' if encoding else ""


def rss091(title: str, its: list[Item], encoding: str | None = "utf-8") -> str:
    """RSS 0.91: items have a title, link and description, and no date."""
    body = "".join(f"<item><title>{escape(i.title)}</title>" + (f"<link>{i.link}</link>" if i.link else "")
                   + f"<description>{escape(i.text)}</description></item>" for i in its)
    return (_xml_head(encoding) + '<rss version="0.91"><channel>'
            f"<title>{escape(title)}</title><link>http://example.org/</link><description>News</description>"
            f"<language>en</language>{body}</channel></rss>")


def rss20(title: str, its: list[Item], encoding: str | None = "utf-8") -> str:
    """RSS 2.0 with content:encoded HTML, dc:creator and pubDate."""
    body = "".join(
        f"<item><title>{escape(i.title)}</title>" + (f"<link>{i.link}</link>" if i.link else "")
        + f"<pubDate>{_rfc822(i.published)}</pubDate><dc:creator>{escape(i.author)}</dc:creator>"
        f"<description>{escape(i.text[:60])}</description>"
        f"<content:encoded>{_html(i.text)}</content:encoded></item>" for i in its)
    return (_xml_head(encoding) + '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
            f"<title>{escape(title)}</title><link>http://example.org/</link><description>News</description>"
            f"{body}</channel></rss>")


def rdf10(title: str, its: list[Item], encoding: str | None = "utf-8") -> str:
    """RSS 1.0: an RDF document, Dublin Core dates and creators."""
    seq = "".join(f'<rdf:li rdf:resource="{i.link}"/>' for i in its if i.link)
    body = "".join(
        f'<item rdf:about="{i.link}"><title>{escape(i.title)}</title><link>{i.link}</link>'
        f"<description>{escape(i.text)}</description><dc:date>{i.published}T08:00:00+00:00</dc:date>"
        f"<dc:creator>{escape(i.author)}</dc:creator></item>" for i in its)
    return (_xml_head(encoding) + '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f'<channel rdf:about="http://example.org/"><title>{escape(title)}</title><link>http://example.org/</link>'
            f"<description>News</description><items><rdf:Seq>{seq}</rdf:Seq></items></channel>{body}</rdf:RDF>")


def atom03(title: str, its: list[Item], encoding: str | None = "utf-8") -> str:
    """Atom 0.3: issued/modified dates, escaped HTML content."""
    body = "".join(
        f"<entry><title>{escape(i.title)}</title>"
        + (f'<link rel="alternate" type="text/html" href="{i.link}"/>' if i.link else "")
        + f"<id>tag:example.org,2024:{n}</id><issued>{i.published}T08:00:00Z</issued>"
        f"<modified>{i.published}T09:00:00Z</modified><author><name>{escape(i.author)}</name></author>"
        f'<content type="text/html" mode="escaped">{_html(i.text)}</content></entry>' for n, i in enumerate(its))
    return (_xml_head(encoding) + '<feed version="0.3" xmlns="http://purl.org/atom/ns#">'
            f'<title>{escape(title)}</title><link rel="alternate" type="text/html" href="http://example.org/"/>'
            f"<modified>2024-03-07T09:00:00Z</modified>{body}</feed>")


def atom10(title: str, its: list[Item], encoding: str | None = "utf-8") -> str:
    """Atom 1.0: published dates, HTML content."""
    body = "".join(
        f"<entry><title>{escape(i.title)}</title>" + (f'<link href="{i.link}"/>' if i.link else "")
        + f"<id>urn:item:{n}</id><published>{i.published}T08:00:00Z</published>"
        f"<updated>{i.published}T09:00:00Z</updated><author><name>{escape(i.author)}</name></author>"
        f'<content type="html">{_html(i.text)}</content></entry>' for n, i in enumerate(its))
    return (_xml_head(encoding) + '<feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>{escape(title)}</title><id>urn:feed</id><updated>2024-03-07T09:00:00Z</updated>{body}</feed>")


def json_feed(title: str, its: list[Item], version: str = "1.1") -> str:
    """JSON Feed 1.0 (`author`) or 1.1 (`authors`), items' text as content_html."""
    def item(n: int, i: Item) -> dict:
        out: dict = {"id": f"item-{n}", "title": i.title, "content_html": f"<p>{escape(i.text)}</p>",
                     "summary": i.text[:60], "date_published": f"{i.published}T08:00:00-05:00"}
        if i.link:
            out["url"] = i.link
        out.update({"authors": [{"name": i.author}]} if version == "1.1" else {"author": {"name": i.author}})
        return out

    return json.dumps({"version": f"https://jsonfeed.org/version/{version}", "title": title,
                       "home_page_url": "https://example.org/", "items": [item(n, i) for n, i in enumerate(its)]},
                      ensure_ascii=False)


def json_feed_10(title: str, its: list[Item]) -> str:
    return json_feed(title, its, "1")


FORMATS: dict[str, tuple[Callable[..., str], str]] = {
    "rss-0.91": (rss091, ".rss"),
    "rss-2.0": (rss20, ".xml"),
    "rss-1.0-rdf": (rdf10, ".rdf"),
    "atom-0.3": (atom03, ".atom"),
    "atom-1.0": (atom10, ".atom"),
    "json-feed-1.0": (json_feed_10, ".json"),
    "json-feed-1.1": (json_feed, ".json"),
}

HAS_DATES = {name for name in FORMATS if name != "rss-0.91"}
HAS_AUTHORS = HAS_DATES


# --------------------------------------------------------------------------- helpers


def make_settings(tmp_path: Path, **overrides) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "data", **{"http_timeout": 3, **overrides})


def load(tmp_path: Path, *inputs: str | Path, **overrides) -> list[Article | LoadFailure]:
    return list(Loader(make_settings(tmp_path, **overrides)).load([str(i) for i in inputs]))


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def articles(results: list[Article | LoadFailure]) -> list[Article]:
    return [r for r in results if isinstance(r, Article)]


def skipped(results: list[Article | LoadFailure]) -> list[LoadFailure]:
    return [r for r in results if isinstance(r, LoadFailure) and r.skipped]


def failed(results: list[Article | LoadFailure]) -> list[LoadFailure]:
    return [r for r in results if isinstance(r, LoadFailure) and not r.skipped]


def check_feed(results: list[Article | LoadFailure], fmt: str, outlet: str, base: str = UNREACHABLE) -> None:
    """The results of a generated feed of `items(base)`: two articles, the short item skipped."""
    assert failed(results) == []
    arts = articles(results)
    assert [a.title for a in arts] == ["Ferry season extended", "Quay shops welcome late visitors"]
    assert [a.url for a in arts] == [f"{base}/ferry", f"{base}/quay"]
    assert {a.source for a in arts} == {outlet}
    assert arts[0].text.startswith("MARK-ONE: The harbour commission") and arts[1].text.startswith("MARK-TWO")
    assert all("<p>" not in a.text and "&lt;" not in a.text for a in arts)
    assert all(a.given_id is None for a in arts)  # identified by their URL, across feeds
    if fmt in HAS_DATES:
        assert [a.published for a in arts] == [date(2024, 3, 5), date(2024, 3, 6)]
    if fmt in HAS_AUTHORS:
        assert [a.author for a in arts] == ["Dana Ruiz", "Lee Okafor"]
    (skip,) = skipped(results)
    assert skip.input.endswith("#3") and "“Some headline”" in skip.error and "too short" in skip.error
    assert f"at least {MIN_FEED_ITEM_WORDS}" in skip.error and "\n" not in skip.error


# --------------------------------------------------------------------------- files and folders


class TestFiles:
    @pytest.mark.parametrize("fmt", FORMATS)
    def test_feed_file(self, tmp_path, fmt):
        build, suffix = FORMATS[fmt]
        path = write(tmp_path / f"feed{suffix}", build("Harbour Post", items()))
        results = load(tmp_path, path)
        check_feed(results, fmt, "Harbour Post")
        arts = articles(results)
        assert [a.origin for a in arts] == [f"{path}#1", f"{path}#2"]
        assert all(a.path == str(path.resolve()) for a in arts)
        assert [a.locator for a in arts] == [f"{path.resolve()}#1", f"{path.resolve()}#2"]
        assert "its link failed: unreachable" in skipped(results)[0].error  # port 9 was tried: refused

    def test_folder_of_every_format(self, tmp_path):
        root = tmp_path / "feeds"
        for fmt, (build, suffix) in FORMATS.items():
            write(root / f"{fmt}{suffix}", build(f"Outlet {fmt}", items()))
        results = load(tmp_path, root)
        by_file: dict[str, list[Article | LoadFailure]] = {}
        for r in results:
            name = Path((r.origin if isinstance(r, Article) else r.input).rsplit("#", 1)[0]).name
            by_file.setdefault(name, []).append(r)
        assert sorted(by_file) == sorted(f"{fmt}{suffix}" for fmt, (_, suffix) in FORMATS.items())
        for fmt, (_, suffix) in FORMATS.items():
            check_feed(by_file[f"{fmt}{suffix}"], fmt, f"Outlet {fmt}")

    def test_rdf_file_in_a_folder_is_not_skipped(self, tmp_path):
        root = tmp_path / "only-rdf"
        write(root / "news.rdf", rdf10("RDF Times", items()))
        arts = articles(load(tmp_path, root))
        assert [a.source for a in arts] == ["RDF Times", "RDF Times"]

    def test_short_item_without_a_link_says_so(self, tmp_path):
        path = write(tmp_path / "f.json", json_feed("Wire", [Item("Teaser", None, "Read more...")]))
        (skip,) = load(tmp_path, path)
        assert isinstance(skip, LoadFailure) and skip.skipped
        assert "2 words" in skip.error and "links to no page" in skip.error

    def test_item_without_any_text_still_fails(self, tmp_path):
        path = write(tmp_path / "f.xml", rss091("Wire", [Item("Empty", f"{UNREACHABLE}/e", "")]))
        (fail,) = load(tmp_path, path)
        assert isinstance(fail, LoadFailure) and not fail.skipped and "no text" in fail.error

    def test_failed_link_falls_back_with_a_warning(self, tmp_path, caplog):
        path = write(tmp_path / "f.atom", atom10("Valley Ledger", items()[:1]))
        with caplog.at_level(logging.WARNING, logger="rag.ingest.feeds"):
            (art,) = load(tmp_path, path)
        assert isinstance(art, Article) and art.text.startswith("MARK-ONE")
        (record,) = [r for r in caplog.records if r.levelno == logging.WARNING]
        message = record.getMessage()
        assert f"{path}#1" in message and "Ferry season extended" in message
        assert f"{UNREACHABLE}/ferry" in message and "unreachable" in message


class TestJsonFeed:
    def test_fields(self, tmp_path):
        feed = {
            "version": "https://jsonfeed.org/version/1.1", "title": "NPR-like", "authors": [{"name": "Desk"}],
            "items": [
                {"id": "a", "url": f"{UNREACHABLE}/a", "title": "Text only", "content_text": long_text("PLAIN < TEXT"),
                 "date_published": "2024-06-20T22:00:00-04:00",
                 "authors": [{"name": "Ana Silva"}, {"name": "Ben Cho"}, {"url": "https://x.example"}]},
                {"id": "b", "external_url": f"{UNREACHABLE}/b", "summary": long_text("SUMMARY"),
                 "date_modified": "2024-06-21T10:00:00Z"},
                {"id": "c", "content_html": f"<div>{long_text('HTML')}</div>", "title": "No link"},
                "not an item",
            ],
        }
        results = load(tmp_path, write(tmp_path / "npr.json", json.dumps(feed)))
        a, b, c, bad = results
        assert isinstance(a, Article) and isinstance(b, Article) and isinstance(c, Article)
        assert a.text.startswith("PLAIN < TEXT:")  # content_text is plain text, not parsed as HTML
        assert (a.title, a.url, a.published, a.author) == ("Text only", f"{UNREACHABLE}/a", date(2024, 6, 20),
                                                           "Ana Silva, Ben Cho")
        assert b.url == f"{UNREACHABLE}/b" and b.text.startswith("SUMMARY") and b.published == date(2024, 6, 21)
        assert b.title.startswith("SUMMARY: The harbour commission")  # its first sentence
        assert b.author == "Desk"  # the feed's authors, for an item without its own
        assert c.text.startswith("HTML:") and c.url is None and c.given_id == "c"
        assert {a.source, b.source, c.source} == {"NPR-like"}
        assert isinstance(bad, LoadFailure) and not bad.skipped and "not an object" in bad.error

    def test_json_feed_10_author(self, tmp_path):
        feed = json.loads(json_feed_10("Old", items()[:1]))
        assert feed["version"] == "https://jsonfeed.org/version/1" and "author" in feed["items"][0]
        (art,) = load(tmp_path, write(tmp_path / "old.json", json.dumps(feed)))
        assert isinstance(art, Article) and art.author == "Dana Ruiz"

    def test_long_content_beats_a_short_summary(self, tmp_path):
        (art,) = load(tmp_path, write(tmp_path / "f.json", json_feed("Wire", items()[:1])))
        assert isinstance(art, Article) and art.text == long_text("MARK-ONE")  # not the 60-character summary

    def test_records_are_still_records(self, tmp_path):
        records = [{"title": "A record", "text": long_text("REC"), "version": "2"}]
        (art,) = load(tmp_path, write(tmp_path / "records.json", json.dumps(records)))
        assert isinstance(art, Article) and art.origin.endswith("records.json[0]")

    def test_json_feed_without_items(self, tmp_path):
        path = write(tmp_path / "f.json", json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": {}}))
        (fail,) = load(tmp_path, path)
        assert isinstance(fail, LoadFailure) and "not a JSON Feed with items" in fail.error


class TestSniffing:
    @pytest.mark.parametrize("head", [
        b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">',
        b'\xef\xbb\xbf<?xml version="1.0"?><rss version="2.0">',
        b'  <feed xmlns="http://www.w3.org/2005/Atom">',
    ])
    def test_xml_feeds(self, head):
        assert looks_like_feed(head) and not looks_like_json_feed(head)

    def test_json_feed(self):
        assert looks_like_json_feed(b'\xef\xbb\xbf {"version": "https://jsonfeed.org/version/1.1", "items": []}')
        assert not looks_like_json_feed(b'{"version": "2", "items": []}')
        assert not looks_like_feed(b'{"version": "https://jsonfeed.org/version/1"}')

    def test_word_count(self):
        assert word_count("Some text.") == 2
        assert word_count("市議会は火曜日") == 3  # seven characters: about three words
        assert word_count(long_text("X")) >= MIN_FEED_ITEM_WORDS


# --------------------------------------------------------------------------- encodings


RUSSIAN = [
    Item("Паромный сезон продлён", f"{UNREACHABLE}/ru1",
         "Городской совет во вторник проголосовал за продление паромного сезона на три недели, сославшись на "
         "хорошие продажи билетов летом. Члены совета сообщили, что дополнительные рейсы будут выполняться "
         "только по выходным дням, а новое расписание опубликуют в пятницу после переговоров с профсоюзом "
         "экипажей. Владельцы магазинов на набережной приветствовали это решение."),
    Item("Короткая заметка", f"{UNREACHABLE}/ru2", "Немного текста."),
]
JAPANESE = [
    Item("フェリーの運航期間を延長", f"{UNREACHABLE}/ja1",
         "市議会は火曜日、夏の間の好調な乗船券の販売を理由に、フェリーの運航期間を三週間延長することを可決した。"
         "委員によると、追加の便は週末のみ運航され、新しい時刻表は乗組員の組合との協議の後、金曜日に発表される予定だという。"
         "岸壁の商店主たちはこの決定を歓迎し、遅い観光客が春の不振を補ってくれると話した。"),
    Item("短い記事", f"{UNREACHABLE}/ja2", "少しの文章。"),
]
CHINESE = [
    Item("渡轮季节延长", f"{UNREACHABLE}/zh1",
         "市议会星期二投票决定将渡轮季节延长三周，理由是夏季船票销售强劲，秋季天气预报温和。委员们说，额外的航班只在周末运行，"
         "新的时间表将在与船员工会谈判后于星期五公布。码头上的店主们对这一决定表示欢迎，说晚来的游客弥补了春季的冷清。"),
    Item("短讯", f"{UNREACHABLE}/zh2", "一些文字。"),
]
FRENCH = [
    Item("La saison des traversées prolongée", f"{UNREACHABLE}/fr1",
         "Le conseil municipal a voté mardi la prolongation de la saison des traversées de trois semaines, "
         "invoquant de bonnes ventes de billets pendant l’été et une météo clémente annoncée pour l’automne. "
         "Les élus ont précisé que les traversées supplémentaires n’auraient lieu que le week-end — « une "
         "décision prudente », selon le maire, qui publiera les horaires vendredi."),
    Item("Brève", f"{UNREACHABLE}/fr2", "Un peu de texte."),
]
GREEK = [
    Item("Παράταση της περιόδου των πορθμείων", f"{UNREACHABLE}/el1",
         "Το δημοτικό συμβούλιο ψήφισε την Τρίτη την παράταση της περιόδου των πορθμείων κατά τρεις εβδομάδες, "
         "επικαλούμενο τις καλές πωλήσεις εισιτηρίων το καλοκαίρι και τον ήπιο καιρό που αναμένεται το φθινόπωρο. "
         "Τα επιπλέον δρομολόγια θα γίνονται μόνο τα Σαββατοκύριακα, και το νέο πρόγραμμα θα ανακοινωθεί την "
         "Παρασκευή μετά από συνομιλίες με το σωματείο των πληρωμάτων."),
    Item("Σύντομο", f"{UNREACHABLE}/el2", "Λίγο κείμενο."),
]

ENCODINGS = [
    ("koi8-r", RUSSIAN), ("windows-1251", RUSSIAN), ("iso-8859-5", RUSSIAN), ("shift_jis", JAPANESE),
    ("euc-jp", JAPANESE), ("gb18030", CHINESE), ("windows-1252", FRENCH), ("iso-8859-7", GREEK),
]


def check_decoded(results: list[Article | LoadFailure], its: list[Item]) -> None:
    (art,) = articles(results)
    assert art.title == its[0].title
    assert art.text == its[0].text
    (skip,) = skipped(results)
    assert its[1].title in skip.error  # the short item's title, decoded too


class TestEncodings:
    @pytest.mark.parametrize("encoding,its", ENCODINGS, ids=[e for e, _ in ENCODINGS])
    @pytest.mark.parametrize("declared", [True, False], ids=["declared", "undeclared"])
    def test_rss_file(self, tmp_path, encoding, its, declared):
        outlet = its[1].title  # in the feed's own script
        feed = rss091(outlet, its, encoding if declared else None)
        results = load(tmp_path, write(tmp_path / "f.rss", feed.encode(encoding)))
        check_decoded(results, its)
        assert {a.source for a in articles(results)} == {outlet}

    @pytest.mark.parametrize("fmt", ["rss-2.0", "rss-1.0-rdf", "atom-0.3", "atom-1.0"])
    @pytest.mark.parametrize("declared", [True, False], ids=["declared", "undeclared"])
    def test_koi8_r_in_every_xml_format(self, tmp_path, fmt, declared):
        build, suffix = FORMATS[fmt]
        its = [Item(i.title, i.link, i.text) for i in RUSSIAN]
        feed = build("Вестник", its, "koi8-r" if declared else None)
        results = load(tmp_path, write(tmp_path / f"f{suffix}", feed.encode("koi8-r")))
        check_decoded(results, its)

    def test_utf8_declared_as_latin1_is_read_as_utf8(self, tmp_path):
        feed = rss091("Вестник", RUSSIAN, "iso-8859-1").encode("utf-8")
        check_decoded(load(tmp_path, write(tmp_path / "f.rss", feed)), RUSSIAN)

    def test_utf16_with_bom(self, tmp_path):
        feed = rss091("Вестник", RUSSIAN, "utf-16").encode("utf-16")
        check_decoded(load(tmp_path, write(tmp_path / "f.xml", feed)), RUSSIAN)

    def test_html_page_in_its_meta_charset(self):
        page = f'<html><head><meta charset="koi8-r"><title>Т</title></head><body><p>{RUSSIAN[0].text}</p></body></html>'
        assert RUSSIAN[0].text in decode_markup(page.encode("koi8-r"), html=True)
        # an XML declaration's encoding counts, a <meta> inside a feed's content does not
        feed = f'<rss><channel><item><description><![CDATA[<meta charset="koi8-r">]]>{RUSSIAN[0].text}'
        assert RUSSIAN[0].text in decode_markup(feed.encode("windows-1251"))

    def test_http_charset_is_honoured(self, tmp_path):
        """A charset the fetcher passes on decides, even where detection would guess otherwise."""
        polish = [Item("Sezon promowy przedłużony", "http://pl.example/1",
                       "Rada miejska zagłosowała we wtorek za przedłużeniem sezonu promowego o trzy tygodnie, "
                       "powołując się na dobrą sprzedaż biletów latem i łagodną pogodę zapowiadaną na jesień. "
                       "Dodatkowe rejsy będą się odbywać tylko w weekendy, a nowy rozkład zostanie ogłoszony w "
                       "piątek po rozmowach ze związkiem załóg, powiedział urzędnik."),
                  Item("Krótko", "http://pl.example/2", "Trochę tekstu.")]
        body = rss091("Głos", polish, None).encode("iso-8859-2")

        class CharsetFetcher(Fetcher):
            def get(self, url: str) -> tuple[bytes, str, str]:
                if url == "http://pl.example/feed":
                    return body, "application/rss+xml; charset=ISO-8859-2", url
                return b"", "text/plain", url

        settings = make_settings(tmp_path)
        check_decoded(list(Loader(settings, CharsetFetcher(settings)).load(["http://pl.example/feed"])), polish)


# --------------------------------------------------------------------------- URLs


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, str, bytes]] = {}

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        route = self.routes.get(self.path)
        if route is None:
            self.send_error(404, "Not Found")
            return
        status, ctype, body = route
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # a client that gave up is fine
        pass


def page(title: str, text: str, charset: str = "utf-8") -> bytes:
    html = (f'<html><head><meta charset="{charset}"><title>{escape(title)}</title>'
            f"<meta property='og:site_name' content='Page Site'></head><body><nav><a href='/'>Home menu link</a></nav>"
            f"<article><h1>{escape(title)}</h1><p>{escape(text)}</p></article><footer>Footer</footer></body></html>")
    return html.encode(charset)


def url_items(base: str) -> list[Item]:
    """Items served over HTTP: a teaser whose page has the full text, a long item whose link is
    404 (its own text), a teaser whose link is 404 (skipped) and one whose page has no text."""
    return [
        Item("Ferry season extended", f"{base}/ferry", "Ferry season extended. Read more...", "2024-03-05"),
        Item("Quay shops welcome late visitors", f"{base}/gone", long_text("OWN-TEXT"), "2024-03-06"),
        Item("Gone teaser", f"{base}/gone2", "A teaser. Read more...", "2024-03-07"),
        Item("Menu teaser", f"{base}/menu", "Another teaser.", "2024-03-08"),
    ]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    its = url_items(base)
    ru = [Item(i.title, f"{base}/ru-page" if n == 0 else f"{base}/gone", i.text) for n, i in enumerate(RUSSIAN)]
    ru_page = page(RUSSIAN[0].title, "ПОЛНЫЙ ТЕКСТ. " + RUSSIAN[0].text, "koi8-r")
    _Handler.routes = {
        "/ferry": (200, "text/html; charset=utf-8", page("Ferry season extended", long_text("FULL-PAGE"))),
        "/menu": (200, "text/html", b"<html><body><nav><a href='/'>Home</a></nav></body></html>"),
        "/ru-page": (200, "text/html", ru_page),
        "/rss.xml": (200, "application/rss+xml", rss20("Harbour Post", its).encode()),
        "/rss-as-html": (200, "text/html; charset=utf-8", rss091("Harbour Post", its).encode()),
        "/news.rdf": (200, "application/rdf+xml", rdf10("Harbour Post", its).encode()),
        "/atom03": (200, "application/xml", atom03("Harbour Post", its).encode()),
        "/atom.xml": (200, "application/atom+xml", atom10("Harbour Post", its).encode()),
        "/feed.json": (200, "application/feed+json", json_feed("Harbour Post", its).encode()),
        "/feed10.json": (200, "application/json", json_feed_10("Harbour Post", its).encode()),
        "/feed-as-text": (200, "text/plain", json_feed("Harbour Post", its).encode()),
        "/koi8": (200, "application/rss+xml; charset=koi8-r", rss091("Вестник", ru, None).encode("koi8-r")),
        "/koi8-declared": (200, "text/xml", rss20("Вестник", ru, "koi8-r").encode("koi8-r")),
        "/sjis.json": (200, "application/feed+json; charset=shift_jis",
                       json_feed("新聞", JAPANESE).encode("shift_jis")),
    }
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


URL_FEEDS = {"/rss.xml": "rss-2.0", "/rss-as-html": "rss-0.91", "/news.rdf": "rss-1.0-rdf", "/atom03": "atom-0.3",
             "/atom.xml": "atom-1.0", "/feed.json": "json-feed-1.1", "/feed10.json": "json-feed-1.0",
             "/feed-as-text": "json-feed-1.1"}


class TestUrls:
    @pytest.mark.parametrize("route", URL_FEEDS)
    def test_feed_url(self, tmp_path, server, route, caplog):
        with caplog.at_level(logging.WARNING, logger="rag.ingest.feeds"):
            results = load(tmp_path, f"{server}{route}")
        assert failed(results) == []
        full, own = articles(results)
        assert full.text.startswith("FULL-PAGE:") and "Home menu link" not in full.text  # from its page
        assert (full.title, full.url, full.source) == ("Ferry season extended", f"{server}/ferry", "Harbour Post")
        assert own.text == long_text("OWN-TEXT") and own.url == f"{server}/gone"  # its link is 404: its own text
        if URL_FEEDS[route] in HAS_DATES:
            assert [full.published, own.published] == [date(2024, 3, 5), date(2024, 3, 6)]
        gone, menu = skipped(results)
        assert gone.input == f"{server}{route}#3" and "its link failed: HTTP 404" in gone.error
        assert menu.input == f"{server}{route}#4" and "its linked page gave no article" in menu.error
        warned = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
        assert f"{server}{route}#2" in warned and "HTTP 404" in warned

    @pytest.mark.parametrize("route", ["/koi8", "/koi8-declared"])
    def test_koi8_r_feed_and_page(self, tmp_path, server, route):
        results = load(tmp_path, f"{server}{route}")
        (art,) = articles(results)
        assert art.title == RUSSIAN[0].title and art.source == "Вестник"
        assert art.text.startswith("ПОЛНЫЙ ТЕКСТ.") and RUSSIAN[0].text in art.text  # its KOI8-R page, decoded
        (skip,) = skipped(results)
        assert RUSSIAN[1].title in skip.error

    def test_shift_jis_json_feed_with_http_charset(self, tmp_path, server):
        check_decoded(load(tmp_path, f"{server}/sjis.json"), JAPANESE)


# --------------------------------------------------------------------------- ingest and the CLI


@pytest.fixture
def fast_components(tmp_path, tokenizer):
    from rag.components import Components

    c = Components(make_settings(tmp_path), embedder=HashingEmbedder(), tokenizer=tokenizer)
    yield c
    c.close()


def shared_url_folder(root: Path) -> Path:
    """An RSS file and a JSON Feed with one item each at the same URL, and a short item each."""
    shared = Item("Ferry season extended", f"{UNREACHABLE}/ferry", long_text("SHARED"))
    write(root / "a.xml", rss20("Harbour Post", [shared, Item("Teaser A", f"{UNREACHABLE}/a", "Short.")]))
    write(root / "b.json", json_feed("Coast Wire", [shared, Item("Teaser B", None, "Also short.")]))
    return root


class TestIngest:
    def test_skipped_items_are_counted_apart_and_urls_deduplicate(self, tmp_path, fast_components):
        folder = shared_url_folder(tmp_path / "feeds")
        with fast_components.writing():
            report = Ingestor(fast_components).ingest([str(folder)], Loader(make_settings(tmp_path, http_timeout=0.5)))
        assert report.failed == []
        assert [s.input.rsplit("/", 1)[-1] for s in report.skipped] == ["a.xml#2", "b.json#2"]
        assert fast_components.registry.counts()["articles"] == 1  # one URL, one article
        assert (report.added, report.updated + report.unchanged) == (1, 1)
        data = report.as_json()
        assert data["skipped"] == [{"input": s.input, "reason": s.error} for s in report.skipped]
        assert {"added", "updated", "unchanged", "duplicates", "failed", "articles"} <= set(data)

    def test_same_url_same_id(self, tmp_path):
        folder = shared_url_folder(tmp_path / "feeds")
        arts = articles(load(tmp_path, folder, http_timeout=0.5))
        assert len(arts) == 2 and make_article_id(arts[0]) == make_article_id(arts[1])


class TestCli:
    def run(self, tmp_path, tokenizer, *args: str):
        from rag.cli.app import main
        from rag.components import Components

        obj = {"components": lambda settings: Components(settings, embedder=HashingEmbedder(), tokenizer=tokenizer)}
        return CliRunner().invoke(main, ["ingest", *args, "--data-dir", str(tmp_path / "data")], obj=obj,
                                  catch_exceptions=False)

    def test_skipped_items_do_not_fail_the_run(self, tmp_path, tokenizer):
        folder = shared_url_folder(tmp_path / "feeds")
        result = self.run(tmp_path, tokenizer, str(folder))
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert [line.split(": ")[0].rsplit("/", 1)[-1] for line in lines if line.startswith("skipped ")] \
            == ["a.xml#2", "b.json#2"]
        assert not any(line.startswith("failed ") for line in lines)
        assert "failed 0, skipped 2" in result.stdout
        as_json = self.run(tmp_path, tokenizer, str(folder), "--json")
        assert as_json.exit_code == 0
        data = json.loads(as_json.stdout)
        assert [s["input"].rsplit("/", 1)[-1] for s in data["skipped"]] == ["a.xml#2", "b.json#2"]
        assert all(set(s) == {"input", "reason"} and "too short" in s["reason"] for s in data["skipped"])

    def test_a_failure_still_fails_the_run(self, tmp_path, tokenizer):
        folder = shared_url_folder(tmp_path / "feeds")
        result = self.run(tmp_path, tokenizer, str(folder), str(tmp_path / "missing.xml"))
        assert result.exit_code == 1 and "failed 1, skipped 2" in result.stdout
