"""The loader: turns files, folders, URLs and feeds into `Article`s, or `LoadFailure`s with a reason.

A file goes to its format's module by its suffix (`FILE_HANDLERS`), a URL by the content type it is
served with. The format modules parse; the loader reads files under a size cap and checks every
article against NEWSDESK_MAX_ARTICLE_CHARS. Every loader yields; nothing reads a whole JSONL corpus
into memory.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rag.ingest.decoding import (
    LoadError,
    content_type_charset,
    decode_bytes,
    decode_markup,
    unexpected_error_reason,
)
from rag.ingest.feeds import (
    feed_articles,
    is_json_feed,
    json_feed_articles,
    looks_like_feed,
    looks_like_json_feed,
)
from rag.ingest.fetch import Fetcher
from rag.ingest.fields import AUTHOR_MAX_CHARS, SOURCE_MAX_CHARS, TITLE_MAX_CHARS, clip
from rag.ingest.html_pages import html_to_article
from rag.ingest.json_files import MAX_JSON_DOCUMENT_CHARS, json_records_articles, jsonl_articles, parse_json
from rag.ingest.text_files import parse_text_article
from rag.models import Article, LoadFailure
from rag.settings import Settings

log = logging.getLogger(__name__)

# Size caps on reading a file, in bytes, from the article limit (NEWSDESK_MAX_ARTICLE_CHARS, in
# characters). A file over its cap is refused unread ("file too large"); a file under it can still
# hold an article too long, which the character check after parsing refuses.

# UTF-8 takes at most 4 bytes a character (UTF-16 2 or 4), so a text file over 4 bytes for each
# character allowed holds more text than an article may have (its front matter aside).
MAX_BYTES_PER_CHAR = 4

# An HTML page is its article text plus markup (tags, scripts, styles, navigation), which commonly
# outweighs the text several times over. 8 bytes for each character allowed is twice the text's
# worst case: for a page in English (a byte a character) it leaves room for markup seven times the
# size of an article at the limit. A generous allowance, not a measurement; feed files, whose
# entries carry HTML, get it too.
HTML_BYTES_PER_CHAR = 8

# A .json document holds a whole corpus, not one article, and json.loads holds all of it in memory
# at once: its cap is json_files.MAX_JSON_DOCUMENT_CHARS (there in characters, here in bytes, which
# is stricter). A larger corpus belongs in a .jsonl file, which is streamed line by line.

# A feed file holds many entries, so its cap is the larger of an HTML page's (HTML_BYTES_PER_CHAR)
# and 50 MB, far above real feeds (kilobytes to a few megabytes); feedparser parses the whole
# document in memory, which this bounds.
FEED_FILE_MIN_CAP = 50_000_000


@dataclass(frozen=True)
class _File:
    """One input file, as a format handler sees it."""

    path: Path
    origin: str  # the input as given: the origin of its articles and failures
    resolved: str  # its absolute path: the path its articles keep
    max_chars: int  # the article limit, NEWSDESK_MAX_ARTICLE_CHARS
    fetcher: Fetcher  # for the pages a feed's entries link to

    def read_text(self, max_bytes: int) -> str:
        """The file's text, refused when over `max_bytes`, empty, binary or undecodable."""
        with self.path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise LoadError(f"file too large: over {max_bytes:,} bytes (NEWSDESK_MAX_ARTICLE_CHARS)")
        text = decode_bytes(data)
        if not text.strip():
            raise LoadError("empty file")
        return text

    def read_bytes(self, max_bytes: int, limit: str = "NEWSDESK_MAX_ARTICLE_CHARS") -> bytes:
        """The file's bytes, refused when over `max_bytes` (the cap `limit` sets) or empty, for a
        format that finds its own encoding (and refuses binary content as it decodes: `decode_markup`)."""
        with self.path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise LoadError(f"file too large: over {max_bytes:,} bytes ({limit})")
        if not data.strip():
            raise LoadError("empty file")
        return data

    def read_markup(self, max_bytes: int, html: bool = False, limit: str = "NEWSDESK_MAX_ARTICLE_CHARS") -> str:
        """The text of a page or a JSON document, in the encoding it declares or shows (`decode_markup`);
        refused when over `max_bytes`, empty, binary or undecodable."""
        text = decode_markup(self.read_bytes(max_bytes, limit), html=html)
        if not text.strip():
            raise LoadError("empty file")
        return text


FileHandler = Callable[[_File], Iterator[Article | LoadFailure]]


def _text_file(file: _File, markdown: bool) -> Iterator[Article | LoadFailure]:
    art = parse_text_article(file.read_text(file.max_chars * MAX_BYTES_PER_CHAR), file.origin, markdown)
    art.path = file.resolved
    yield art


def _plain_text_file(file: _File) -> Iterator[Article | LoadFailure]:
    yield from _text_file(file, markdown=False)


def _markdown_file(file: _File) -> Iterator[Article | LoadFailure]:
    yield from _text_file(file, markdown=True)


def _html_file(file: _File) -> Iterator[Article | LoadFailure]:
    art = html_to_article(file.read_markup(file.max_chars * HTML_BYTES_PER_CHAR, html=True), file.origin)
    art.path = file.resolved
    yield art


def _json_file(file: _File) -> Iterator[Article | LoadFailure]:
    """A .json file: a JSON Feed (by its "version"), else article records."""
    # Decoded as a feed is: JSON should be UTF-8, and a JSON Feed in Shift_JIS or KOI8-R still exists.
    data = parse_json(file.read_markup(MAX_JSON_DOCUMENT_CHARS, limit="a .json document's size cap; use .jsonl"))
    if is_json_feed(data):
        yield from json_feed_articles(data, file.origin, file.resolved, file.fetcher)
    else:
        yield from json_records_articles(data, file.origin, file.resolved)


def _jsonl_file(file: _File) -> Iterator[Article | LoadFailure]:
    yield from jsonl_articles(file.path, file.origin, file.resolved)


def _feed_file(file: _File) -> Iterator[Article | LoadFailure]:
    # Read as bytes, checked (empty, binary, size), and decoded by feed_articles: by its BOM, its
    # XML declaration or, undeclared, the encoding its bytes show.
    raw = file.read_bytes(max(file.max_chars * HTML_BYTES_PER_CHAR, FEED_FILE_MIN_CAP))
    yield from feed_articles(raw, file.origin, file.resolved, file.fetcher)


# Each supported suffix (lower case) and the handler that loads a file of it. Only .txt is plain
# text; the other text suffixes are read as Markdown (a "# heading" line is the title). A .json
# file is a JSON Feed when its "version" says so, else article records; .rdf is RSS 1.0.
FILE_HANDLERS: dict[str, FileHandler] = {
    ".txt": _plain_text_file,
    ".md": _markdown_file,
    ".markdown": _markdown_file,
    ".text": _markdown_file,
    ".html": _html_file,
    ".htm": _html_file,
    ".xhtml": _html_file,
    ".json": _json_file,
    ".jsonl": _jsonl_file,
    ".ndjson": _jsonl_file,
    ".xml": _feed_file,
    ".rss": _feed_file,
    ".rdf": _feed_file,
    ".atom": _feed_file,
}


def _suffixes(*handlers: FileHandler) -> frozenset[str]:
    return frozenset(suffix for suffix, handler in FILE_HANDLERS.items() if handler in handlers)


TEXT_SUFFIXES = _suffixes(_plain_text_file, _markdown_file)

HTML_SUFFIXES = _suffixes(_html_file)

JSON_SUFFIXES = _suffixes(_json_file)

JSONL_SUFFIXES = _suffixes(_jsonl_file)

FEED_SUFFIXES = _suffixes(_feed_file)

SUPPORTED_SUFFIXES = frozenset(FILE_HANDLERS)

_HTTP_URL = re.compile(r"^https?://", re.I)

_OTHER_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.I)

_FEED_CONTENT_TYPES = ("rss", "atom", "xml")  # any content type that names one of these


class Loader:
    """Expands inputs (paths, folders, URLs, feeds) into articles and failures, lazily."""

    def __init__(self, settings: Settings, fetcher: Fetcher | None = None):
        self.settings = settings
        self.fetcher = fetcher or Fetcher(settings)

    def load(self, inputs: Iterable[str]) -> Iterator[Article | LoadFailure]:
        """Articles and failures from every input, in order."""
        for item in inputs:
            if _HTTP_URL.match(item):
                yield from self._guard(item, self._load_url(item))
            elif _OTHER_URL.match(item):
                yield LoadFailure(item, "unsupported URL scheme (use http:// or https://)")
            else:
                yield from self._load_path(Path(item).expanduser(), item)

    def _guard(self, origin: str, items: Iterator[Article | LoadFailure]) -> Iterator[Article | LoadFailure]:
        """`items` with each article checked, and a failure of `origin` for what stops them."""
        try:
            for art in items:
                if isinstance(art, Article):
                    art = self._checked(art)
                yield art
        except LoadError as exc:
            yield LoadFailure(origin, str(exc))
        except OSError as exc:
            yield LoadFailure(origin, f"cannot read: {exc.strerror or exc}")
        except Exception as exc:  # whatever one input raises is its own failure, not the run's
            log.debug("%s: unexpected error while loading", origin, exc_info=True)
            yield LoadFailure(origin, unexpected_error_reason(exc))

    def _checked(self, art: Article) -> Article | LoadFailure:
        """The article with its metadata capped and NUL characters (from escapes: "\\u0000", a
        NUL byte is refused as binary) dropped, or the failure it is."""
        if "\x00" in art.text:
            art.text = art.text.replace("\x00", "")
        art.title = clip(_no_nul(art.title), TITLE_MAX_CHARS) or ""
        art.source = clip(_no_nul(art.source), SOURCE_MAX_CHARS)
        art.author = clip(_no_nul(art.author), AUTHOR_MAX_CHARS)
        art.url, art.given_id = _no_nul(art.url), _no_nul(art.given_id)
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
        yield from self._guard(origin, self._load_file(path, origin))

    def _load_file(self, path: Path, origin: str) -> Iterator[Article | LoadFailure]:
        file = _File(path, origin, str(path.resolve()), self.settings.max_article_chars, self.fetcher)
        yield from FILE_HANDLERS[path.suffix.lower()](file)

    def _load_url(self, url: str) -> Iterator[Article | LoadFailure]:
        """The article or articles at a URL, by the content type it is served with (a feed is a
        feed whatever its type)."""
        body, content_type, final_url = self.fetcher.get(url)
        # The fetcher gives the media type alone today; a charset it passes on is honoured.
        ctype, charset = content_type_charset(content_type)
        if not body.strip():
            raise LoadError("empty response")
        if ctype == "application/feed+json" or looks_like_json_feed(body):
            yield from self._json_response(body, charset, url, final_url, feed=True)
        elif "html" in ctype and not looks_like_feed(body):
            yield html_to_article(decode_markup(body, "page", charset, html=True), url, final_url)
        elif any(t in ctype for t in _FEED_CONTENT_TYPES) or looks_like_feed(body):
            yield from feed_articles(body, url, None, self.fetcher, charset)
        elif "json" in ctype:
            yield from self._json_response(body, charset, url, final_url, feed=False)
        elif ctype.startswith("text/"):
            art = parse_text_article(decode_bytes(body, "response"), url, ctype == "text/markdown")
            art.url = art.url or final_url
            yield art
        else:
            raise LoadError(f"unsupported content type {ctype or '(none)'}")

    def _json_response(self, body: bytes, charset: str | None, url: str, final_url: str,
                       feed: bool) -> Iterator[Article | LoadFailure]:
        """A JSON response: a JSON Feed (by its "version", or served as application/feed+json),
        else article records."""
        data = parse_json(decode_markup(body, "response", charset))
        if feed or is_json_feed(data):
            yield from json_feed_articles(data, url, None, self.fetcher)
        else:
            yield from json_records_articles(data, final_url, None)


def _no_nul(value: str | None) -> str | None:
    return value.replace("\x00", "") if value and "\x00" in value else value
