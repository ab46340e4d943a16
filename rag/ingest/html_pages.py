"""HTML pages and fragments as article text (trafilatura)."""

from __future__ import annotations

import re
from urllib.parse import urlparse

from rag.ingest.decoding import LoadError
from rag.ingest.fields import MIN_ARTICLE_CHARS, as_name, first_sentence_title
from rag.models import Article
from rag.text.dates import parse_date
from rag.text.sentences import normalize_text


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
