"""Retrieved passages as numbered, delimited data for a prompt."""

from __future__ import annotations

import re

from rag.models import Passage


def format_passages(passages: list[Passage], first: int = 1) -> str:
    """Numbered passages (from `first`) delimited as data; delimiter look-alikes inside articles
    are defused."""
    blocks = []
    for n, p in enumerate(passages, first):
        body = re.sub(r"</?\s*passage", "‹passage", p.text, flags=re.I)
        meta = " | ".join(x for x in (p.source or "unknown outlet", p.title, p.published or "date unknown"))
        blocks.append(f'<passage id="{n}">\n[{n}] {meta}\n{body}\n</passage>')
    return "\n\n".join(blocks)
