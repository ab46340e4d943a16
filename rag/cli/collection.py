"""`newsdesk articles`, `stats`, `check`, `reindex` and `remove`."""

from __future__ import annotations

from pathlib import Path

import click

from rag.cli.app import main
from rag.cli.ask import warn_if_empty
from rag.cli.options import common_options, emit_json, err_console, open_components, out_console


@main.command()
@common_options
def articles(settings, as_json: bool) -> None:
    """List every ingested article, duplicates included and marked."""
    c = open_components(settings)
    records = c.registry.articles() if c.registry_exists() else []
    if as_json:
        emit_json({"articles": [r.public() for r in records]})
        return
    warn_if_empty(c)
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
    out_console().print(table)


@main.command()
@common_options
def stats(settings, as_json: bool) -> None:
    """Counts, outlets, date range and index size of a collection."""
    c = open_components(settings)
    if not as_json:
        warn_if_empty(c)
    needs_check = None
    if not c.registry_exists():
        data = {"collection": settings.collection, "articles": 0, "indexed": 0, "duplicates": 0,
                "chunks": 0, "vectors": 0, "sources": [], "published_range": [None, None],
                "index_bytes": 0, "store": _store_label(settings), "data_dir": str(c.data_dir),
                "token_vectors": 0}
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
        space = c.registry.embedding_space()
        data["token_vectors"] = c.registry.token_count(space) if space else 0
        needs_check = _needs_check(c, counts["chunks"], data["vectors"])
    data["embeddings"] = _embeddings(c)
    c.close()
    if as_json:
        emit_json(data)
        return
    out = out_console()
    out.print(f"[bold]Collection {data['collection']}[/bold] ({data['store']}, {data['data_dir']})")
    out.print(f"articles {data['articles']} (indexed {data['indexed']}, duplicates {data['duplicates']}), "
              f"passages {data['chunks']}, vectors {data['vectors']}")
    lo, hi = data["published_range"]
    out.print(f"published {lo or '—'} … {hi or '—'}; index size {data['index_bytes'] / 1e6:.1f} MB")
    for s in data["sources"][:20]:
        out.print(f"  {s['source'] or '(unknown outlet)'}: {s['articles']} ({s['oldest'] or '—'} … {s['newest'] or '—'})")
    emb = data["embeddings"]
    out.print(f"vectors in {emb['space'] or emb['configured'] + ' (nothing indexed yet)'}; queries with "
              f"{emb['query_backend']}; " + (emb["bulk"] or "bulk backend measured at the first ingest"))
    if emb["space"] and emb["space"] != emb["configured"]:
        out.print(f"[yellow]NEWSDESK_EMBEDDING_PRECISION asks for {emb['configured']}: run `newsdesk reindex` "
                  "to re-embed this collection in it")
    _print_token_line(out, data)
    if needs_check:
        out.print(f"[yellow]{needs_check}: run `newsdesk check` to see what, "
                  "`newsdesk check --repair` to repair it")


def _print_token_line(out, data: dict) -> None:
    kept, chunks = data.get("token_vectors", 0), data["chunks"]
    if not chunks:
        return
    out.print(f"token vectors kept for the re-rank: {kept:,} of {chunks:,} passages")
    if kept < chunks:
        out.print("[yellow]passages indexed before token vectors were kept make each search run the "
                  "model on them (~1 s): `newsdesk reindex --force` keeps theirs")


def _embeddings(c) -> dict:
    """The vector space of the collection and this CPU's backends, for `stats`."""
    from rag.store.model_files import MODEL_NAME

    space = c.registry.embedding_space() if c.registry_exists() else None
    backend = c.settings.embedding_backend
    found = c.calibration() if backend == "auto" else None
    return {"space": space, "configured": f"{MODEL_NAME}/{c.settings.embedding_precision}",
            "query_backend": "torch" if backend == "torch" else f"onnx-{c.precision}",
            "bulk": found.describe() if found else _bulk_line(backend, c.precision),
            "calibration": found.as_json() if found else None}


def _bulk_line(backend: str, precision: str) -> str | None:
    if backend != "auto":
        return f"bulk embeddings with {backend} (NEWSDESK_EMBEDDING_BACKEND)"
    if precision == "int8":
        return "bulk embeddings with onnx-int8 (the one backend of int8 vectors)"
    return None


@main.command(short_help="Re-embed every passage in NEWSDESK_EMBEDDING_PRECISION's vectors.")
@click.option("--precision", type=click.Choice(["fp32", "int8"]), default=None,
              help="The precision to re-embed in [default: NEWSDESK_EMBEDDING_PRECISION].")
@click.option("--force", is_flag=True, help="Re-embed even if the collection is already in it.")
@common_options
def reindex(settings, as_json: bool, precision: str | None, force: bool) -> None:
    """Re-embed a collection made in another vector space (model and precision). The new vectors
    are written beside the old ones, which stay in use until all are done; a killed reindex is
    simply run again."""
    from rag.ingest.reindex import progress_printer
    from rag.ingest.reindex import reindex as run_reindex

    c = open_components(settings)
    if not c.registry_exists():
        raise click.ClickException(f"collection {settings.collection!r} is empty: nothing to reindex")
    err = err_console()
    with c.writing(on_wait=lambda msg: err.print(f"[yellow]{msg}")):
        result = run_reindex(c, precision or settings.embedding_precision, force,
                             progress=progress_printer(lambda line: err.print(line, highlight=False)))
    c.close()
    if as_json:
        emit_json(result.as_json())
    elif result.skipped:
        click.echo(f"collection {settings.collection!r} is already in {result.space} (--force re-embeds it)")
    else:
        click.echo(f"re-embedded {result.passages:,} passages of {settings.collection!r} in {result.space} "
                   f"with {result.backend} in {result.seconds:.1f} s (was {result.old_space})")


def _needs_check(c, chunks: int, vectors: int) -> str | None:
    """Why the index may be inconsistent, from cheap counts (`check` compares every id)."""
    if chunks != vectors:
        return f"passages ({chunks}) and vectors ({vectors}) differ"
    if c.registry.journal() or c.registry.recheck_count():
        return "an interrupted write left work unfinished"
    if c.registry.dangling_duplicates():
        return "some duplicates point at an article that is not indexed"
    return None


@main.command(short_help="Check registry, vectors and keyword index agree; --repair fixes them.")
@click.option("--repair", is_flag=True, help="Repair what the check finds (under the write lock).")
@common_options
def check(settings, as_json: bool, repair: bool) -> None:
    """Compare the registry with Chroma and the keyword index: passages without vectors, vectors
    and keyword rows of no passage, duplicates of a missing article, unfinished writes. Exits 1
    while problems remain."""
    from rag.ingest.integrity import IndexCheck, check_index, repair_index

    c = open_components(settings)
    try:
        if not c.registry_exists():
            result = IndexCheck(settings.collection)
        elif repair:
            with c.writing():
                result = repair_index(c)
        else:
            result = check_index(c)
    finally:
        c.close()
    if as_json:
        emit_json(result.as_json())
    else:
        for line in result.repaired:
            click.echo(f"repaired: {line}")
        for line in result.problems():
            click.echo(f"problem: {line}")
        if result.ok:
            click.echo(f"collection {settings.collection!r} is consistent: {result.articles} articles, "
                       f"{result.chunks} passages, {result.vectors} vectors")
        elif not repair:
            click.echo("run `newsdesk check --repair` to repair it")
    if not result.ok:
        click.get_current_context().exit(1)


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
    from rag.ingest.pipeline import remove_article
    from rag.search.articles import find_article

    if not article_id.strip():
        raise click.UsageError("give the id, URL or path of the article to remove")
    c = open_components(settings)
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
        emit_json({"removed": record.article_id, "title": record.title, "promoted": promoted,
                    "relinked": list(relinked)})
    else:
        click.echo(f"removed {record.article_id}: {record.title}")
        if promoted:
            click.echo(f"now indexed in its place: {', '.join(promoted)} (formerly its duplicate)")
        for dup, original in relinked.items():
            click.echo(f"its duplicate {dup} now points to {original}")
