"""The project builds as a regular (non-editable) wheel with its CLI, bot and prompts, and is ruff-clean."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_contains_core_bot_and_prompts(tmp_path):
    pytest.importorskip("hatchling")
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    (wheel,) = tmp_path.glob("newsdesk-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    # every module of the source tree, stage packages included
    sources = {str(f.relative_to(ROOT)) for pkg in ("rag", "bot", "prompts") for f in (ROOT / pkg).rglob("*.py")}
    assert {"rag/cli/__init__.py", "rag/ingest/pipeline.py", "bot/__init__.py", "prompts/__init__.py"} <= sources
    assert sources <= names
    prompt_files = {p.name for p in (ROOT / "prompts").iterdir() if p.is_file() and p.suffix in (".md", ".txt")}
    assert {f"prompts/{p}" for p in prompt_files} <= names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    declared = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "newsdesk = rag.cli:main" in declared
    assert "[newsdesk.commands]" in declared and "bot = bot.command:bot" in declared  # `newsdesk bot`


def test_ruff_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    out = subprocess.run([ruff, "check", "rag", "bot", "prompts", "tests"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_help_is_fast_and_lists_commands():
    out = subprocess.run([sys.executable, "-m", "rag.cli", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    for command in ("ingest", "search", "articles", "stats", "remove"):
        assert command in out.stdout
    # --help must not pull in the heavy libraries
    probe = subprocess.run(
        [sys.executable, "-c", "import sys, rag.cli; rag.cli.main(['--help'], standalone_mode=False); "
         "print(sorted(m for m in ('torch', 'chromadb', 'langchain_core', 'sentence_transformers') if m in sys.modules))"],
        capture_output=True, text=True, timeout=60,
    )
    assert probe.stdout.strip().endswith("[]"), probe.stdout + probe.stderr
