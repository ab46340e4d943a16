"""`.env.example` and the README's settings tables, generated from the fields of `Settings`.

    python -m rag.settings_docs            # print .env.example
    python -m rag.settings_docs --check    # exit 1 if .env.example or README.md is out of date
    python -m rag.settings_docs --write    # rewrite both

The README holds each table between marker comments: `settings-table` lists the fields marked
`readme=True`; `bot-settings-table`, where present, the Discord bot's section.
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from pathlib import Path
from typing import get_args

from pydantic import SecretStr
from pydantic.fields import FieldInfo

from rag.settings import SECTIONS, Settings, env_names

ROOT = Path(__file__).resolve().parents[1]
WIDTH = 100
HEADER = """\
# Newsdesk settings. Copy to .env (read from the working directory) or export them.
# Every variable is optional: uncomment a line to change it; the values shown are the defaults.
# Generated from the descriptions in rag/settings.py: `python -m rag.settings_docs --write`.
"""
TABLES = {"settings-table": None, "bot-settings-table": "bot"}  # marker -> section (None: readme=True)


def _extra(field: FieldInfo) -> dict[str, object]:
    """The documentation extras a field was declared with (see rag.settings._doc)."""
    return dict(field.json_schema_extra) if isinstance(field.json_schema_extra, dict) else {}


def _is_secret(field: FieldInfo) -> bool:
    """Whether the field holds a secret, whose value docs never show."""
    return field.annotation is SecretStr or SecretStr in get_args(field.annotation)


def _value(field: FieldInfo) -> str | None:
    """The default as a variable's value; None where there is none to show (unset, or a secret)."""
    shown = _extra(field).get("shown")
    if shown is not None:
        return str(shown)
    default = field.get_default(call_default_factory=False)
    if _is_secret(field) or default is None:
        return None
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, float) and default.is_integer():
        return str(int(default))
    return str(default)


def _description(name: str, field: FieldInfo) -> str:
    """The field's description, with the other names it is read from."""
    text = field.description or ""
    others = env_names(name)[1:]
    if others:
        text += f" Also read as {', '.join(others)}."
    return text


def _fields(section: str | None = None) -> list[tuple[str, FieldInfo]]:
    """The fields of one section, or (None) those marked for the README's main table, in order."""
    chosen = []
    for name, field in Settings.model_fields.items():
        extra = _extra(field)
        if (extra.get("section") == section) if section else extra.get("readme"):
            chosen.append((name, field))
    return chosen


def render_env_example() -> str:
    """The whole `.env.example`: a comment per variable and its default, commented out, by section."""
    blocks = [HEADER]
    for section, title in SECTIONS.items():
        head = f"# --- {title} "
        lines = [head + "-" * max(3, WIDTH - len(head))]
        for name, field in _fields(section):
            lines += textwrap.wrap(_description(name, field), WIDTH, initial_indent="# ", subsequent_indent="# ",
                                   break_long_words=False, break_on_hyphens=False)
            lines.append(f"#{env_names(name)[0]}={_value(field) or ''}")
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def render_readme_table(section: str | None = None) -> str:
    """A Markdown table of one section's variables, or (None) of the main ones."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in _fields(section):
        value = _value(field)
        shown = "unset" if value is None else "empty" if value == "" else f"`{value}`"
        meaning = _description(name, field).replace("|", "\\|")
        rows.append(f"| `{env_names(name)[0]}` | {shown} | {meaning} |")
    return "\n".join(rows) + "\n"


def update_readme(text: str) -> str:
    """The README with each marked table regenerated; `settings-table` must be there."""
    for marker, section in TABLES.items():
        found = re.search(rf"<!-- {marker}:start[^\n]*-->\n(.*?)<!-- {marker}:end -->", text, re.S)
        if found is None:
            if section is None:
                raise ValueError(f"README.md has no <!-- {marker}:start --> ... <!-- {marker}:end --> markers")
            continue
        text = text[:found.start(1)] + "\n" + render_readme_table(section) + "\n" + text[found.end(1):]
    return text


def generated(root: Path = ROOT) -> dict[Path, str]:
    """Each generated file under `root` with the text it should have."""
    readme = root / "README.md"
    return {root / ".env.example": render_env_example(), readme: update_readme(readme.read_text(encoding="utf-8"))}


def main(argv: list[str] | None = None) -> int:
    """Print, check or write the generated files; 1 when --check finds one out of date."""
    parser = argparse.ArgumentParser(prog="python -m rag.settings_docs", description=(__doc__ or "").split("\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="rewrite .env.example and README.md's tables")
    mode.add_argument("--check", action="store_true", help="exit 1 if either is out of date")
    args = parser.parse_args(argv)
    if not (args.write or args.check):
        sys.stdout.write(render_env_example())
        return 0
    stale = {path: text for path, text in generated().items() if path.read_text(encoding="utf-8") != text}
    for path, text in stale.items():
        if args.write:
            path.write_text(text, encoding="utf-8")
        print(f"{'rewrote' if args.write else 'out of date:'} {path.relative_to(ROOT)}", file=sys.stderr)
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
