"""What every command shares: options, settings errors, JSON/stderr output."""

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

log = logging.getLogger("newsdesk")


def err_console():
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def out_console():
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def parse_date(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
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

        from rag.settings import load_settings

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
            from rag.store.locking import LockTimeout
            from rag.store.model_files import EmbeddingError
            from rag.store.vectorstore import StoreError

            if isinstance(exc, (StoreError, LockTimeout, EmbeddingError)):
                raise click.ClickException(str(exc)) from None
            log.debug("unexpected error", exc_info=True)
            raise click.ClickException(f"{exc.__class__.__name__}: {exc}") from None

    return wrapper


def filter_options(fn: Callable) -> Callable:
    """--k, --source, --since, --until, --as-of for retrieval commands."""
    fn = click.option("--as-of", "as_of", callback=parse_date, metavar="DATE",
                      help="Ask as if on this day: \"this week\" or \"recently\" in the question or "
                           "query count back from it [default: today].")(fn)
    fn = click.option("--until", callback=parse_date, metavar="DATE", help="Published (undated: first ingested) on or before (YYYY-MM-DD).")(fn)
    fn = click.option("--since", callback=parse_date, metavar="DATE", help="Published (undated: first ingested) on or after (YYYY-MM-DD).")(fn)
    fn = click.option("--source", metavar="OUTLET", help="Only this outlet (case-insensitive).")(fn)
    fn = click.option("--k", "k", type=click.IntRange(1, 100), default=5, show_default=True,
                      help="How many passages.")(fn)
    return fn


def emit_json(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False))


def open_components(settings):
    """Components for this run; a caller (tests, an embedding app) may inject a factory as
    `main(obj={"components": factory})`."""
    ctx = click.get_current_context()
    factory = (ctx.find_root().obj or {}).get("components")
    if factory is not None:
        return factory(settings)
    from rag.components import Components

    return Components(settings)


def busy_status(message: str):
    """A spinner on stderr while the core works (model loading can take seconds)."""
    err = err_console()
    if err.is_terminal:
        return err.status(message, spinner="dots")
    import contextlib

    return contextlib.nullcontext()
