"""The `newsdesk` command line: a thin layer that calls the core and formats its results.

Every command takes --data-dir, --collection and --json. With --json only the JSON object goes
to stdout; logs and progress go to stderr. Exit codes: 0 ok, 1 failure, 2 usage error.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import click

from . import __version__

log = logging.getLogger("newsdesk")


# --- shared plumbing ------------------------------------------------------------------------------


def _stderr():
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def _stdout():
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def _parse_date(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD") from None


class SettingsError(click.ClickException):
    """A setting (environment, .env or flag) is invalid: exit 2, like a usage error."""

    exit_code = 2


_FLAGS = {"data_dir": "--data-dir / NEWSDESK_DATA_DIR", "collection": "--collection / NEWSDESK_COLLECTION",
          "discord_token": "DISCORD_TOKEN", "openai_api_key": "OPENAI_API_KEY"}


def _setting_name(loc: tuple) -> str:
    """The variable (or flag) a user sets for a settings field."""
    field = str(loc[0]) if loc else "settings"
    return _FLAGS.get(field, f"NEWSDESK_{field.upper()}")


def common_options(fn: Callable) -> Callable:
    """--data-dir, --collection and --json, on every command."""

    @click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
                  help="Where the index lives [env NEWSDESK_DATA_DIR; default: per-user data dir].")
    @click.option("--collection", "-c", help="Collection (corpus) to use [env NEWSDESK_COLLECTION; default: news].")
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")
    @functools.wraps(fn)
    def wrapper(*args: Any, data_dir: Path | None, collection: str | None, as_json: bool, **kwargs: Any):
        from pydantic import ValidationError

        from .settings import load_settings

        try:
            settings = load_settings(data_dir=data_dir, collection=collection)
        except ValidationError as exc:
            problems = "; ".join(f"{_setting_name(e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
                                 for e in exc.errors())
            raise SettingsError(f"invalid settings: {problems}") from None
        logging.basicConfig(level=getattr(logging, settings.log_level.upper(), logging.WARNING),
                            format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
        try:
            return fn(*args, settings=settings, as_json=as_json, **kwargs)
        except click.ClickException:
            raise
        except Exception as exc:  # one clear line for users; details with NEWSDESK_LOG_LEVEL=DEBUG
            from .embeddings import EmbeddingError
            from .locking import LockTimeout
            from .vectorstore import StoreError

            if isinstance(exc, (StoreError, LockTimeout, EmbeddingError)):
                raise click.ClickException(str(exc)) from None
            log.debug("unexpected error", exc_info=True)
            raise click.ClickException(f"{exc.__class__.__name__}: {exc}") from None

    return wrapper


def filter_options(fn: Callable) -> Callable:
    """--k, --source, --since, --until, --as-of for retrieval commands."""
    fn = click.option("--as-of", "as_of", callback=_parse_date, metavar="DATE",
                      help="Ask as if on this day: \"this week\" or \"recently\" in the question or "
                           "query count back from it [default: today].")(fn)
    fn = click.option("--until", callback=_parse_date, metavar="DATE", help="Published on or before (YYYY-MM-DD).")(fn)
    fn = click.option("--since", callback=_parse_date, metavar="DATE", help="Published on or after (YYYY-MM-DD).")(fn)
    fn = click.option("--source", metavar="OUTLET", help="Only this outlet (case-insensitive).")(fn)
    fn = click.option("--k", "k", type=click.IntRange(1, 100), default=5, show_default=True,
                      help="How many passages.")(fn)
    return fn


def _emit_json(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False))


def _components(settings):
    """Components for this run; a caller (tests, an embedding app) may inject a factory as
    `main(obj={"components": factory})`."""
    ctx = click.get_current_context()
    factory = (ctx.find_root().obj or {}).get("components")
    if factory is not None:
        return factory(settings)
    from .components import Components

    return Components(settings)


# --- commands -------------------------------------------------------------------------------------


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="newsdesk")
def main() -> None:
    """Newsdesk: ask questions of your news articles and get answers that cite their sources."""


@main.command()
@click.argument("inputs", nargs=-1, required=True, metavar="PATH_OR_URL...")
@common_options
def ingest(inputs: tuple[str, ...], settings, as_json: bool) -> None:
    """Index articles from files, folders, URLs and RSS/Atom feeds.

    Files: .txt .md .html .json .jsonl (and .xml/.rss/.atom feeds); folders are read
    recursively. Unchanged articles are skipped, changed ones replaced, duplicates recorded.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .ingest import Ingestor

    c = _components(settings)
    err = _stderr()
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
            report = Ingestor(c, on_article=on_article).ingest(list(inputs))
    c.close()
    if as_json:
        _emit_json(report.as_json())
    else:
        _print_ingest_report(report)
    log.info("ingest: %d chunks embedded in %.1f s of %.1f s", report.chunks_embedded,
             report.embed_seconds, report.seconds)
    if report.failed:
        sys.exit(1)


def _estimate_articles(inputs: tuple[str, ...]) -> int | None:
    """A cheap count for the progress bar (JSONL lines, files in folders)."""
    from .loaders import JSONL_SUFFIXES, SUPPORTED_SUFFIXES

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


def _print_ingest_report(report) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    out = _stdout()
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
    out.print(
        f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
        f"duplicates {report.duplicates}, failed {len(report.failed)} "
        f"({report.chunks_embedded} passage{'s' * (report.chunks_embedded != 1)} embedded, "
        f"{report.seconds:.1f} s)", soft_wrap=True,
    )


@main.command()
@click.argument("query")
@filter_options
@common_options
def search(query: str, k: int, source: str | None, since: date | None, until: date | None,
           as_of: date | None, settings, as_json: bool) -> None:
    """Show the passages that best match QUERY (no answer). Use - to read queries from stdin."""
    from .retrieval import SearchFilters
    from .retrieval import search as run_search

    _check_window(since, until)
    c = _components(settings)
    filters = SearchFilters(source=source, since=since, until=until, as_of=as_of)
    queries = [q.strip() for q in sys.stdin if q.strip()] if query == "-" else [query]
    if query != "-" and not query.strip():
        raise click.UsageError("the query is empty")
    _warn_if_empty(c) or _warn_unknown_source(c, source)
    for q in queries:
        with _busy("Searching…"):
            passages = run_search(c, q, k, filters)
        if as_json:
            _emit_json({"query": q, "results": [p.as_result(i) for i, p in enumerate(passages, 1)]})
        else:
            _print_passages(q, passages, show_query=len(queries) > 1,
                            filtered=bool(source or since or until))
    c.close()


def _warn_if_empty(c, echo: bool = True) -> list[str]:
    """A hint (on stderr, and returned for JSON warnings) when the collection holds nothing."""
    if c.registry_exists() and c.registry.counts()["indexed"]:
        return []
    message = (f"no articles are indexed in collection {c.settings.collection!r} at {c.data_dir}; "
               "run `newsdesk ingest PATH_OR_URL` first")
    if echo:
        _stderr().print(f"warning: {message}", style="yellow", markup=False)
    return [message]


def _check_window(since: date | None, until: date | None) -> None:
    if since and until and since > until:
        raise click.UsageError(f"--since {since} is after --until {until}")


def _warn_unknown_source(c, source: str | None, echo: bool = True) -> list[str]:
    """A hint when --source names no outlet in the collection (probably a typo)."""
    if not source or not c.registry_exists():
        return []
    known = [s for s, *_ in c.registry.sources() if s]
    if any(s.casefold() == source.casefold() for s in known):
        return []
    message = (f"no articles from outlet {source!r} in this collection; outlets: "
               + (", ".join(known[:10]) + (" …" if len(known) > 10 else "") if known else "none named"))
    if echo:
        _stderr().print(f"warning: {message}", style="yellow", markup=False)
    return [message]


def _busy(message: str):
    """A spinner on stderr while the core works (model loading can take seconds)."""
    err = _stderr()
    if err.is_terminal:
        return err.status(message, spinner="dots")
    import contextlib

    return contextlib.nullcontext()


def _print_passages(query: str, passages, show_query: bool, filtered: bool = False) -> None:
    from rich.markup import escape

    out = _stdout()
    if show_query:
        out.print(f"[bold]{escape(query)}[/bold]")
    if not passages:
        # An empty collection or an unknown outlet has already been warned about on stderr.
        out.print("No matching passages" + (" under these --source/--since/--until filters." if filtered else "."))
        return
    for i, p in enumerate(passages, 1):
        meta = ", ".join(x for x in (p.source, p.published) if x)
        out.print(f"[bold]\\[{i}][/bold] " + escape(p.title + (f" — {meta}" if meta else "")), soft_wrap=True)
        out.print(f"    {p.url or p.path or p.article_id}", style="dim", markup=False)
        out.print("    " + " ".join(p.text.split()), soft_wrap=True, markup=False)
        out.print()


@main.command(short_help="Answer QUESTION from the articles, with cited sources.")
@click.argument("question")
@filter_options
@common_options
def ask(question: str, k: int, source: str | None, since: date | None, until: date | None,
        as_of: date | None, settings, as_json: bool) -> None:
    """Answer QUESTION from the indexed articles, citing the passages used.

    With an LLM configured (NEWSDESK_LLM_BASE_URL or OPENAI_API_KEY) the answer is written by
    the LLM and streamed; otherwise, or if the LLM fails, it is extractive.
    """
    from .answer import answer_question
    from .retrieval import SearchFilters

    if not question.strip():
        raise click.UsageError("the question is empty")
    _check_window(since, until)
    c = _components(settings)
    empty = _warn_if_empty(c, echo=False) or _warn_unknown_source(c, source, echo=False)
    streamed: list[str] = []
    busy = _busy("Thinking…")

    def on_token(piece: str) -> None:
        if not streamed:
            busy.__exit__(None, None, None)
        streamed.append(piece)
        click.echo(piece, nl=False)

    with busy:
        result = answer_question(c, question, k, SearchFilters(source=source, since=since, until=until,
                                                               as_of=as_of),
                                 on_token=None if as_json else on_token)
    result.warnings = empty + result.warnings
    c.close()
    if as_json:
        _emit_json(result.as_json())
        return
    if streamed:
        click.echo()
        if "".join(streamed).strip() == result.answer:
            _print_answer(result, show_text=False)
            return
        click.secho("\nChecked answer:", bold=True)
    _print_answer(result)


def _print_answer(result, show_text: bool = True) -> None:
    out = _stdout()
    if show_text:
        out.print(result.answer, markup=False, soft_wrap=True)
    for w in result.warnings:
        _stderr().print(f"warning: {w}", style="yellow", markup=False)
    if not result.citations:
        return
    out.print()
    out.print("Sources:", style="bold")
    for cit in result.citations:
        meta = ", ".join(x for x in (cit["source"], cit["published"]) if x)
        out.print(f"[{cit['n']}] {cit['title']}" + (f" — {meta}" if meta else ""), markup=False, soft_wrap=True)
        out.print(f"    {cit['url'] or cit['path'] or cit['article_id']}", style="dim", markup=False,
                  soft_wrap=True)
        out.print(f"    “{' '.join(cit['quote'].split())}”", markup=False, soft_wrap=True)


@main.command(short_help="Summarize an article, or a topic (--topic).")
@click.argument("target", required=False, metavar="[ARTICLE_ID_OR_PATH_OR_URL]")
@click.option("--topic", metavar="TEXT", help="Summarize what the articles say about TEXT instead.")
@click.option("--since", callback=_parse_date, metavar="DATE", help="Topic: published on or after (YYYY-MM-DD).")
@click.option("--until", callback=_parse_date, metavar="DATE", help="Topic: published on or before (YYYY-MM-DD).")
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
    from .articles import find_article
    from .retrieval import SearchFilters
    from .summarize import summarize_article, summarize_topic

    if topic is not None and not topic.strip():
        raise click.UsageError("the topic is empty")
    if target is not None and topic is not None:
        raise click.UsageError("give either an article (id, path or URL) or --topic TEXT, not both")
    if not (target or "").strip() and topic is None:
        raise click.UsageError("give an article (id, path or URL) or --topic TEXT")
    if target and (since or until or source):
        raise click.UsageError("--since/--until/--source apply to --topic only")
    _check_window(since, until)
    c = _components(settings)
    empty = _warn_if_empty(c, echo=False) or _warn_unknown_source(c, source, echo=False)
    with _busy("Summarizing…"):
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
            result = summarize_topic(c, topic, SearchFilters(source=source, since=since, until=until), k)
    result.warnings = empty + result.warnings
    c.close()
    if as_json:
        _emit_json(result.as_json())
        return
    _stdout().print(f"Summary of {result.target}", style="bold", markup=False, soft_wrap=True)
    _stdout().print(result.summary, markup=False, soft_wrap=True)
    _print_answer(result, show_text=False)


@main.command(short_help="Stories of a day or window, summarized with citations.")
@click.option("--date", "day", callback=_parse_date, metavar="DATE",
              help="The day to brief (YYYY-MM-DD) [default: today in NEWSDESK_TIMEZONE].")
@click.option("--since", callback=_parse_date, metavar="DATE", help="Window start (YYYY-MM-DD), instead of --date.")
@click.option("--until", callback=_parse_date, metavar="DATE",
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

    from .briefing import make_briefing
    from .dates import today

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
    c = _components(settings)
    with _busy("Writing the briefing…"):
        result = make_briefing(c, since, until, refresh=refresh)
    c.close()
    if out:
        try:
            out.write_text(result.markdown, encoding="utf-8")
        except OSError as exc:
            raise click.ClickException(f"cannot write {out}: {exc.strerror or exc}") from None
    if as_json:
        _emit_json(result.as_json())
        return
    for w in result.warnings:
        _stderr().print(f"warning: {w}", style="yellow", markup=False)
    if result.reused:
        _stderr().print(f"(saved briefing from {result.generated_at}; the window's articles are unchanged; "
                        "--refresh recomputes)", style="dim", markup=False)
    if out:
        _stderr().print(f"written to {out}", style="dim", markup=False)
    click.echo(result.markdown, nl=False)


@main.command(short_help="Run the Discord bot.")
@click.option("--check", is_flag=True,
              help="Validate the bot's settings and print its slash commands as JSON, without connecting.")
@common_options
def bot(check: bool, settings, as_json: bool) -> None:
    """Run the Discord bot (token from DISCORD_TOKEN; see the README for the set-up)."""
    from bot.config import BotConfigError, load_bot_config

    try:
        config = load_bot_config(settings)
    except BotConfigError as exc:
        raise click.ClickException(f"invalid bot settings: {exc}") from None
    # discord.py warns at start-up that voice support is missing; the bot uses no voice.
    logging.getLogger("discord.client").setLevel(logging.ERROR)
    from bot.client import NewsdeskBot, command_specs
    from bot.core import BotCore

    core = BotCore(settings, config)
    client = NewsdeskBot(core, config)
    if check:
        _emit_json({"commands": command_specs(client),
                    "settings": {"collections": {str(k): v for k, v in config.guild_collections.items()},
                                 "default_collection": settings.collection,
                                 "dev_guilds": config.dev_guilds, "briefing_channels": config.briefing_channels,
                                 "briefing_time": config.briefing_time.strftime("%H:%M"),
                                 "briefing_day": config.briefing_day, "timezone": settings.timezone,
                                 "ingest_roles": config.ingest_roles, "cooldown_seconds": config.cooldown,
                                 "history_turns": config.history_turns}})
        return
    _stderr().print(f"Starting the Newsdesk bot (collection {settings.collection!r}, data in {settings.data_dir}); "
                    "Ctrl-C stops it.", style="dim", markup=False)
    try:
        client.run(config.token, log_handler=None)
    except Exception as exc:  # discord.LoginFailure etc.: never print the token
        raise click.ClickException(f"the bot stopped: {exc.__class__.__name__}: {exc}") from None
    finally:
        core.close()


@main.command()
@common_options
def articles(settings, as_json: bool) -> None:
    """List every ingested article, duplicates included and marked."""
    c = _components(settings)
    records = c.registry.articles() if c.registry_exists() else []
    if as_json:
        _emit_json({"articles": [r.public() for r in records]})
        return
    _warn_if_empty(c)
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"{len(records)} articles in {settings.collection!r}", box=box.SIMPLE, pad_edge=False)
    table.add_column("id", no_wrap=True)
    table.add_column("published", no_wrap=True)
    table.add_column("outlet", no_wrap=True, max_width=18)
    table.add_column("title", overflow="fold", ratio=1, min_width=20)
    for r in records:
        title = escape(r.title) + (f" [dim](duplicate of {r.duplicate_of})[/dim]" if r.duplicate_of else "")
        table.add_row(r.article_id, r.published or "—", escape(r.source or "—"), title)
    _stdout().print(table)


@main.command()
@common_options
def stats(settings, as_json: bool) -> None:
    """Counts, outlets, date range and index size of a collection."""
    c = _components(settings)
    if not as_json:
        _warn_if_empty(c)
    if not c.registry_exists():
        data = {"collection": settings.collection, "articles": 0, "indexed": 0, "duplicates": 0,
                "chunks": 0, "vectors": 0, "sources": [], "published_range": [None, None],
                "index_bytes": 0, "store": _store_label(settings), "data_dir": str(c.data_dir)}
    else:
        counts = c.registry.counts()
        sources = c.registry.sources()
        dates = [d for _, _, lo, hi in sources for d in (lo, hi) if d]
        data = {
            "collection": settings.collection, **counts,
            "vectors": c.store.count(),
            "sources": [{"source": s, "articles": n, "oldest": lo, "newest": hi} for s, n, lo, hi in sources],
            "published_range": [min(dates) if dates else None, max(dates) if dates else None],
            "index_bytes": _disk_usage(c.data_dir, settings),
            "store": _store_label(settings), "data_dir": str(c.data_dir),
        }
    c.close()
    if as_json:
        _emit_json(data)
        return
    out = _stdout()
    out.print(f"[bold]Collection {data['collection']}[/bold] ({data['store']}, {data['data_dir']})")
    out.print(f"articles {data['articles']} (indexed {data['indexed']}, duplicates {data['duplicates']}), "
              f"passages {data['chunks']}, vectors {data['vectors']}")
    lo, hi = data["published_range"]
    out.print(f"published {lo or '—'} … {hi or '—'}; index size {data['index_bytes'] / 1e6:.1f} MB")
    for s in data["sources"][:20]:
        out.print(f"  {s['source'] or '(unknown outlet)'}: {s['articles']} ({s['oldest'] or '—'} … {s['newest'] or '—'})")
    if data["chunks"] != data["vectors"]:
        out.print("[yellow]passages and vectors differ: an interrupted ingest; the next ingest repairs it")


def _store_label(settings) -> str:
    if settings.chroma_host:
        return f"Chroma server {settings.chroma_host}:{settings.chroma_port}"
    return "embedded Chroma"


def _disk_usage(data_dir: Path, settings) -> int:
    paths = [data_dir / "registry"]
    if not settings.chroma_host:
        paths.append(data_dir / "chroma")
    return sum(f.stat().st_size for p in paths if p.exists() for f in p.rglob("*") if f.is_file())


@main.command(short_help="Remove an article and its passages.")
@click.argument("article_id")
@common_options
def remove(article_id: str, settings, as_json: bool) -> None:
    """Remove an article (by id, URL or path) and its passages from the index."""
    from .articles import find_article
    from .ingest import remove_article

    if not article_id.strip():
        raise click.UsageError("give the id, URL or path of the article to remove")
    c = _components(settings)
    try:
        record = find_article(c, article_id)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    if record is None:
        raise click.ClickException(f"no article {article_id!r} in collection {settings.collection!r} "
                                   "(see `newsdesk articles`)")
    with c.writing():
        rechecked = [c.registry.get(a) for a in remove_article(c, record.article_id)]
    c.close()
    # Each former duplicate is now indexed on its own or points at another article (the first
    # of them, or an unrelated near-copy).
    promoted = [r.article_id for r in rechecked if r and r.duplicate_of is None]
    relinked = {r.article_id: r.duplicate_of for r in rechecked if r and r.duplicate_of}
    if as_json:
        _emit_json({"removed": record.article_id, "title": record.title, "promoted": promoted,
                    "relinked": list(relinked)})
    else:
        click.echo(f"removed {record.article_id}: {record.title}")
        if promoted:
            click.echo(f"now indexed in its place: {', '.join(promoted)} (formerly its duplicate)")
        for dup, original in relinked.items():
            click.echo(f"its duplicate {dup} now points to {original}")


if __name__ == "__main__":
    main()
