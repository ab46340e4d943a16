"""`newsdesk feeds add | list | remove | poll`: feed subscriptions of a collection, and polling them."""

from __future__ import annotations

import re
import sys

import click

from rag.cli.app import main
from rag.cli.options import common_options, emit_json, err_console, open_components, out_console

_HTTP_URL = re.compile(r"^https?://\S+$", re.I)


@main.group()
def feeds() -> None:
    """Subscribe to RSS/Atom feeds and poll them (`feeds poll` from cron or a timer)."""


@feeds.command("add")
@click.argument("url")
@click.option("--name", help="A name to show for the feed [default: none].")
@click.option("--every", "every", type=click.IntRange(1, 525_600), metavar="MINUTES",
              help="Poll every MINUTES minutes [default: NEWSDESK_FEED_EVERY_MINUTES, 60].")
@common_options
def add(url: str, name: str | None, every: int | None, settings, as_json: bool) -> None:
    """Subscribe to a feed (again: change its name or interval)."""
    from rag.ingest.polling import open_subscriptions
    from rag.text.dates import utc_now

    url = url.strip()
    if not _HTTP_URL.match(url):
        raise click.UsageError(f"{url!r} is not an http(s) URL")
    c = open_components(settings)
    subs = open_subscriptions(c)
    try:
        feed = subs.add(url, utc_now(), name=name, every_minutes=every, default_every=settings.feed_every_minutes)
    finally:
        subs.close()
        c.close()
    if as_json:
        emit_json(feed.subscription_json())
    else:
        click.echo(f"subscribed to {feed.url}{f' ({feed.name})' if feed.name else ''}, "
                   f"every {feed.every_minutes} min")


@feeds.command("list")
@common_options
def list_feeds(settings, as_json: bool) -> None:
    """The subscribed feeds, when each was last polled, and how it went."""
    from rag.ingest.polling import subscribed_feeds

    c = open_components(settings)
    found = subscribed_feeds(c)
    c.close()
    if as_json:
        emit_json({"feeds": [f.as_json() for f in found]})
        return
    _print_feeds(found, settings.collection)


def _print_feeds(found: list, collection: str) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    if not found:
        out_console().print(f"no feeds in {collection!r}: add one with `newsdesk feeds add URL`")
        return

    def when(t) -> str:
        return t.strftime("%Y-%m-%d %H:%M") if t else "—"

    table = Table(title=f"{len(found)} feed{'s' * (len(found) != 1)} in {collection!r} (times UTC)", box=box.SIMPLE, pad_edge=False)
    table.add_column("feed", overflow="fold", ratio=1, min_width=24)
    for column in ("every", "status", "last poll", "next poll", "articles"):
        table.add_column(column, no_wrap=True)
    for f in found:
        label = escape(f.url) + (f"\n[dim]{escape(f.name)}[/dim]" if f.name else "")
        label += f"\n[red]{escape(f.last_error)}[/red]" if f.last_error else ""
        table.add_row(label, f"{f.every_minutes} min", f.status, when(f.last_poll),
                      when(f.next_poll) if f.next_poll else "now", str(f.articles_added))
    out_console().print(table)


@feeds.command("remove")
@click.argument("url")
@common_options
def remove(url: str, settings, as_json: bool) -> None:
    """Unsubscribe from a feed (its articles stay indexed)."""
    from rag.ingest.polling import unsubscribe

    url = url.strip()
    c = open_components(settings)
    removed = unsubscribe(c, url)
    c.close()
    if not removed:
        raise click.ClickException(f"{url} is not subscribed in collection {settings.collection!r} "
                                   "(see `newsdesk feeds list`)")
    if as_json:
        emit_json({"removed": url})
    else:
        click.echo(f"unsubscribed from {url}")


@feeds.command("poll")
@click.option("--all", "all_feeds", is_flag=True,
              help="Poll every feed now, due or backing off (but not before a server's Retry-After).")
@common_options
def poll_feeds(all_feeds: bool, settings, as_json: bool) -> None:
    """Poll the feeds that are due and index their new articles (exit 1 if any feed failed)."""
    from rag.ingest.polling import FeedPoll, poll

    c = open_components(settings)
    err = err_console()

    def on_feed(result: FeedPoll) -> None:
        if err.is_terminal:
            err.print(f"[dim]{result.status}: {result.url} ({result.new} new)[/dim]", highlight=False)

    try:
        report = poll(c, all_feeds, on_feed=on_feed, on_wait=lambda msg: err.print(f"[yellow]{msg}"))
    finally:
        c.close()
    if as_json:
        emit_json(report.as_json())
    else:
        _print_poll(report)
    if report.failed:
        sys.exit(1)


def _print_poll(report) -> None:
    from rich.markup import escape

    out = out_console()
    if not report.feeds:
        out.print("no feed is due (`newsdesk feeds poll --all` polls them all now)")
    for f in report.feeds:
        counts = f"{f.new} new, {f.updated} updated, {f.unchanged} unchanged, {f.duplicates} duplicates"
        color = {"failed": "red", "backing_off": "yellow"}.get(f.status, "green")
        line = f"[{color}]{f.status}[/{color}] {escape(f.url)}"
        if f.status in ("ok", "failed") and f.entries:
            line += f": {counts}" + (f", {f.skipped} skipped" if f.skipped else "")
        if f.error:
            line += f" [dim]({escape(f.error)})[/dim]"
        out.print(line, soft_wrap=True)
    out.print(f"added {report.added}")
