"""A briefing as Markdown."""

from __future__ import annotations

from rag.briefing.results import Briefing
from rag.models import Citation
from rag.search.articles import WindowArticle


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
    outlet = c.source or "outlet unknown"
    w = dated.get(c.article_id)
    if c.published:
        when = c.published
    elif w:
        when = f"date unknown, ingested {w.day.isoformat()}"
    else:
        when = "date unknown"
    where = f"<{c.url}>" if c.url else (c.path or "")
    markers = "".join(f"[{n}]" for n in numbers)
    line = f"{markers} {outlet}, “{c.title}” ({when}) {where}".rstrip()
    if c.quote in shown:
        return line + "\n"
    quote = c.quote if len(c.quote) <= 300 else c.quote[:299].rsplit(" ", 1)[0] + "…"
    return f"{line}\n> {quote}\n"


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
        lines += [f"## {i}. {s.headline}", "", s.summary, ""]
        count = len(s.article_ids)
        lines.append(f"**Outlets:** {', '.join(s.sources) or 'not named'} · {count} article{'s' * (count > 1)}")
        if s.differences:
            lines += ["", "**Where coverage differs:**"] + [f"- {d}" for d in s.differences]
        shown = s.summary + " ".join(s.differences)
        lines += ["", "**Sources:**"] + _source_lines(s.citations, dated, shown) + [""]
    return "\n".join(lines).rstrip() + "\n"
