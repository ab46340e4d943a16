"""Feeds as articles: RSS 0.9x and 2.0, RSS 1.0 (RDF) and Atom (feedparser), and JSON Feed 1.0 and 1.1.

One article an item: its full text from the page the item links to when that page has one, else
the item's own content. An item whose text stays under MIN_FEED_ITEM_WORDS is skipped (a
`LoadFailure` with `skipped`), not failed. The articles are not yet checked against the article
limit: the loader does that.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Any

from rag.ingest.decoding import LoadError, content_type_charset, decode_markup
from rag.ingest.fetch import Fetcher
from rag.ingest.fields import as_name, first_sentence_title
from rag.ingest.html_pages import html_fragment_to_text, html_to_article
from rag.models import Article, LoadFailure
from rag.text.dates import parse_date
from rag.text.sentences import normalize_text

log = logging.getLogger(__name__)

# How much of a response is looked at to tell a feed from a web page: the XML declaration and the
# root element (<rss>, <feed>, <rdf:RDF>) open a feed, and 1 KiB holds them with room for a
# stylesheet instruction or a comment in between. A JSON Feed's "version" comes as early.
FEED_SNIFF_BYTES = 1024

# A feed item with fewer words than this, once its link was tried, is not an article: a headline
# or a teaser ("Some text.", "Read more...") is not, and 40 words is about two sentences.
MIN_FEED_ITEM_WORDS = 40

# Chinese and Japanese do not space their words; a word there is about two characters.
CJK_CHARS_PER_WORD = 2

# The "version" of a JSON Feed (https://jsonfeed.org): .../version/1 and .../version/1.1.
JSON_FEED_VERSIONS = ("https://jsonfeed.org/version/1", "http://jsonfeed.org/version/1")

_JSON_FEED_HEAD = re.compile(rb'"version"\s*:\s*"https?://jsonfeed\.org/version/1')

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

_HTTP_URL = re.compile(r"^https?://", re.I)


@dataclass
class FeedItem:
    """One item of a feed, whatever its format: what the feed itself says about it."""

    n: int  # its place in the feed, from 1
    title: str | None
    link: str | None
    text: str  # its own text (content, else summary), as plain text
    published: date | None
    author: str | None
    item_id: str | None


class ItemTooShort(LoadError):
    """A feed item with too few words to be an article: skipped, not failed."""


def looks_like_feed(body: bytes) -> bool:
    """Whether a response opens as an RSS, Atom or RDF document, whatever content type it came with."""
    head = body[:FEED_SNIFF_BYTES].removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    return head.startswith(b"<?xml") and (b"<rss" in head or b"<feed" in head or b"<rdf" in head) \
        or head.startswith((b"<rss", b"<feed", b"<rdf:rdf"))


def looks_like_json_feed(body: bytes) -> bool:
    """Whether a response opens as a JSON Feed (its "version" early on), whatever its content type."""
    head = body[:FEED_SNIFF_BYTES].removeprefix(b"\xef\xbb\xbf").lstrip()
    return head.startswith(b"{") and _JSON_FEED_HEAD.search(head) is not None


def is_json_feed(data: Any) -> bool:
    """Whether parsed JSON is a JSON Feed (1.0 or 1.1), by its "version"."""
    version = data.get("version") if isinstance(data, dict) else None
    return isinstance(version, str) and version.strip().startswith(JSON_FEED_VERSIONS)


def feed_articles(body: bytes, origin: str, path: str | None, fetcher: Fetcher,
                  charset: str | None = None) -> Iterator[Article | LoadFailure]:
    """The entries of an RSS, RDF or Atom feed as articles, in order; an entry without text fails
    alone, one too short is skipped. `path` (None for a URL) becomes each article's path;
    `fetcher` gets each entry's linked page; `charset` is the one HTTP declared, if any."""
    import feedparser

    # Decoded here, not by feedparser: it reads an undeclared KOI8-R or Shift_JIS feed as
    # Windows-1252. It is given the text as UTF-8, and told so.
    text = decode_markup(body, "feed", charset)
    limit = fetcher.settings.feed_max_items if path is None else MAX_FEED_FILE_ENTRIES
    text, more = cut_entries(text, limit)
    feed = feedparser.parse(text.encode("utf-8"), response_headers={"content-type": "application/xml; charset=utf-8"})
    if not feed.entries:
        problem = getattr(feed, "bozo_exception", None)
        raise LoadError("not an RSS/Atom feed with entries" + (f": {problem}" if problem else ""))
    items = (_rss_item(n, entry) for n, entry in enumerate(feed.entries, start=1))
    yield from _item_results(items, as_name(feed.feed.get("title")), origin, path, fetcher)
    if more:
        why = "NEWSDESK_FEED_MAX_ITEMS" if path is None else "a feed file's entry limit"
        yield LoadFailure(f"{origin}#{limit + 1}", f"only the first {limit} entries of a feed are read ({why}); "
                          "this and later ones are left", skipped=True)


# feedparser parses a whole document before any entry can be counted, at about 1 ms an entry on
# 2 cores (benchmarks/hostile.py: 100,000 entries in 8 MB took 86 s for a 50-entry result). So the
# document is cut after the entries that will be read: NEWSDESK_FEED_MAX_ITEMS for a feed from the
# web, and for a local file 20,000 (about 20 s of parsing, within the 60 s bound of issue #18).
MAX_FEED_FILE_ENTRIES = 20_000
_ENTRY_END = re.compile(r"</(?:[\w-]+:)?(?:item|entry)\s*>", re.I)


def cut_entries(text: str, limit: int) -> tuple[str, bool]:
    """The feed document cut after its `limit`-th entry (feedparser reads the unclosed rest
    leniently), and whether entries were cut off."""
    for n, m in enumerate(_ENTRY_END.finditer(text), start=1):
        if n == limit:
            rest = text[m.end():]
            return (text[:m.end()], True) if _ENTRY_END.search(rest) else (text, False)
    return text, False


def json_feed_articles(data: Any, origin: str, path: str | None, fetcher: Fetcher) -> Iterator[Article | LoadFailure]:
    """The items of a JSON Feed (1.0 or 1.1, parsed) as articles, as `feed_articles` makes them."""
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise LoadError("not a JSON Feed with items")
    yield from _item_results(_json_items(data, items, origin), as_name(data.get("title")), origin, path, fetcher)


def word_count(text: str) -> int:
    """The words of a text; a Chinese or Japanese character counts as half a word (CJK_CHARS_PER_WORD)."""
    cjk = len(_CJK.findall(text))
    return len(re.findall(r"\w+", _CJK.sub(" ", text))) + cjk // CJK_CHARS_PER_WORD


def _item_results(items: Iterable[FeedItem | LoadFailure], outlet: str | None, origin: str, path: str | None,
                  fetcher: Fetcher) -> Iterator[Article | LoadFailure]:
    """Each item's article, or its failure or skip. The feed's title is the articles' outlet.

    A feed from the web (`path` None) gives at most NEWSDESK_FEED_MAX_ITEMS entries, and its
    entries' links are followed for at most NEWSDESK_FEED_POLL_BUDGET seconds in all; entries
    after that keep their own text. A hostile feed of thousands of slow links ends in time."""
    settings = fetcher.settings
    deadline = time.monotonic() + settings.feed_poll_budget
    for item in items:
        if path is None and isinstance(item, FeedItem) and item.n > settings.feed_max_items:
            yield LoadFailure(f"{origin}#{item.n}", f"only the first {settings.feed_max_items} entries of a feed "
                              "are read (NEWSDESK_FEED_MAX_ITEMS); this and later ones are left", skipped=True)
            return
        if isinstance(item, LoadFailure):
            yield item
            continue
        where = f"{origin}#{item.n}"
        try:
            art = _within(fetcher, deadline, partial(_item_article, item, where, fetcher, time.monotonic() < deadline))
        except ItemTooShort as exc:
            yield LoadFailure(where, str(exc), skipped=True)
            continue
        except LoadError as exc:
            yield LoadFailure(where, str(exc))
            continue
        art.source = outlet or art.source
        art.path = path
        art.given_id = item.item_id if not item.link else None
        art.locator = f"{path or origin}#{item.n}"
        yield art


def _within(fetcher: Fetcher, deadline: float, work: Callable[[], Article]) -> Article:
    """`work()` with the fetcher's requests cut off at `deadline` too (the feed's link budget), so
    the last link cannot take a whole NEWSDESK_HTTP_DEADLINE past it; the fetcher's own deadline
    and out-of-time state are restored after."""
    old, was_out = fetcher.deadline, fetcher.out_of_time
    fetcher.deadline = deadline if old is None else min(old, deadline)
    try:
        return work()
    finally:
        fetcher.deadline = old
        if old is None or time.monotonic() < old:
            fetcher.out_of_time = was_out


def _item_article(item: FeedItem, where: str, fetcher: Fetcher, follow: bool = True) -> Article:
    """One item: its linked page's article (when `follow`), or one made from its own text, with
    the item's metadata. Raises ItemTooShort when neither has MIN_FEED_ITEM_WORDS words."""
    page, problem = _linked_page(item, where, fetcher) if follow else (None, _budget_spent(item, fetcher))
    if page is not None and word_count(page.text) >= MIN_FEED_ITEM_WORDS:
        full = page
    elif word_count(item.text) >= MIN_FEED_ITEM_WORDS:
        full = Article(text=item.text, title=item.title or first_sentence_title(item.text), origin=where)
    elif page is None and not item.text.strip():
        raise LoadError("feed entry has no text and its link gave none" + (f": {problem}" if problem else ""))
    else:
        raise ItemTooShort(_too_short(item, page, problem))
    full.title = item.title or full.title
    full.url = item.link or full.url
    full.published = item.published or full.published
    full.author = item.author or full.author
    return full


def _too_short(item: FeedItem, page: Article | None, problem: str | None) -> str:
    """Why an item is skipped: its words, and what its link gave."""
    words = max(word_count(item.text), word_count(page.text) if page else 0)
    named = f"“{item.title}”: " if item.title else ""
    reason = (f"{named}too short to be an article: {words} word{'s' * (words != 1)} "
              f"(an article has at least {MIN_FEED_ITEM_WORDS})")
    if problem:
        return f"{reason}, and {problem}"
    if page is not None:
        return f"{reason}, its linked page included"
    return f"{reason}, and it links to no page with the full text"


def _budget_spent(item: FeedItem, fetcher: Fetcher) -> str | None:
    """Why an item's link was not followed: the feed's time for links ran out (None without a link)."""
    if not (item.link and _HTTP_URL.match(item.link)):
        return None
    return (f"its link was not followed: the feed's {fetcher.settings.feed_poll_budget:g} s for links "
            "ran out (NEWSDESK_FEED_POLL_BUDGET)")


def _linked_page(item: FeedItem, where: str, fetcher: Fetcher) -> tuple[Article | None, str | None]:
    """The article of the HTML page an item links to, or None and why not (None without a link).
    A link that gave no article is logged: the item falls back to its own text."""
    link = item.link
    if not (link and _HTTP_URL.match(link)):
        return None, None
    try:
        body, ctype, final_url = fetcher.get(link)
    except LoadError as exc:
        problem = f"its link failed: {exc}"
    else:
        media, charset = content_type_charset(ctype)
        if "html" not in media:
            problem = f"its link is not a web page ({media or 'no content type'})"
        else:
            try:
                return html_to_article(decode_markup(body, "page", charset, html=True), where, final_url), None
            except LoadError as exc:
                problem = f"its linked page gave no article: {exc}"
    log.warning("%s (%s): no full text from %s: %s; using the feed's own text",
                where, f"“{item.title}”" if item.title else "untitled", link, problem)
    return None, problem


def _rss_item(n: int, entry: Any) -> FeedItem:
    """An RSS, RDF or Atom entry, as feedparser gives it."""
    # The date as the publisher wrote it (its own time zone), as for a JSON record; the
    # *_parsed values are converted to UTC and can move an evening story to the next day.
    published = (parse_date(entry.get("published")) or parse_date(entry.get("updated"))
                 or parse_date(entry.get("published_parsed") or entry.get("updated_parsed")))
    return FeedItem(
        n=n, title=as_name(entry.get("title")), link=entry.get("link"),
        text=html_fragment_to_text(_entry_content(entry)), published=published,
        author=as_name(entry.get("author")), item_id=as_name(entry.get("id")),
    )


def _entry_content(entry: Any) -> str:
    """An entry's own text (HTML or plain): its content, else its summary or description."""
    content = ""
    if entry.get("content"):
        content = entry.content[0].get("value", "")
    return content or entry.get("summary", "") or entry.get("description", "")


def _json_items(feed: dict, items: list, origin: str) -> Iterator[FeedItem | LoadFailure]:
    """The items of a JSON Feed; one that is not an object fails alone."""
    feed_author = _json_authors(feed)
    for n, item in enumerate(items, start=1):
        if isinstance(item, dict):
            yield _json_item(n, item, feed_author)
        else:
            yield LoadFailure(f"{origin}#{n}", f"JSON Feed item is not an object but {type(item).__name__}")


def _json_item(n: int, item: dict, feed_author: str | None) -> FeedItem:
    """A JSON Feed item: its text is content_html, else content_text, else summary; its link url,
    else external_url; its authors (1.1) or author (1.0), else the feed's."""
    link = next((v.strip() for v in (item.get("url"), item.get("external_url")) if isinstance(v, str) and v.strip()),
                None)
    html, plain, summary = (item.get(k) for k in ("content_html", "content_text", "summary"))
    if isinstance(html, str) and html.strip():
        text = html_fragment_to_text(html)
    else:
        text = next((normalize_text(v) for v in (plain, summary) if isinstance(v, str) and v.strip()), "")
    return FeedItem(
        n=n, title=as_name(item.get("title")) if isinstance(item.get("title"), str) else None, link=link,
        text=text, published=parse_date(item.get("date_published")) or parse_date(item.get("date_modified")),
        author=_json_authors(item) or feed_author, item_id=as_name(item.get("id")),
    )


def _json_authors(obj: dict) -> str | None:
    """The names of a JSON Feed object's `authors` (1.1) or `author` (1.0); None without a name."""
    value = obj.get("authors") or obj.get("author")
    people = value if isinstance(value, list) else [value]
    return as_name([p.get("name") if isinstance(p, dict) else p for p in people if isinstance(p, dict | str)])
