"""Prompt templates, kept as plain files next to this module and installed with the package."""

from __future__ import annotations

from importlib import resources


def load(name: str) -> str:
    """The text of the prompt template `name` (e.g. "answer.md")."""
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
