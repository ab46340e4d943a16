"""RSS, Atom and RDF feeds as articles (feedparser): one article an entry, its full text from the
page the entry links to when that page has one, else the feed's own content. The articles are not
yet checked against the article limit: the loader does that."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

from rag.ingest.decoding import LoadError, decode_bytes
from rag.ingest.fetch import Fetcher
from rag.ingest.fields import as_name, first_sentence_title
from rag.ingest.html_pages import html_fragment_to_text, html_to_article
from rag.models import Article, LoadFailure
from rag.text.dates import parse_date

log = logging.getLogger(__name__)

# How much of a response is looked at to tell a feed from a web page: the XML declaration and the
# root element (<rss>, <feed>, <rdf:RDF>) open a feed, and 1 KiB holds them with room for a
# stylesheet instruction or a comment in between.
FEED_SNIFF_BYTES = 1024


def looks_like_feed(body: bytes) -> bool:
    """Whether a response opens as an RSS, Atom or RDF document, whatever content type it came with."""
    head = body[:FEED_SNIFF_BYTES].lstrip().lower()
    return head.startswith(b"<?xml") and (b"<rss" in head or b"<feed" in head or b"<rdf" in head) \
        or head.startswith((b"<rss", b"<feed"))


def feed_articles(body: bytes, origin: str, path: str | None, fetcher: Fetcher) -> Iterator[Article | LoadFailure]:
    """The entries of a feed as articles, in order; an entry without text fails alone. `path` (None
    for a URL) becomes each article's path; `fetcher` gets each entry's linked page."""
    import feedparser

    feed = feedparser.parse(body)
    if not feed.entries:
        problem = getattr(feed, "bozo_exception", None)
        raise LoadError("not an RSS/Atom feed with entries" + (f": {problem}" if problem else ""))
    outlet = as_name(feed.feed.get("title"))
    for n, entry in enumerate(feed.entries):
        where = f"{origin}#{n + 1}"
        link = entry.get("link")
        try:
            art = _entry_article(entry, where, link, fetcher)
        except LoadError as exc:
            yield LoadFailure(where, str(exc))
            continue
        art.source = outlet or art.source
        art.path = path
        art.given_id = as_name(entry.get("id")) if not link else None
        art.locator = f"{path or origin}#{n + 1}"
        yield art


def _entry_article(entry: Any, where: str, link: str | None, fetcher: Fetcher) -> Article:
    """One entry: its linked page's article, or one made from its content, with the entry's metadata."""
    # The date as the publisher wrote it (its own time zone), as for a JSON record; the
    # *_parsed values are converted to UTC and can move an evening story to the next day.
    published = (parse_date(entry.get("published")) or parse_date(entry.get("updated"))
                 or parse_date(entry.get("published_parsed") or entry.get("updated_parsed")))
    title = as_name(entry.get("title"))
    full = _linked_page(link, where, fetcher)
    if full is None:
        text = html_fragment_to_text(_entry_content(entry))
        if not text.strip():
            raise LoadError("feed entry has no text and its link gave none")
        full = Article(text=text, title=title or first_sentence_title(text), origin=where)
    full.title = title or full.title
    full.url = link or full.url
    full.published = published or full.published
    full.author = as_name(entry.get("author")) or full.author
    return full


def _linked_page(link: str | None, where: str, fetcher: Fetcher) -> Article | None:
    """The article of the HTML page an entry links to; None without one (a failure is logged)."""
    if not (link and re.match(r"^https?://", link)):
        return None
    try:
        body, ctype, final_url = fetcher.get(link)
        if "html" in ctype:
            return html_to_article(decode_bytes(body, "page"), where, final_url)
    except LoadError as exc:
        log.info("%s: full text unavailable (%s); using the feed's content", link, exc)
    return None


def _entry_content(entry: Any) -> str:
    """An entry's own text (HTML or plain): its content, else its summary or description."""
    content = ""
    if entry.get("content"):
        content = entry.content[0].get("value", "")
    return content or entry.get("summary", "") or entry.get("description", "")
