"""Stable hashes of texts and keys (ids and change detection)."""

from __future__ import annotations

import hashlib


def text_hash(text: str) -> str:
    """Hash of the words of a text: the same text with other whitespace hashes the same."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


def stable_hash(*parts: object, length: int = 16) -> str:
    """A short hex digest of several values, stable across processes."""
    h = hashlib.sha256()
    for part in parts:
        h.update(("" if part is None else str(part)).encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()[:length]
