"""Newsdesk core: ingest news articles, index them, search and answer with citations."""

__version__ = "0.1.0"
