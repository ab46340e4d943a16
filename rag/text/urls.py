"""URL normalization: one page under its many spellings."""

from __future__ import annotations


def normalize_url(url: str) -> str:
    """A URL without fragment, default port or trailing slash, lower-cased host."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:  # "host:abc": keep it as written rather than fail the article
        host, port = parts.netloc.rsplit("@", 1)[-1].lower(), None
    if port and port not in (80, 443):
        host = f"{host}:{port}"
    return urlunsplit((parts.scheme.lower(), host, parts.path.rstrip("/") or "/", parts.query, ""))


def same_page(a: str, b: str) -> bool:
    """Whether two URLs name the same page, as far as the usual redirects go: http and https,
    with or without "www.", a trailing slash, a default port."""
    def key(url: str) -> str:
        plain = normalize_url(url).split("://", 1)[-1]
        return plain[4:] if plain.startswith("www.") else plain

    try:
        return key(a) == key(b)
    except ValueError:  # a stored URL too malformed to compare
        return False
