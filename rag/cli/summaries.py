"""`newsdesk summarize` and `newsdesk briefing`."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from rag.cli.app import main
from rag.cli.ask import check_window, print_answer, warn_if_empty, warn_unknown_source
from rag.cli.options import (
    busy_status,
    common_options,
    emit_json,
    err_console,
    open_components,
    out_console,
    parse_date,
)


@main.command(short_help="Summarize an article, or a topic (--topic).")
@click.argument("target", required=False, metavar="[ARTICLE_ID_OR_PATH_OR_URL]")
@click.option("--topic", metavar="TEXT", help="Summarize what the articles say about TEXT instead.")
@click.option("--since", callback=parse_date, metavar="DATE", help="Topic: published on or after (YYYY-MM-DD).")
@click.option("--until", callback=parse_date, metavar="DATE", help="Topic: published on or before (YYYY-MM-DD).")
@click.option("--source", metavar="OUTLET", help="Topic: only this outlet (case-insensitive).")
@click.option("--k", "k", type=click.IntRange(1, 50), default=8, show_default=True,
              help="Topic: how many passages to summarize from.")
@common_options
def summarize(target: str | None, topic: str | None, since: date | None, until: date | None,
              source: str | None, k: int, settings, as_json: bool) -> None:
    """Summarize one indexed article (by id, path or URL), or a topic with --topic.

    An article's summary cites only that article; a topic's cites across articles. Written by
    the LLM when one is configured, extractive otherwise (or if the LLM fails).
    """
    from rag.search.articles import find_article
    from rag.search.filters import SearchFilters
    from rag.summarize.pipeline import summarize_article, summarize_topic

    if topic is not None and not topic.strip():
        raise click.UsageError("the topic is empty")
    if target is not None and topic is not None:
        raise click.UsageError("give either an article (id, path or URL) or --topic TEXT, not both")
    if not (target or "").strip() and topic is None:
        raise click.UsageError("give an article (id, path or URL) or --topic TEXT")
    if target and (since or until or source):
        raise click.UsageError("--since/--until/--source apply to --topic only")
    check_window(since, until)
    c = open_components(settings)
    empty = warn_if_empty(c, echo=False) or warn_unknown_source(c, source, echo=False)
    with busy_status("Summarizing…"):
        if target:
            try:
                record = find_article(c, target)
            except LookupError as exc:
                raise click.ClickException(str(exc)) from None
            if record is None:
                raise click.ClickException(
                    f"no article {target!r} in collection {settings.collection!r}: give an article id, "
                    "ingested path or URL (see `newsdesk articles`), or ingest it first")
            result = summarize_article(c, record)
        else:
            result = summarize_topic(c, topic or "", SearchFilters(source=source, since=since, until=until), k)
    result.warnings = empty + result.warnings
    c.close()
    if as_json:
        emit_json(result.as_json())
        return
    out_console().print(f"Summary of {result.target}", style="bold", markup=False, soft_wrap=True)
    out_console().print(result.summary, markup=False, soft_wrap=True)
    print_answer(result, show_text=False)


@main.command(short_help="Stories of a day or window, summarized with citations.")
@click.option("--date", "day", callback=parse_date, metavar="DATE",
              help="The day to brief (YYYY-MM-DD) [default: today in NEWSDESK_TIMEZONE].")
@click.option("--since", callback=parse_date, metavar="DATE", help="Window start (YYYY-MM-DD), instead of --date.")
@click.option("--until", callback=parse_date, metavar="DATE",
              help="Window end (YYYY-MM-DD) [default: today]; without --since, the window is that one day.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the Markdown to FILE.")
@click.option("--refresh", is_flag=True, help="Recompute even if a saved briefing for the window is current.")
@common_options
def briefing(day: date | None, since: date | None, until: date | None, out: Path | None, refresh: bool,
             settings, as_json: bool) -> None:
    """A briefing of the news of a day (or a window): stories with cited summaries, their
    outlets, and where the coverage differs. Markdown by default.

    Articles fall in by published date; those with no known date by the day they were first
    ingested (marked so). Briefings are saved under the data dir and reused while the window's
    articles are unchanged.
    """
    from zoneinfo import ZoneInfo

    from rag.briefing.pipeline import make_briefing
    from rag.text.dates import today

    if day and (since or until):
        raise click.UsageError("give --date, or --since/--until, not both")
    tz = ZoneInfo(settings.timezone)
    if day:
        since = until = day
    else:
        until = until or today(tz)
        since = since or until
    if since > until:
        raise click.UsageError(f"--since {since} is after --until {until}")
    c = open_components(settings)
    with busy_status("Writing the briefing…"):
        result = make_briefing(c, since, until, refresh=refresh)
    c.close()
    if out:
        try:
            out.write_text(result.markdown, encoding="utf-8")
        except OSError as exc:
            raise click.ClickException(f"cannot write {out}: {exc.strerror or exc}") from None
    if as_json:
        emit_json(result.as_json())
        return
    for w in result.warnings:
        err_console().print(f"warning: {w}", style="yellow", markup=False)
    if result.reused:
        err_console().print(f"(saved briefing from {result.generated_at}; the window's articles are unchanged; "
                        "--refresh recomputes)", style="dim", markup=False)
    if out:
        err_console().print(f"written to {out}", style="dim", markup=False)
    click.echo(result.markdown, nl=False)
