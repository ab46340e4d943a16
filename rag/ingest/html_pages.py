"""HTML pages and fragments as article text (trafilatura)."""

from __future__ import annotations

import logging
import re
from urllib.parse import urlparse

from rag.ingest.decoding import LoadError
from rag.ingest.fields import MIN_ARTICLE_CHARS, as_name, first_sentence_title
from rag.models import Article
from rag.text.dates import parse_date
from rag.text.sentences import normalize_text

log = logging.getLogger(__name__)

# libxml2 checks each attribute of an element against the ones before it, so one element with n
# attributes costs n squared: 32,000 on one element (341 KB) took 10 s to extract here, 58,000
# (565 KB) 163 s in the issue #18 review. Real pages' elements carry a few dozen at most (class,
# id, data-*, aria-*); 500 cost under a millisecond. An element with more keeps its text and loses
# its attributes before the page is parsed.
MAX_ATTRIBUTES_PER_ELEMENT = 500

# The most elements a page may have to be extracted. Trafilatura's time grows faster than the
# element count: 60,000 unclosed inline elements (280 KB) took 6 s here, 120,000 (560 KB) 14 s,
# 450,000 (2.1 MB) 210 s. A news article's page holds a few thousand, the longest Wikipedia pages
# some tens of thousands; 50,000 bounds one page's extraction to about 5 s on 2 shared cores.
MAX_HTML_ELEMENTS = 50_000

_ELEMENT = re.compile(r"<[A-Za-z]")

# A start tag, its quoted values read whole (a '>' inside quotes does not end it), to the next '<'
# or '>' outside quotes; written as an unrolled loop, which the regex engine runs at memory speed.
_START_TAG = re.compile(r"""<([A-Za-z][^\s/<>]*)([^<>"']*(?:(?:"[^"]*"|'[^']*')[^<>"']*)*)""")

# One attribute: a name, and a value if it has one.
_ATTRIBUTE = re.compile(r"""[^\s"'<>/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'<>]*))?""")


def screen_markup(html: str) -> str:
    """`html` with the attributes of any element that has over MAX_ATTRIBUTES_PER_ELEMENT of
    them dropped (its text kept): such an element costs the parser quadratic time."""
    # Only a tag long enough to hold that many (two characters each at least: a separator and a
    # name) is counted.
    min_len = 2 * MAX_ATTRIBUTES_PER_ELEMENT
    parts: list[str] = []
    done = 0
    for tag in _START_TAG.finditer(html):
        if len(tag.group(2)) < min_len:
            continue
        if sum(1 for _ in _ATTRIBUTE.finditer(tag.group(2))) > MAX_ATTRIBUTES_PER_ELEMENT:
            parts += [html[done:tag.start()], "<", tag.group(1)]
            done = tag.end()
    if not parts:
        return html
    return "".join(parts) + html[done:]


def html_to_article(html: str, origin: str, url: str | None = None) -> Article:
    """The main text and metadata of an HTML page (trafilatura)."""
    import trafilatura

    elements = sum(1 for _ in _ELEMENT.finditer(html))
    if elements > MAX_HTML_ELEMENTS:
        raise LoadError(f"HTML too complex to extract: {elements:,} elements (limit {MAX_HTML_ELEMENTS:,})")
    screened = screen_markup(html)
    if screened is not html:
        log.warning("%s: dropped the attributes of elements with over %d of them (they cost the parser "
                    "quadratic time)", origin, MAX_ATTRIBUTES_PER_ELEMENT)
    doc = trafilatura.bare_extraction(
        screened,
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
        author=as_name(getattr(doc, "author", None)),
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
