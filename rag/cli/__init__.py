"""The `newsdesk` command line: one module per command group, all thin over the core."""

from rag.cli import ask, collection, feeds, ingest, run, summaries  # noqa: F401  (each registers its commands)
from rag.cli.app import main

__all__ = ["main"]
