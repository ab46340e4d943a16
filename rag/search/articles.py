"""Finding indexed articles: by what a user types (id, path, URL), and by date window."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from rag.components import Components
from rag.models import ArticleRecord, Passage


def article_texts(c: Components) -> Callable[[str], str | None]:
    cache: dict[str, str | None] = {}

    def get(article_id: str) -> str | None:
        if article_id not in cache:
            rec = c.registry.get(article_id, with_text=True)
            cache[article_id] = rec.text if rec else None
        return cache[article_id]

    return get


class AmbiguousArticle(LookupError):
    """A key (the path of a file holding several articles) names more than one article."""

    def __init__(self, key: str, records: list[ArticleRecord]):
        self.records = records
        listed = "; ".join(f"{r.article_id} ({r.title[:50]})" for r in records[:5])
        more = f" and {len(records) - 5} more" if len(records) > 5 else ""
        super().__init__(f"{key!r} holds {len(records)} articles; give one of their ids: {listed}{more}")


def find_article(c: Components, key: str) -> ArticleRecord | None:
    """The article a user means by `key`: its id, its URL (any usual spelling) or its ingested
    path (relative paths are resolved against the current directory). Raises AmbiguousArticle
    when the key is a file that holds several articles."""
    from urllib.parse import urlsplit

    from rag.text.urls import normalize_url, same_page

    if not c.registry_exists():
        return None
    keys = [key]
    is_url = key.lower().startswith(("http://", "https://"))
    if is_url:
        keys += [normalize_url(key), key.rstrip("/")]
    else:
        try:  # ingested paths are stored resolved; the file may have been moved or deleted since
            keys.append(str(Path(key).expanduser().resolve()))
        except (OSError, ValueError, RuntimeError):  # not a usable path: an id or a topic
            pass
    for k in keys:
        found = c.registry.find_all(k)
        if len(found) > 1 and not any(r.article_id == k for r in found):
            raise AmbiguousArticle(key, found)
        if found:
            return found[0]
    if is_url:  # stored after a redirect: https for http, "www." added or dropped, a trailing slash
        try:
            hint = urlsplit(key).path.rstrip("/").rsplit("/", 1)[-1]
        except ValueError:
            return None
        found = c.registry.find_by_url(lambda url: same_page(url, key), hint)
        if found:
            return found[0]
    return None


@dataclass
class WindowArticle:
    """An article that falls in a window, and by which date it fell in."""

    record: ArticleRecord
    day: date
    dated_by: str  # "published", or "ingested" when the published date is unknown


def ingested_day(record: ArticleRecord, tz: ZoneInfo) -> date:
    """The day (in the configured time zone) an article was first ingested."""
    stamp = datetime.fromisoformat(record.ingested_at)
    return stamp.astimezone(tz).date() if stamp.tzinfo else stamp.date()


def window_day(record: ArticleRecord, tz: ZoneInfo) -> tuple[date, str]:
    """The day by which an article falls in a window, and by which date: its published day,
    or (no published date known) the day it was first ingested, in `tz`."""
    if record.published:
        return date.fromisoformat(record.published[:10]), "published"
    return ingested_day(record, tz), "ingested"


def articles_in_window(c: Components, since: date, until: date, tz: ZoneInfo) -> list[WindowArticle]:
    """Articles published in [since, until]; one with no known published date falls in by the
    day it was first ingested. Duplicates are included (they join their original's story)."""
    if not c.registry_exists():
        return []
    out = []
    for rec in c.registry.articles():
        day, how = window_day(rec, tz)
        if since <= day <= until:
            out.append(WindowArticle(rec, day, how))
    return out


def undated_in_window(c: Components, since: date | None, until: date | None,
                      tz: ZoneInfo) -> dict[str, date]:
    """article_id -> ingest day of the indexed articles with no published date that fall in
    [since, until] (either end open when None) by the day they were first ingested, in `tz`:
    the rule of `articles_in_window`, for search filters."""
    if not c.registry_exists():
        return {}
    # ingested_at is stored in UTC: a day of margin covers every zone's offset; the exact
    # day in `tz` is decided below.
    first = (since - timedelta(days=1)).isoformat() if since and since > date.min else None
    last = (until + timedelta(days=1)).isoformat() if until and until < date.max else None
    out = {}
    for rec in c.registry.undated_articles(first, last):
        day = ingested_day(rec, tz)
        if (since is None or since <= day) and (until is None or day <= until):
            out[rec.article_id] = day
    return out


def ingest_days(c: Components, article_ids: Iterable[str]) -> dict[str, date]:
    """article_id -> the day (in NEWSDESK_TIMEZONE) it was first ingested, for those of these
    articles that have no published date: what a date-filtered listing marks them by."""
    if not c.registry_exists():
        return {}
    tz = ZoneInfo(c.settings.timezone)
    out = {}
    for article_id in dict.fromkeys(article_ids):
        rec = c.registry.get(article_id)
        if rec is not None and not rec.published:
            out[article_id] = ingested_day(rec, tz)
    return out


def article_passages(c: Components, record: ArticleRecord) -> list[Passage]:
    """The passages of an article in order: its indexed chunks, or (for a duplicate, which has
    none of its own) its text cut by the same chunker."""
    rows = c.registry.article_chunks(record.article_id)
    if rows:
        return [_passage(record, r["chunk_id"], r["text"], r["ord"], r["start"], r["end"]) for r in rows]
    from rag.ingest.chunking import Chunker

    full = record.text or (c.registry.get(record.article_id, with_text=True) or record).text
    s = c.settings
    chunks = Chunker(c.tokenizer, s.chunk_tokens, s.chunk_overlap_tokens).chunk(full)
    return [_passage(record, f"{record.article_id}:text:{ch.ord}", ch.text, ch.ord, ch.start, ch.end)
            for ch in chunks]


def _passage(rec: ArticleRecord, cid: str, text: str, ord_: int, start: int, end: int) -> Passage:
    return Passage(chunk_id=cid, article_id=rec.article_id, title=rec.title, source=rec.source,
                   published=rec.published, url=rec.url, path=rec.path, text=text, score=0.0,
                   ord=ord_, start=start, end=end)
