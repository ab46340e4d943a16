"""Loaders: turn files, folders, URLs and feeds into `Article`s, or `LoadFailure`s with a reason.

Every loader yields; nothing reads a whole JSONL corpus into memory.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from .dates import leading_date, parse_date
from .models import Article, LoadFailure
from .settings import Settings
from .text import normalize_text, split_sentences

log = logging.getLogger(__name__)

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".text"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
JSON_SUFFIXES = {".json"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
FEED_SUFFIXES = {".xml", ".rss", ".atom"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | JSON_SUFFIXES | JSONL_SUFFIXES | FEED_SUFFIXES

MIN_ARTICLE_CHARS = 40  # less than this after extraction is no article

_TEXT_FIELDS = ("text", "body", "content", "article", "maintext", "full_text")
_TITLE_FIELDS = ("title", "headline")
_URL_FIELDS = ("url", "link", "href")
_SOURCE_FIELDS = ("source", "source_domain", "outlet", "publisher", "site_name", "sitename")
_DATE_FIELDS = ("published", "published_date", "published_at", "publishedAt", "date", "pubDate",
                "publish_date", "datePublished")
_AUTHOR_FIELDS = ("author", "authors", "byline")
_ID_FIELDS = ("id", "doc_id", "article_id", "uuid")

_FIELD_GROUPS = {"title": _TITLE_FIELDS, "source": _SOURCE_FIELDS, "author": _AUTHOR_FIELDS, "published": _DATE_FIELDS,
                 "url": _URL_FIELDS}

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_BINARY_MAGIC = (b"%PDF", b"\x89PNG", b"PK\x03\x04", b"GIF8", b"\xff\xd8\xff", b"\x7fELF")
_HEADER_LINE = re.compile(
    r"^(title|headline|source|outlet|publisher|author|by|date|published|url|link)\s*:\s*(.+)$", re.I
)
_BYLINE = re.compile(r"^(?i:by)\s+([A-Z][\w.'’-]+(?:\s+[A-Z][\w.'’-]+){0,3})\s*$")
_OUTLET_LEAD = re.compile(r"^\(\s*([A-Z][\w.&' -]{1,40}?)\s*\)\s*[–—-]\s*")
_APPEARED = re.compile(
    r"^this (?:article|story|piece) (?:first |originally )?appeared (?:in|on) (?:the website of )?"
    r"([A-Z][\w.&' -]{1,40}?)(?: and .*)?\.?$", re.I
)
_COPYRIGHT = re.compile(r"^(?:copyright|©)\s*(?:©\s*)?\d{4},?\s+([A-Z][\w.&' -]{1,40}?)\.?\s*$", re.I)


class LoadError(Exception):
    """An input that cannot be loaded; the message is the one-line reason users see."""


class PrivateAddressError(LoadError):
    """A URL refused because its host is not a public internet address."""


def refuse_private_address(url: str) -> None:
    """Raise PrivateAddressError when a URL's host resolves to a loopback, private, link-local or
    other non-public address: a front end open to strangers (the Discord bot) must not make its
    host fetch its own internal services (cloud metadata, local admin pages) and read them back.

    The check resolves the name itself, so a name that resolves differently moments later (DNS
    rebinding) is not caught; it guards against plain internal URLs and redirects to them."""
    import ipaddress
    import socket

    host = urlparse(url).hostname
    if not host:
        raise PrivateAddressError("give an http(s) URL with a host name")
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        raise PrivateAddressError(f"cannot resolve {host}") from None
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%")[0])
        if not ip.is_global:
            raise PrivateAddressError(f"{host} is a private or local address; only public sites are fetched")


def decode_bytes(data: bytes, what: str = "file") -> str:
    """Decode text, trying UTF-8 (with or without BOM), UTF-16 with BOM, then Windows-1252."""
    if data.startswith(_UTF16_BOMS):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise LoadError(f"undecodable text: invalid UTF-16 in {what}") from None
    refuse_binary(data[:8192], what)
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise LoadError(f"undecodable text: {what} is neither UTF-8 nor Windows-1252")


def refuse_binary(head: bytes, what: str = "file") -> None:
    """Raise LoadError if the first bytes of a file show it is not text (NUL bytes, a known
    binary format's magic number)."""
    if b"\x00" in head or head.startswith(_BINARY_MAGIC):
        raise LoadError(f"binary {what}, not text")


def first_sentence_title(text: str, limit: int = 100) -> str:
    """A title made from the first sentence, for articles that have none."""
    spans = split_sentences(text[:2000])
    title = text[spans[0][0]:spans[0][1]] if spans else text[:limit]
    title = " ".join(title.split())
    return title if len(title) <= limit else title[: limit - 1].rsplit(" ", 1)[0] + "…"


def _front_matter(raw: str) -> tuple[dict[str, Any], str]:
    if not raw.startswith("---\n"):
        return {}, raw
    end = raw.find("\n---", 4)
    if end < 0:
        return {}, raw
    import yaml

    try:
        meta = yaml.safe_load(raw[4:end]) or {}
    except yaml.YAMLError as exc:
        raise LoadError(f"malformed front matter: {str(exc).splitlines()[0]}") from None
    if not isinstance(meta, dict):
        raise LoadError("malformed front matter: expected 'key: value' lines")
    rest = raw[end + 4:]
    return meta, rest[rest.find("\n") + 1:] if "\n" in rest else ""


def _first(record: dict[str, Any], fields: Iterable[str]) -> Any:
    for name in fields:
        value = record.get(name)
        if value not in (None, "", [], {}):
            return value
    return None


def _as_name(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("name") or value.get("title") or value.get("id")
    if isinstance(value, (list, tuple)):
        names = [_as_name(v) for v in value]
        value = ", ".join(n for n in names if n)
    value = " ".join(str(value).split())
    return value or None


def parse_text_article(raw: str, origin: str, markdown: bool, meta: dict[str, Any] | None = None) -> Article:
    """A plain-text or Markdown article: title from front matter, a heading or the first line."""
    raw = raw.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    front, body = _front_matter(raw)
    meta = {**(meta or {}), **{str(k).lower(): v for k, v in front.items()}}
    lines = body.split("\n")
    i = 0
    title = _as_name(_first(meta, _TITLE_FIELDS))

    def skip_blank() -> None:
        nonlocal i
        while i < len(lines) and not lines[i].strip():
            i += 1

    skip_blank()
    if i < len(lines):
        line = lines[i].strip()
        heading = re.match(r"^#{1,6}\s+(.+?)\s*#*$", line) if markdown else None
        if heading:
            title = title or heading.group(1).strip()
            i += 1
        elif (leading_date(line) is None and not _HEADER_LINE.match(line) and len(line) <= 150
              and any(rest.strip() for rest in lines[i + 1:])):
            if title is None or line == title:
                title = title or line
                i += 1
    # Labelled header lines ("Outlet: ...", "Date: ...") and a byline right under the title.
    while True:
        skip_blank()
        if i >= len(lines):
            break
        line = lines[i].strip()
        labelled = _HEADER_LINE.match(line)
        byline = _BYLINE.match(line)
        if labelled:
            key = labelled.group(1).lower()
            key = {"by": "author", "outlet": "source", "publisher": "source", "link": "url",
                   "date": "published", "headline": "title"}.get(key, key)
            if key == "published":
                found = leading_date(labelled.group(2))
                if found and labelled.group(2)[found[1]:].strip():
                    break  # "Date: 2023-11-12 The story begins..." : the body starts on this line
            if _first(meta, _FIELD_GROUPS[key]) is None:  # front matter wins over header lines
                meta[key] = labelled.group(2).strip()
        elif byline:
            if _first(meta, _AUTHOR_FIELDS) is None:
                meta["author"] = byline.group(1)
        else:
            break
        i += 1
    text = "\n".join(lines[i:])
    title = title or _as_name(_first(meta, _TITLE_FIELDS))
    published = parse_date(_first(meta, _DATE_FIELDS))
    top = leading_date(text)
    if top and re.match(r"^\s*(?:date|published|dated)\b", text, re.I):
        text = text[top[1]:]  # an explicit "date ..." marker is metadata, not article text
    if published is None and top:
        published = top[0]
    text = normalize_text(text)
    source = _as_name(_first(meta, _SOURCE_FIELDS))
    if source is None:
        source = _outlet_hint(text)
    if not text.strip():
        raise LoadError("empty article: no text after the title and metadata")
    return Article(
        text=text,
        title=title or first_sentence_title(text),
        source=source,
        author=_as_name(_first(meta, _AUTHOR_FIELDS)),
        url=_as_name(_first(meta, _URL_FIELDS)),
        published=published,
        given_id=_as_name(_first(meta, _ID_FIELDS)),
        origin=origin,
    )


def _outlet_hint(text: str) -> str | None:
    """An outlet named by the article itself: "(Outlet.com) – ..." or a closing copyright line."""
    lead = _OUTLET_LEAD.match(text)
    if lead:
        return lead.group(1)
    last = text.rstrip().rsplit("\n", 1)[-1].strip()
    tail = _COPYRIGHT.match(last) or _APPEARED.match(last)
    return tail.group(1) if tail else None


def record_to_article(record: Any, origin: str) -> Article:
    """An article from a JSON record with the common field names of DESIGN.md."""
    if not isinstance(record, dict):
        raise LoadError(f"expected a JSON object (an article), got {type(record).__name__}")
    text = _first(record, _TEXT_FIELDS)
    if isinstance(text, list):
        text = "\n\n".join(str(t) for t in text)
    if not isinstance(text, str) or not text.strip():
        raise LoadError("record has no article text (fields: " + ", ".join(_TEXT_FIELDS) + ")")
    text = normalize_text(text)
    raw_date = _first(record, _DATE_FIELDS)
    published = parse_date(raw_date)
    if raw_date is not None and published is None:
        log.warning("%s: published date %r is not a full date (day, month, year), ignored", origin, raw_date)
    if raw_date is None and (top := leading_date(text)):
        published = top[0]  # a dateline ("WASHINGTON, June 19, 2024 — ...") as in text files
    title = _as_name(_first(record, _TITLE_FIELDS))
    return Article(
        text=text,
        title=title or first_sentence_title(text),
        source=_as_name(_first(record, _SOURCE_FIELDS)),
        author=_as_name(_first(record, _AUTHOR_FIELDS)),
        url=_as_name(_first(record, _URL_FIELDS)),
        published=published,
        given_id=_as_name(_first(record, _ID_FIELDS)),
        origin=origin,
    )


def html_to_article(html: str, origin: str, url: str | None = None) -> Article:
    """The main text and metadata of an HTML page (trafilatura)."""
    import trafilatura

    doc = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        date_extraction_params={"extensive_search": False, "original_date": True},
    )
    text = normalize_text(getattr(doc, "text", None) or "") if doc is not None else ""
    title = (getattr(doc, "title", None) or "").strip() if doc is not None else ""
    if title and text.startswith(title):
        text = text[len(title):].lstrip()
    if len(text) < MIN_ARTICLE_CHARS:
        raise LoadError("HTML has no article text")
    source = getattr(doc, "sitename", None) or (urlparse(url).hostname if url else None)
    if source and source.startswith("www."):
        source = source[4:]
    return Article(
        text=text,
        title=title or first_sentence_title(text),
        source=source,
        author=_as_name(getattr(doc, "author", None)),
        url=url or getattr(doc, "url", None),
        published=parse_date(getattr(doc, "date", None)),
        origin=origin,
    )


def html_fragment_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment (a feed entry's content)."""
    if "<" not in fragment:
        return normalize_text(fragment)
    import lxml.html

    try:
        root = lxml.html.fromstring(fragment)
    except Exception:  # lxml raises several types on junk
        return normalize_text(re.sub(r"<[^>]+>", " ", fragment))
    for br in root.iter("br"):
        br.tail = "\n" + (br.tail or "")
    for block in root.iter("p", "div", "li", "h1", "h2", "h3", "h4"):
        block.tail = "\n\n" + (block.tail or "")
    return normalize_text(root.text_content())


class Fetcher:
    """HTTP(S) GET with a timeout, a size cap and a clear error for each failure.

    `url_guard` (e.g. `refuse_private_address`) sees every request before it is sent: the first,
    each redirect and each feed item's link. It refuses one by raising LoadError."""

    def __init__(self, settings: Settings, url_guard: Callable[[str], None] | None = None):
        self.settings = settings
        self.url_guard = url_guard
        self._client = None

    def _http(self):
        if self._client is None:
            import httpx

            hooks = {"request": [lambda request: self.url_guard(str(request.url))]} if self.url_guard else {}
            self._client = httpx.Client(
                timeout=self.settings.http_timeout,
                follow_redirects=True,
                headers={"User-Agent": self.settings.user_agent},
                event_hooks=hooks,
            )
        return self._client

    def get(self, url: str) -> tuple[bytes, str, str]:
        """(body, content type, final URL) of `url`; raises LoadError on any failure."""
        import httpx

        limit = self.settings.http_max_bytes
        try:
            with self._http().stream("GET", url) as response:
                if response.status_code >= 400:
                    raise LoadError(f"HTTP {response.status_code} {response.reason_phrase}")
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > limit:
                    raise LoadError(f"response too large: {int(declared)} bytes (limit {limit})")
                body = bytearray()
                for piece in response.iter_bytes():
                    body.extend(piece)
                    if len(body) > limit:
                        raise LoadError(f"response too large: over {limit} bytes")
                ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
                return bytes(body), ctype, str(response.url)
        except httpx.TimeoutException:
            raise LoadError(f"timed out after {self.settings.http_timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise LoadError(f"unreachable: {exc.__class__.__name__}: {exc}".strip()) from None

    def close(self) -> None:
        """Close the HTTP connection pool."""
        if self._client is not None:
            self._client.close()
            self._client = None


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
            if head.startswith(_UTF16_BOMS):
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
        outlet = _as_name(feed.feed.get("title"))
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
            art.given_id = _as_name(entry.get("id")) if not link else None
            art.locator = f"{path or origin}#{n + 1}"
            yield self._checked(art)

    def _feed_entry(self, entry: Any, where: str, link: str | None) -> Article:
        # The date as the publisher wrote it (its own time zone), as for a JSON record; the
        # *_parsed values are converted to UTC and can move an evening story to the next day.
        published = (parse_date(entry.get("published")) or parse_date(entry.get("updated"))
                     or parse_date(entry.get("published_parsed") or entry.get("updated_parsed")))
        title = _as_name(entry.get("title"))
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
        full.author = _as_name(entry.get("author")) or full.author
        return full


def _looks_like_feed(body: bytes) -> bool:
    head = body[:1024].lstrip().lower()
    return head.startswith(b"<?xml") and (b"<rss" in head or b"<feed" in head or b"<rdf" in head) \
        or head.startswith((b"<rss", b"<feed"))
