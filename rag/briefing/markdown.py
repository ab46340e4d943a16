"""A briefing as Markdown. Everything that comes from articles (titles, outlets, quotes, summary
text) is escaped, so an article cannot forge a masked link, a mention or formatting in Discord,
and links are only http(s), percent-encoded so that none can break out of its `<...>`."""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

from rag.briefing.results import Briefing
from rag.models import Citation
from rag.search.articles import WindowArticle

# Characters Discord (and CommonMark) read as Markdown inline: emphasis, code, strike, spoilers,
# links, block quotes and `<@id>`/`<#id>`/`<t:...>` tags. A backslash before each shows it as it is.
_MARKDOWN = re.compile(r"([\\*_~`|\[\]<>])")
_LINE_START = re.compile(r"^(\s*)([#>-])", re.M)  # a heading, quote or list at the start of a line
_OUR_MARKER = re.compile(r"\\\[(\d{1,3})\\\]")  # an escaped `[n]`: the briefing's own citation marker
# What a link may hold unencoded: RFC 3986's unreserved and reserved characters, less those that
# end a Markdown link or a `<...>` (`(`, `)`, `<`, `>`), quotes, `*` and square brackets.
_URL_SAFE = "/:?#@!$&+,;=%-._~"
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$")
# Longest title and outlet shown in a briefing line: a headline-sized title reads whole, and a
# 500,000-character one (issue #18) cannot turn one story into hundreds of Discord messages.
MAX_TITLE_CHARS = 200
MAX_OUTLET_CHARS = 100
MAX_QUOTE_CHARS = 300


def escape_markdown(text: str) -> str:
    """`text` with every Markdown character escaped, so it shows as written (and no `](` left,
    which some renderers still read as a link after an escaped bracket)."""
    return _LINE_START.sub(r"\1\\\2", _MARKDOWN.sub(r"\\\1", text)).replace("](", "]\\(")


def escape_cited(text: str) -> str:
    """Text that holds the briefing's own `[n]` markers (a summary, a difference): escaped, the
    markers kept, and no `](` left to start a masked link."""
    return _OUR_MARKER.sub(r"[\1]", escape_markdown(text))


def defuse_links(text: str) -> str:
    """Generated text (an answer, possibly quoting articles) kept as written, its `[n]` markers
    and formatting included, but with no masked link (`](` is broken) and no `<...>` tag. Each
    character is changed by what comes before it only, so a streamed draft only ever grows."""
    return text.replace("\\", "\\\\").replace("](", "]\\(").replace("<", "\\<")


def shorten(text: str, limit: int) -> str:
    """One line of at most `limit` characters, cut at a space where one is near, with "…"."""
    # Only the start can be shown: a 500,000-character title is not split whole (whitespace runs
    # longer than 7 x limit make the line shorter than it could be, which is harmless).
    text = " ".join(text[:8 * limit].split()) + (" …" if len(text) > 8 * limit else "")
    if len(text) <= limit:
        return text
    cut = text[:limit - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut[limit // 2:] else cut) + "…"


def safe_url(url: str | None) -> str | None:
    """An http(s) URL with a host, percent-encoded so that it cannot end a Markdown link or a
    `<...>` early; None for anything else (the link is then not shown)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not _HOST.match(parts.netloc or ""):
        return None
    query = f"?{quote(parts.query, safe=_URL_SAFE)}" if parts.query else ""
    fragment = f"#{quote(parts.fragment, safe=_URL_SAFE)}" if parts.fragment else ""
    return f"{parts.scheme}://{parts.netloc}{quote(parts.path, safe=_URL_SAFE)}{query}{fragment}"


def _source_lines(citations: list[Citation], dated: dict[str, WindowArticle], shown: str) -> list[str]:
    """The story's sources. Citations whose quote `shown` (the story's summary and differences)
    already holds in full would read as identical lines for one article, so they share one
    line ("[1][2] …"); the others each get their own line with their quote."""
    entries: list[tuple[Citation, list[int]]] = []
    merged: dict[str, list[int]] = {}
    for c in citations:
        if c.quote in shown and c.article_id in merged:
            merged[c.article_id].append(c.n)
            continue
        entries.append((c, [c.n]))
        if c.quote in shown:
            merged[c.article_id] = entries[-1][1]
    return [_cite_line(c, dated, shown, ns) for c, ns in entries]


def _cite_line(c: Citation, dated: dict[str, WindowArticle], shown: str, numbers: list[int]) -> str:
    """One source: its markers, outlet, title, date, link; then its quote, unless `shown`
    already quotes it in full."""
    outlet = escape_markdown(shorten(c.source or "outlet unknown", MAX_OUTLET_CHARS))
    w = dated.get(c.article_id)
    if c.published:
        when = c.published
    elif w:
        when = f"date unknown, ingested {w.day.isoformat()}"
    else:
        when = "date unknown"
    url = safe_url(c.url)
    where = f"<{url}>" if url else escape_markdown(shorten(c.path or "", MAX_TITLE_CHARS))
    markers = "".join(f"[{n}]" for n in numbers)
    title = escape_markdown(shorten(c.title, MAX_TITLE_CHARS))
    line = f"{markers} {outlet}, “{title}” ({when}) {where}".rstrip()
    if c.quote in shown:
        return line + "\n"
    return f"{line}\n> {escape_markdown(shorten(c.quote, MAX_QUOTE_CHARS))}\n"


def _n(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def render_markdown(b: Briefing, window: list[WindowArticle]) -> str:
    """The briefing as Markdown that reads well in a terminal and in Discord."""
    title = b.since if b.since == b.until else f"{b.since} to {b.until}"
    lines = [f"# News briefing: {title}", ""]
    if not b.stories:
        lines.append(f"No news for {title}: no articles in this collection were published "
                     "(or, for articles with no known date, ingested) in this window.")
        return "\n".join(lines) + "\n"
    dated = {w.record.article_id: w for w in window}
    outlets = {w.record.source for w in window if w.record.source}
    undated = sum(1 for w in window if w.dated_by == "ingested")
    lines.append(f"*{_n(len(window), 'article')} from {_n(len(outlets), 'named outlet')}, in "
                 f"{_n(len(b.stories), 'story', 'stories')} · "
                 f"{b.mode} summaries · generated {b.generated_at}*")
    if undated:
        lines.append(f"*{_n(undated, 'article')} with no published date: placed by the day "
                     f"{'it was' if undated == 1 else 'they were'} ingested and marked “date unknown”.*")
    lines.append("")
    for i, s in enumerate(b.stories, 1):
        lines += [f"## {i}. {escape_markdown(shorten(s.headline, MAX_TITLE_CHARS))}", "",
                  escape_cited(s.summary), ""]
        count = len(s.article_ids)
        outlets_named = ", ".join(escape_markdown(shorten(o, MAX_OUTLET_CHARS)) for o in s.sources)
        lines.append(f"**Outlets:** {outlets_named or 'not named'} · {count} article{'s' * (count > 1)}")
        if s.differences:
            lines += ["", "**Where coverage differs:**"] + [f"- {escape_cited(d)}" for d in s.differences]
        shown = s.summary + " ".join(s.differences)
        lines += ["", "**Sources:**"] + _source_lines(s.citations, dated, shown) + [""]
    return "\n".join(lines).rstrip() + "\n"
