"""Turning answers, summaries and briefings into Discord messages and embeds within Discord's
limits, split at paragraph or sentence boundaries."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

import discord

from rag.briefing.markdown import defuse_links, escape_markdown, safe_url
from rag.briefing.markdown import shorten as _shorten
from rag.models import Citation
from rag.text.sentences import round_brackets, split_sentences

if TYPE_CHECKING:
    from rag.store.subscriptions import Feed

MESSAGE_LIMIT = 2000       # characters in a message's content
DESCRIPTION_LIMIT = 4096   # an embed's description
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FIELDS_LIMIT = 25          # fields in one embed
TITLE_LIMIT = 256          # an embed's title and its author's name
FOOTER_LIMIT = 2048
EMBED_TOTAL_LIMIT = 6000   # all text of all embeds in one message
EMBEDS_PER_MESSAGE = 10
QUOTE_CHARS = 300          # a source's quote, shortened for the field (the full one is in --json)
# Longest title, outlet and URL named in a one-line reply (/ingest): a headline reads whole, and
# five of them with their URL stay far within one message.
REPLY_TITLE_CHARS = 150
REPLY_URL_CHARS = 300
SOURCES_SHOWN = 24         # /sources: outlets with a field each; the 25th field counts the rest
SOURCE_NAME_CHARS = 80     # an outlet's name in /sources: even escaped (twice as long at most), 24 stay within 6,000

_LEADING_MARKERS = re.compile(r"((?:\[\d+\]\s*)+)")


def _sentences(text: str) -> list[str]:
    """Sentences of `text`, each keeping the `[n]` markers that follow it (so a message never
    starts with the previous sentence's citation)."""
    out: list[str] = []
    for start, end in split_sentences(text):
        sentence = text[start:end]
        m = _LEADING_MARKERS.match(sentence)
        if m and out:
            out[-1] += " " + m.group(1).strip()
            sentence = sentence[m.end():]
        if sentence:
            out.append(sentence)
    return out


def split_text(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` characters, cut at paragraph breaks, else line breaks, else
    sentence ends, else spaces; only a single unbroken run longer than `limit` is cut mid-word."""
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    for sep in ("\n\n", "\n", None, " "):
        parts = _sentences(text) if sep is None else text.split(sep)
        joiner = " " if sep is None else sep
        if len(parts) < 2:
            continue
        pieces: list[str] = []
        current = ""
        for part in parts:
            candidate = f"{current}{joiner}{part}" if current else part
            if len(candidate) <= limit:
                current = candidate
                continue
            if current:
                pieces.append(current)
            if len(part) > limit:
                sub = split_text(part, limit)
                pieces += sub[:-1]
                current = sub[-1] if sub else ""
            else:
                current = part
        if current:
            pieces.append(current)
        return [p.strip() for p in pieces if p.strip()]
    return [text[i:i + limit] for i in range(0, len(text), limit)]


def _cut(text: str | None, limit: int) -> str | None:
    """`text` cut to `limit` characters, marked with "…" when cut."""
    if text is None or len(text) <= limit:
        return text
    return text[:limit - 1] + "…"


def shown(text: str | None, limit: int) -> str:
    """Text from an article or a feed, shortened to one line of `limit` characters and escaped,
    so that it shows as written (no masked link, mention or formatting of its own)."""
    return escape_markdown(_shorten(text or "", limit))


def one_message(text: str) -> str:
    """`text` within one message's 2,000 characters (cut with "…")."""
    return _cut(text.strip(), MESSAGE_LIMIT) or ""


def source_field(cit: Citation) -> tuple[str, str]:
    """(name, value) of an embed field for one citation: outlet and date; title (linked) and
    a short quote."""
    name = _cut(f"[{cit.n}] {shown(cit.source or 'outlet not named', 150)} · "
                f"{shown(cit.published or 'date unknown', 40)}", FIELD_NAME_LIMIT) or ""
    title = shown(round_brackets(cit.title or "untitled"), 200)
    url = safe_url(cit.url)
    head = f"[{title}]({url})" if url else title
    quote = shown(cit.quote, QUOTE_CHARS)
    value = f"{head}\n> {quote}" if quote else head
    return name, value[:FIELD_VALUE_LIMIT]


def _embed_size(e: discord.Embed) -> int:
    return len(e)  # discord.py counts title, description, fields, footer and author


def fit_embed(e: discord.Embed) -> discord.Embed:
    """`e` within every limit of Discord's (title 256, description 4,096, 25 fields of name 256
    and value 1,024, footer 2,048, author 256, 6,000 in all): cut, and fields beyond the total
    dropped from the end. Every embed the bot sends passes through here."""
    e.title = _cut(e.title, TITLE_LIMIT)
    e.description = _cut(e.description, DESCRIPTION_LIMIT)
    if e.footer.text:
        e.set_footer(text=_cut(e.footer.text, FOOTER_LIMIT), icon_url=e.footer.icon_url)
    if e.author.name:
        e.set_author(name=_cut(e.author.name, TITLE_LIMIT) or "", url=e.author.url, icon_url=e.author.icon_url)
    fields = [(_cut(f.name, FIELD_NAME_LIMIT) or "\u200b", _cut(f.value, FIELD_VALUE_LIMIT) or "\u200b", f.inline)
              for f in e.fields[:FIELDS_LIMIT]]
    e.clear_fields()
    for name, value, inline in fields:
        e.add_field(name=name, value=value, inline=bool(inline))
    while len(e) > EMBED_TOTAL_LIMIT and e.fields:
        e.remove_field(len(e.fields) - 1)
    if len(e) > EMBED_TOTAL_LIMIT and e.description:  # what is left over is the description's
        e.description = _cut(e.description, max(1, len(e.description) - (len(e) - EMBED_TOTAL_LIMIT)))
    return e


def cited_embeds(title: str, text: str, citations: list[Citation], warnings: list[str] | None = None,
                 colour: discord.Colour | None = None) -> list[discord.Embed]:
    """The text as embed descriptions, then one field per cited source, all within limits."""
    colour = colour or discord.Colour.blurple()
    title = _shorten(title, 256)
    embeds = [discord.Embed(title=title if i == 0 else None, description=part, colour=colour)
              for i, part in enumerate(split_text(defuse_links(text), DESCRIPTION_LIMIT) or ["(empty)"])]
    for cit in citations:
        name, value = source_field(cit)
        last = embeds[-1]
        if len(last.fields) >= FIELDS_LIMIT or _embed_size(last) + len(name) + len(value) > EMBED_TOTAL_LIMIT - 200:
            last = discord.Embed(colour=colour)
            embeds.append(last)
        last.add_field(name=name, value=value, inline=False)
    if warnings:
        note = _shorten("⚠ " + " · ".join(warnings), 2048)
        if _embed_size(embeds[-1]) + len(note) > EMBED_TOTAL_LIMIT:
            embeds.append(discord.Embed(colour=colour))
        embeds[-1].set_footer(text=note)
    return embeds


def answer_embeds(answer) -> list[discord.Embed]:
    """An `ask` answer; `answerable: false` shown plainly, without sources."""
    if not answer.answerable:
        return [discord.Embed(title=_shorten(answer.question, 256), description=defuse_links(answer.answer),
                              colour=discord.Colour.light_grey())]
    return cited_embeds(answer.question, answer.answer, answer.citations, answer.warnings)


def summary_embeds(summary) -> list[discord.Embed]:
    """A `summarize` result."""
    if not summary.citations:
        return [discord.Embed(title=_shorten(f"Summary: {summary.target}", 256),
                              description=defuse_links(summary.summary),
                              colour=discord.Colour.light_grey())]
    return cited_embeds(f"Summary: {summary.target}", summary.summary, summary.citations, summary.warnings)


def pack_embeds(embeds: list[discord.Embed]) -> list[list[discord.Embed]]:
    """Embeds grouped into messages: at most 10 per message and 6,000 characters in all."""
    messages: list[list[discord.Embed]] = [[]]
    total = 0
    for e in map(fit_embed, embeds):
        size = _embed_size(e)
        if messages[-1] and (len(messages[-1]) >= EMBEDS_PER_MESSAGE or total + size > EMBED_TOTAL_LIMIT):
            messages.append([])
            total = 0
        messages[-1].append(e)
        total += size
    return [m for m in messages if m]


def briefing_messages(markdown: str) -> list[str]:
    """A briefing's Markdown as messages of at most 2,000 characters, split between stories
    and paragraphs; links are wrapped in <> by the briefing so Discord shows no previews."""
    return split_text(markdown, MESSAGE_LIMIT)


FEEDS_SHOWN = 50  # /feeds list shows this many feeds (a few messages at most), then counts the rest


def _when(stamp: datetime | None) -> str:
    """A feed's time as Discord shows it in the reader's own time zone (<t:…>), or "—"."""
    return f"<t:{int(stamp.timestamp())}:R>" if stamp else "—"


def feed_field(feed: Feed) -> tuple[str, str]:
    """(name, value) of an embed field for one subscribed feed: its URL; its name, interval,
    status, last and next poll, articles added, and its last error."""
    name = shown(feed.url, FIELD_NAME_LIMIT - 10)
    lines = [f"**{shown(feed.name, 200)}**"] if feed.name else []
    lines.append(f"every {feed.every_minutes} min · {feed.status.replace('_', ' ')} · "
                 f"{feed.articles_added} articles added")
    lines.append(f"last poll {_when(feed.last_poll)} · next {_when(feed.next_poll) if feed.next_poll else 'now'}")
    if feed.last_error:
        lines.append(f"⚠ {shown(feed.last_error, 300)}")
    return name, "\n".join(lines)[:FIELD_VALUE_LIMIT]


def feeds_embeds(feeds: list[Feed], title: str) -> list[discord.Embed]:
    """The subscribed feeds, one field each, in as many embeds as Discord's limits need (at most
    FEEDS_SHOWN feeds; the rest are counted)."""
    colour = discord.Colour.blurple()
    if not feeds:
        return [discord.Embed(title=_shorten(title, 256), colour=discord.Colour.light_grey(),
                              description="No feeds yet. Subscribe to one with /feeds add.")]
    embeds = [discord.Embed(title=_shorten(title, 256), colour=colour,
                            description=f"{len(feeds)} feed{'s' * (len(feeds) != 1)}; polled by `newsdesk run` "
                                        "(or `newsdesk feeds poll`)")]
    for feed in feeds[:FEEDS_SHOWN]:
        name, value = feed_field(feed)
        last = embeds[-1]
        if len(last.fields) >= FIELDS_LIMIT or _embed_size(last) + len(name) + len(value) > EMBED_TOTAL_LIMIT - 200:
            last = discord.Embed(colour=colour)
            embeds.append(last)
        last.add_field(name=name, value=value, inline=False)
    if len(feeds) > FEEDS_SHOWN:
        embeds[-1].set_footer(text=f"and {len(feeds) - FEEDS_SHOWN} more feeds (see `newsdesk feeds list`)")
    return embeds


def subscribed_embed(feed: Feed, new: bool) -> discord.Embed:
    """The answer to /feeds add."""
    verb = "Subscribed to" if new else "Updated"
    embed = discord.Embed(title=_shorten(f"{verb} {feed.url}", 256), colour=discord.Colour.green())
    name, value = feed_field(feed)
    embed.add_field(name=name, value=value, inline=False)
    return fit_embed(embed)


def sources_embed(rows: list[dict]) -> discord.Embed:
    """The answer to /sources, in one embed within Discord's limits: an outlet a field (its name
    shortened), the 25th field counting the outlets beyond SOURCES_SHOWN."""
    total = sum(r["articles"] for r in rows)
    embed = discord.Embed(title="What this server's Newsdesk has indexed", colour=discord.Colour.blurple(),
                          description=f"{total} articles from {len(rows)} outlets" if rows else
                          "Nothing is indexed yet. Members with Manage Server can add articles with /ingest.")
    for r in rows[:SOURCES_SHOWN]:
        dates = f"newest {r['newest']}" if r["newest"] else "no published dates"
        embed.add_field(name=shown(r["source"], SOURCE_NAME_CHARS), value=f"{r['articles']} articles · {dates}",
                        inline=True)
    if len(rows) > SOURCES_SHOWN:
        rest = rows[SOURCES_SHOWN:]
        embed.add_field(name=f"and {len(rest)} more outlets", value=f"{sum(r['articles'] for r in rest)} articles",
                        inline=False)
    return fit_embed(embed)


def ingest_reply(url: str, report) -> str:
    """The answer to /ingest in one message: the counts and the first titles, each shortened."""
    where = _shorten(url, REPLY_URL_CHARS)
    if report.failed:
        return one_message(f"Could not ingest {where}: {shown(report.failed[0].error, 1000)}")
    titles = ", ".join(f"“{shown(a.get('title') or 'untitled', REPLY_TITLE_CHARS)}”" for a in report.articles[:5])
    return one_message(f"Ingested {where}: {report.added} added, {report.updated} updated, "
                       f"{report.unchanged} unchanged, {report.duplicates} duplicates. {titles}")
