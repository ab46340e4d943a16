"""`newsdesk ingest`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from rag.cli.app import main
from rag.cli.options import common_options, emit_json, err_console, log, open_components, out_console


@main.command()
@click.argument("inputs", nargs=-1, required=True, metavar="PATH_OR_URL...")
@common_options
def ingest(inputs: tuple[str, ...], settings, as_json: bool) -> None:
    """Index articles from files, folders, URLs and RSS/Atom/JSON feeds.

    Files: .txt .md .html .json .jsonl (and .xml/.rss/.rdf/.atom feeds, JSON Feed .json);
    folders are read recursively. Unchanged articles are left as they are, changed ones
    replaced, duplicates recorded; feed items too short to be articles are skipped. The URLs
    given may be private; links and redirects to other sites reach public addresses only
    (NEWSDESK_ALLOW_PRIVATE_LINKS lifts that).
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from rag.ingest.fetch import Fetcher
    from rag.ingest.guard import refuse_private_address
    from rag.ingest.loader import Loader
    from rag.ingest.pipeline import Ingestor

    c = open_components(settings)
    # The URLs named here may be private (a local feed server); the links and redirects found in
    # what they serve go to public addresses only, as for the bot, unless settings allow them.
    guard = None if c.settings.allow_private_links else refuse_private_address
    loader = Loader(c.settings, Fetcher(c.settings, url_guard=guard, trusted_urls=inputs))
    err = err_console()
    total = _estimate_articles(inputs)
    show = err.is_terminal
    progress = Progress(TextColumn("[bold]ingest"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), TextColumn("{task.description}"),
                        console=err, transient=True, disable=not show)
    with progress:
        task = progress.add_task("", total=total)

        def on_article(status: str, label: str) -> None:
            progress.update(task, advance=1, description=f"{status}: {label[:50]}")

        with c.writing(on_wait=lambda msg: err.print(f"[yellow]{msg}")):
            report = Ingestor(c, on_article=on_article).ingest(list(inputs), loader)
    c.close()
    if as_json:
        emit_json(report.as_json())
    else:
        _print_ingest_report(report)
    log.info("ingest: %d chunks embedded in %.1f s of %.1f s", report.chunks_embedded,
             report.embed_seconds, report.seconds)
    if report.failed:
        sys.exit(1)


def _estimate_articles(inputs: tuple[str, ...]) -> int | None:
    """A cheap count for the progress bar (JSONL lines, files in folders)."""
    from rag.ingest.loader import JSONL_SUFFIXES, SUPPORTED_SUFFIXES

    total = 0
    for item in inputs:
        path = Path(item)
        try:
            files = [path] if path.is_file() else (
                [p for p in path.rglob("*") if p.suffix.lower() in SUPPORTED_SUFFIXES] if path.is_dir() else [])
        except OSError:
            files = []
        if not files:
            total += 1
        for f in files:
            try:
                if f.suffix.lower() in JSONL_SUFFIXES:
                    with f.open("rb") as fh:
                        total += sum(1 for line in fh if line.strip())
                    continue
            except OSError:  # unreadable: the ingest reports it as a failed input
                pass
            total += 1
    return total or None


# Skipped items listed one a line, at most: a headlines feed can skip hundreds, and each is no
# problem to fix (failures, which are, are all listed).
SKIPPED_SHOWN = 25


def _print_ingest_report(report) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    out = out_console()
    rows = report.articles
    if rows:
        table = Table(title="Articles", box=box.SIMPLE, pad_edge=False)
        table.add_column("status", no_wrap=True)
        table.add_column("title", overflow="fold", ratio=1, min_width=20)
        table.add_column("outlet", no_wrap=True, max_width=18)
        table.add_column("published", no_wrap=True)
        shown = rows if len(rows) <= 25 else [r for r in rows if r["status"] != "unchanged"][:25]
        for r in shown:
            table.add_row(r["status"], escape(r["title"]), escape(r["source"] or "—"), r["published"] or "—")
        out.print(table)
        if len(shown) < len(rows):
            out.print(f"… {len(rows) - len(shown)} more rows (use --json for all)")
    for f in report.failed:
        out.print("[red]failed[/red] " + escape(f"{f.input}: {f.error}"), soft_wrap=True)
    for s in report.skipped[:SKIPPED_SHOWN]:  # not failures: the exit code ignores them
        out.print("[yellow]skipped[/yellow] " + escape(f"{s.input}: {s.error}"), soft_wrap=True)
    if len(report.skipped) > SKIPPED_SHOWN:
        out.print(f"… {len(report.skipped) - SKIPPED_SHOWN} more skipped (use --json for all)")
    out.print(
        f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
        f"duplicates {report.duplicates}, failed {len(report.failed)}, skipped {len(report.skipped)} "
        f"({report.chunks_embedded} passage{'s' * (report.chunks_embedded != 1)} embedded, "
        f"{report.seconds:.1f} s)", soft_wrap=True,
    )
