"""The packaged model exported once to ONNX, in fp32 (the torch model's own vectors) and int8,
cached per model and file."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from rag.store.model_files import MODEL_NAME, EmbeddingError, force_offline, packaged_model_dir

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """Where derived model files live: $XDG_CACHE_HOME/newsdesk (~/.cache/newsdesk)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "newsdesk"


def _model_key(model_dir: Path) -> str:
    """Identifies the packaged weights (size and a hash of their start), so a new package
    version gets a new export."""
    import hashlib

    weights = model_dir / "model.safetensors"
    h = hashlib.sha256(str(weights.stat().st_size).encode())
    with weights.open("rb") as fh:
        h.update(fh.read(1 << 20))
    return h.hexdigest()[:12]


PRECISIONS = ("fp32", "int8")


def model_key(model_dir: Path | None = None) -> str:
    """A short key of the packaged weights (a new package version gets new exports)."""
    return _model_key(model_dir or packaged_model_dir())


def onnx_model_path(cache_dir: Path | None = None, model_dir: Path | None = None,
                    precision: str = "int8") -> Path:
    """The ONNX export of the packaged model in `precision` (it may not exist yet)."""
    model_dir = model_dir or packaged_model_dir()
    return (cache_dir or default_cache_dir()) / "models" / f"{MODEL_NAME}-{precision}-{_model_key(model_dir)}.onnx"


def export_onnx(target: Path, model_dir: Path | None = None, precision: str = "int8") -> Path:
    """Export the packaged model to ONNX, and for int8 quantize it (per-channel weights), locally,
    from the packaged weights: about 10 s, once per machine. Needs torch and onnx (installed)."""
    from rag.store.locking import write_lock

    if precision not in PRECISIONS:
        raise EmbeddingError(f"unknown embedding precision {precision!r} (one of {', '.join(PRECISIONS)})")
    model_dir = model_dir or packaged_model_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    with write_lock(target.with_suffix(".lock"), 600.0):
        if target.exists():  # another process exported it while we waited
            return target
        force_offline()
        _export(target, model_dir, precision)
    return target


def _export(target: Path, model_dir: Path, precision: str) -> None:
    import torch
    from transformers import AutoModel

    log.warning("preparing the ONNX %s embedding model, once: %s", precision, target)
    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()

    class LastHidden(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.m(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=token_type_ids).last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    dummy = tuple(torch.ones((2, 8), dtype=torch.long) for _ in names)
    fp32 = target.with_suffix(f".fp32.{os.getpid()}.onnx")
    tmp = target.with_suffix(f".{os.getpid()}.tmp.onnx")
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(LastHidden(model), dummy, str(fp32), input_names=names,
                              output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                              dynamic_axes={n: {0: "batch", 1: "seq"} for n in [*names, "last_hidden_state"]})
        if precision == "fp32":
            os.replace(fp32, target)
            return
        from onnxruntime.quantization import QuantType, quantize_dynamic

        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # onnxruntime logs advice on the root logger
        try:
            quantize_dynamic(str(fp32), str(tmp), per_channel=True, weight_type=QuantType.QInt8)
        finally:
            root.setLevel(level)
        os.replace(tmp, target)
    except Exception as exc:
        raise EmbeddingError(f"cannot prepare the ONNX embedding model: {exc}") from exc
    finally:
        for leftover in (fp32, tmp):
            leftover.unlink(missing_ok=True)
