"""`newsdesk search` and `newsdesk ask`."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import date

import click

from rag.cli.app import main
from rag.cli.options import (
    busy_status,
    common_options,
    emit_json,
    err_console,
    filter_options,
    open_components,
    out_console,
)


@main.command()
@click.argument("query")
@filter_options
@common_options
def search(query: str, k: int, source: str | None, since: date | None, until: date | None,
           as_of: date | None, settings, as_json: bool) -> None:
    """Show the passages that best match QUERY (no answer). Use - to read queries from stdin, one
    per line, each answered as it arrives."""
    from rag.search.filters import SearchFilters
    from rag.search.retrieval import search as run_search

    check_window(since, until)
    if query != "-" and not query.strip():
        raise click.UsageError("the query is empty")
    c = open_components(settings)
    filters = SearchFilters(source=source, since=since, until=until, as_of=as_of)
    warn_if_empty(c) or warn_unknown_source(c, source)
    for q in _queries(query):
        with busy_status("Searching…"):
            passages = run_search(c, q, k, filters)
        if as_json:
            emit_json({"query": q, "results": [p.as_result(i) for i, p in enumerate(passages, 1)]})
        else:
            ingested = undated_days(c, [p.article_id for p in passages if not p.published], filters.dated)
            _print_passages(q, passages, show_query=query == "-",
                            filtered=bool(source or since or until), ingested=ingested)
        sys.stdout.flush()  # a script reading the answers gets each one now
    c.close()


def _queries(query: str) -> Iterator[str]:
    """QUERY itself, or with -, each non-empty stdin line as soon as it is read (not all of stdin
    first: `newsdesk search -` is a long-running reader)."""
    if query != "-":
        yield query
        return
    for line in iter(sys.stdin.readline, ""):
        if line.strip():
            yield line.strip()


def warn_if_empty(c, echo: bool = True) -> list[str]:
    """A hint (on stderr, and returned for JSON warnings) when the collection holds nothing."""
    if c.registry_exists() and c.registry.counts()["indexed"]:
        return []
    message = (f"no articles are indexed in collection {c.settings.collection!r} at {c.data_dir}; "
               "run `newsdesk ingest PATH_OR_URL` first")
    if echo:
        err_console().print(f"warning: {message}", style="yellow", markup=False)
    return [message]


def check_window(since: date | None, until: date | None) -> None:
    if since and until and since > until:
        raise click.UsageError(f"--since {since} is after --until {until}")


def warn_unknown_source(c, source: str | None, echo: bool = True) -> list[str]:
    """A hint when --source names no outlet in the collection (probably a typo)."""
    if not source or not c.registry_exists():
        return []
    known = [s for s, *_ in c.registry.sources() if s]
    if any(s.casefold() == source.casefold() for s in known):
        return []
    message = (f"no articles from outlet {source!r} in this collection; outlets: "
               + (", ".join(known[:10]) + (" …" if len(known) > 10 else "") if known else "none named"))
    if echo:
        err_console().print(f"warning: {message}", style="yellow", markup=False)
    return [message]


def undated_days(c, article_ids: list[str], dated: bool) -> dict[str, date]:
    """Under a date filter, the ingest day of each of these articles with no published date (by
    which it fell in the window); nothing without one."""
    if not dated or not article_ids:
        return {}
    from rag.search.articles import ingest_days

    return ingest_days(c, article_ids)


def shown_date(published: str | None, article_id: str, ingested: dict[str, date] | None) -> str | None:
    """The date a source is listed with: its published date, or for an undated article that
    fell in a date window by its ingest day, "date unknown, ingested YYYY-MM-DD"."""
    if published:
        return published
    day = (ingested or {}).get(article_id)
    return f"date unknown, ingested {day.isoformat()}" if day else None


def _print_passages(query: str, passages, show_query: bool, filtered: bool = False,
                    ingested: dict[str, date] | None = None) -> None:
    from rich.markup import escape

    out = out_console()
    if show_query:
        out.print(f"[bold]{escape(query)}[/bold]")
    if not passages:
        # An empty collection or an unknown outlet has already been warned about on stderr.
        out.print("No matching passages" + (" under these --source/--since/--until filters." if filtered else "."))
        return
    for i, p in enumerate(passages, 1):
        meta = ", ".join(x for x in (p.source, shown_date(p.published, p.article_id, ingested)) if x)
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
    from rag.answer.pipeline import answer_question
    from rag.search.filters import SearchFilters

    if not question.strip():
        raise click.UsageError("the question is empty")
    check_window(since, until)
    c = open_components(settings)
    empty = warn_if_empty(c, echo=False) or warn_unknown_source(c, source, echo=False)
    streamed: list[str] = []
    busy = busy_status("Thinking…")

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
    ingested = undated_days(c, [cit.article_id for cit in result.citations if not cit.published],
                            bool(since or until) and not as_json)
    c.close()
    if as_json:
        emit_json(result.as_json())
        return
    if streamed:
        click.echo()
        if "".join(streamed).strip() == result.answer:
            print_answer(result, show_text=False, ingested=ingested)
            return
        click.secho("\nChecked answer:", bold=True)
    print_answer(result, ingested=ingested)


def print_answer(result, show_text: bool = True, ingested: dict[str, date] | None = None) -> None:
    """The answer text, warnings (stderr) and numbered sources; `ingested` (from `undated_days`)
    marks the undated sources that fell in a date window by their ingest day."""
    out = out_console()
    if show_text:
        out.print(result.answer, markup=False, soft_wrap=True)
    for w in result.warnings:
        err_console().print(f"warning: {w}", style="yellow", markup=False)
    if not result.citations:
        return
    out.print()
    out.print("Sources:", style="bold")
    for cit in result.citations:
        meta = ", ".join(x for x in (cit.source, shown_date(cit.published, cit.article_id, ingested)) if x)
        out.print(f"[{cit.n}] {cit.title}" + (f" — {meta}" if meta else ""), markup=False, soft_wrap=True)
        out.print(f"    {cit.url or cit.path or cit.article_id}", style="dim", markup=False,
                  soft_wrap=True)
        out.print(f"    “{' '.join(cit.quote.split())}”", markup=False, soft_wrap=True)
