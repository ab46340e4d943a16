"""Loaders: turn files, folders, URLs and feeds into `Article`s, or `LoadFailure`s with a reason.

Every loader yields; nothing reads a whole JSONL corpus into memory.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from rag.ingest.decoding import UTF16_BOMS, LoadError, decode_bytes, refuse_binary
from rag.ingest.fetch import Fetcher
from rag.ingest.fields import as_name, first_sentence_title
from rag.ingest.html_pages import html_fragment_to_text, html_to_article
from rag.ingest.records import record_to_article
from rag.ingest.text_files import parse_text_article
from rag.models import Article, LoadFailure
from rag.settings import Settings
from rag.text.dates import parse_date

log = logging.getLogger(__name__)

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".text"}

HTML_SUFFIXES = {".html", ".htm", ".xhtml"}

JSON_SUFFIXES = {".json"}

JSONL_SUFFIXES = {".jsonl", ".ndjson"}

FEED_SUFFIXES = {".xml", ".rss", ".atom"}

SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | JSON_SUFFIXES | JSONL_SUFFIXES | FEED_SUFFIXES


class Loader:
    """Expands inputs (paths, folders, URLs, feeds) into articles and failures, lazily."""

    def __init__(self, settings: Settings, fetcher: Fetcher | None = None):
        self.settings = settings
        self.fetcher = fetcher or Fetcher(settings)

    def load(self, inputs: Iterable[str]) -> Iterator[Article | LoadFailure]:
        """Articles and failures from every input, in order."""
        for item in inputs:
            if re.match(r"^https?://", item, re.I):
                yield from self._guard(item, self._load_url, item)
            elif re.match(r"^[a-z][a-z0-9+.-]*://", item, re.I):
                yield LoadFailure(item, "unsupported URL scheme (use http:// or https://)")
            else:
                yield from self._load_path(Path(item).expanduser(), item)

    def _guard(self, origin: str, fn, *args) -> Iterator[Article | LoadFailure]:
        try:
            for art in fn(*args):
                if isinstance(art, Article):
                    art = self._checked(art)
                yield art
        except LoadError as exc:
            yield LoadFailure(origin, str(exc))
        except OSError as exc:
            yield LoadFailure(origin, f"cannot read: {exc.strerror or exc}")

    def _checked(self, art: Article) -> Article | LoadFailure:
        if not art.text.strip():
            return LoadFailure(art.origin, "empty article: no text")
        if len(art.text) > self.settings.max_article_chars:
            return LoadFailure(
                art.origin,
                f"article too long: {len(art.text):,} characters "
                f"(limit {self.settings.max_article_chars:,}; NEWSDESK_MAX_ARTICLE_CHARS)",
            )
        return art

    def _load_path(self, path: Path, origin: str) -> Iterator[Article | LoadFailure]:
        try:  # exists() and is_dir() raise on a path we may not look at (EACCES)
            if not path.exists():
                yield LoadFailure(origin, "no such file or directory")
                return
            is_dir = path.is_dir()
            files = sorted(
                p for p in path.rglob("*")
                if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            ) if is_dir else []
        except OSError as exc:
            yield LoadFailure(origin, f"cannot read: {exc.strerror or exc}")
            return
        if is_dir:
            if not files:
                yield LoadFailure(origin, "folder holds no supported files (" +
                                  " ".join(sorted(SUPPORTED_SUFFIXES)) + ")")
            for file in files:
                yield from self._load_path(file, str(file))
            return
        suffix = path.suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            yield LoadFailure(origin, f"unsupported file type {suffix or '(none)'}")
            return
        yield from self._guard(origin, self._load_file, path, origin)

    def _read_text(self, path: Path, limit: int) -> str:
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
        if len(data) > limit:
            raise LoadError(f"file too large: over {limit:,} bytes (NEWSDESK_MAX_ARTICLE_CHARS)")
        text = decode_bytes(data)
        if not text.strip():
            raise LoadError("empty file")
        return text

    def _load_file(self, path: Path, origin: str) -> Iterator[Article | LoadFailure]:
        suffix = path.suffix.lower()
        resolved = str(path.resolve())
        limit = self.settings.max_article_chars
        if suffix in JSONL_SUFFIXES:
            yield from self._load_jsonl(path, origin, resolved)
            return
        if suffix in TEXT_SUFFIXES:
            art = parse_text_article(self._read_text(path, limit * 4), origin, suffix != ".txt")
        elif suffix in HTML_SUFFIXES:
            art = html_to_article(self._read_text(path, limit * 8), origin)
        elif suffix in JSON_SUFFIXES:
            yield from self._load_json(self._read_text(path, max(limit * 4, 1 << 30)), origin, resolved)
            return
        else:
            raw = self._read_text(path, max(limit * 8, 50_000_000))  # empty/binary/size checks
            yield from self._load_feed(raw.encode("utf-8"), origin, resolved)
            return
        art.path = resolved
        yield art

    def _load_json(self, raw: str, origin: str, path: str | None) -> Iterator[Article | LoadFailure]:
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise LoadError(f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
        if isinstance(data, dict):
            for key in ("articles", "items", "data", "documents", "results"):
                if isinstance(data.get(key), list):
                    data = data[key]
                    break
        records = data if isinstance(data, list) else [data]
        if not records:
            raise LoadError("JSON holds no articles")
        for n, record in enumerate(records):
            where = f"{origin}[{n}]" if isinstance(data, list) else origin
            locator = f"{path or origin}[{n}]" if isinstance(data, list) else None
            yield from self._record(record, where, path, locator)

    def _record(self, record: Any, where: str, path: str | None,
                locator: str | None) -> Iterator[Article | LoadFailure]:
        try:
            art = record_to_article(record, where)
        except LoadError as exc:
            yield LoadFailure(where, str(exc))
            return
        art.path = path
        art.locator = locator
        yield self._checked(art)

    def _load_jsonl(self, path: Path, origin: str, resolved: str) -> Iterator[Article | LoadFailure]:
        seen_any = False
        with path.open("rb") as fh:
            # A binary file fails once, not once per "line". Only a check for binary content: a
            # decode of the first 8 KB could cut a multi-byte character and fail a good file.
            head = fh.read(8192)
            if head.startswith(UTF16_BOMS):
                raise LoadError("UTF-16 .jsonl is not supported; save it as UTF-8")
            refuse_binary(head)
            fh.seek(0)
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                seen_any = True
                where = f"{origin}:{lineno}"
                try:
                    record = json.loads(decode_bytes(line, "line"))
                except LoadError as exc:
                    yield LoadFailure(where, str(exc))
                    continue
                except json.JSONDecodeError as exc:
                    yield LoadFailure(where, f"malformed JSON on line {lineno}: {exc.msg} (column {exc.colno})")
                    continue
                yield from self._record(record, where, resolved, f"{resolved}:{lineno}")
        if not seen_any:
            raise LoadError("empty file")

    def _load_url(self, url: str) -> Iterator[Article | LoadFailure]:
        body, ctype, final_url = self.fetcher.get(url)
        if not body.strip():
            raise LoadError("empty response")
        if "html" in ctype and not _looks_like_feed(body):
            art = html_to_article(decode_bytes(body, "page"), url, final_url)
            yield art
        elif any(t in ctype for t in ("rss", "atom", "xml")) or _looks_like_feed(body):
            yield from self._load_feed(body, url, None)
        elif "json" in ctype:
            yield from self._load_json(decode_bytes(body, "response"), final_url, None)
        elif ctype.startswith("text/"):
            art = parse_text_article(decode_bytes(body, "response"), url, ctype == "text/markdown")
            art.url = art.url or final_url
            yield art
        else:
            raise LoadError(f"unsupported content type {ctype or '(none)'}")

    def _load_feed(self, body: bytes, origin: str, path: str | None) -> Iterator[Article | LoadFailure]:
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
                art = self._feed_entry(entry, where, link)
            except LoadError as exc:
                yield LoadFailure(where, str(exc))
                continue
            art.source = outlet or art.source
            art.path = path
            art.given_id = as_name(entry.get("id")) if not link else None
            art.locator = f"{path or origin}#{n + 1}"
            yield self._checked(art)

    def _feed_entry(self, entry: Any, where: str, link: str | None) -> Article:
        # The date as the publisher wrote it (its own time zone), as for a JSON record; the
        # *_parsed values are converted to UTC and can move an evening story to the next day.
        published = (parse_date(entry.get("published")) or parse_date(entry.get("updated"))
                     or parse_date(entry.get("published_parsed") or entry.get("updated_parsed")))
        title = as_name(entry.get("title"))
        full: Article | None = None
        if link and re.match(r"^https?://", link):
            try:
                body, ctype, final_url = self.fetcher.get(link)
                if "html" in ctype:
                    full = html_to_article(decode_bytes(body, "page"), where, final_url)
            except LoadError as exc:
                log.info("%s: full text unavailable (%s); using the feed's content", link, exc)
        if full is None:
            content = ""
            if entry.get("content"):
                content = entry.content[0].get("value", "")
            content = content or entry.get("summary", "") or entry.get("description", "")
            text = html_fragment_to_text(content)
            if not text.strip():
                raise LoadError("feed entry has no text and its link gave none")
            full = Article(text=text, title=title or first_sentence_title(text), origin=where)
        full.title = title or full.title
        full.url = link or full.url
        full.published = published or full.published
        full.author = as_name(entry.get("author")) or full.author
        return full


def _looks_like_feed(body: bytes) -> bool:
    head = body[:1024].lstrip().lower()
    return head.startswith(b"<?xml") and (b"<rss" in head or b"<feed" in head or b"<rdf" in head) \
        or head.startswith((b"<rss", b"<feed"))
