"""The embedding backends: the ONNX exports agree with torch (fp32 exactly, int8 closely), are
made locally once, and keep torch out of query-time processes; calibration picks the fastest."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from rag.store.embeddings import OnnxEmbedder, TorchEmbedder, build_embedder
from rag.store.onnx_export import onnx_model_path

TEXTS = [
    "Russian President Vladimir Putin visited Pyongyang for the first time in 24 years.",
    "The harbour authority approved a plan on Monday to dredge the eastern channel.",
    "Fourteen people were injured when the container ship struck the bridge. " * 30,  # past 256 tokens
    "Short.",
]


def _onnx(embedder, precision: str = "fp32") -> OnnxEmbedder:
    if isinstance(embedder, OnnxEmbedder) and embedder.precision == precision:
        return embedder
    return build_embedder("onnx", precision=precision)  # type: ignore[return-value]


@pytest.mark.parametrize("precision, floor", [("fp32", 0.9999), ("int8", 0.97)])
def test_onnx_export_matches_torch(embedder, precision, floor):
    onnx = _onnx(embedder, precision)
    a = onnx.embed(TEXTS)
    b = TorchEmbedder().embed(TEXTS)
    assert a.shape == b.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-4)
    cos = (a * b).sum(axis=1)
    # fp32: the same model, so the same vectors up to float rounding (measured 0.99999988 on 160
    # RealTime QA passages); int8 weights: measured 0.98-0.99.
    assert cos.min() >= floor, cos
    # Order-independent: batching by length must not mix rows up.
    assert np.allclose(onnx.embed(TEXTS[::-1])[::-1], a, atol=1e-5)


def test_token_vectors_agree_across_backends_and_match_the_word_pieces(embedder, tokenizer):
    # Late-interaction re-ranking (rag/retrieval.py) scores question tokens against passage
    # tokens: one unit row per word piece, [CLS]/[SEP] left out, capped at the model's window.
    onnx = _onnx(embedder)
    a = onnx.token_vectors(TEXTS)
    b = TorchEmbedder().token_vectors(TEXTS)
    counts = tokenizer.count(TEXTS)
    for text_a, text_b, n in zip(a, b, counts):
        assert text_a.shape == text_b.shape == (min(n, 254), 384)
        assert np.allclose(np.linalg.norm(text_a, axis=1), 1.0, atol=1e-4)
        assert (text_a * text_b).sum(axis=1).min() >= 0.9999  # fp32: torch's own vectors
    # A text's vectors do not depend on what else was in the (one, padded) call.
    assert np.allclose(onnx.token_vectors([TEXTS[0]])[0], a[0], atol=1e-4)
    assert np.allclose(onnx.token_vectors([TEXTS[3], TEXTS[0]])[1], a[0], atol=1e-4)
    # They are the model's own outputs for the word pieces, in order: [CLS] and [SEP] are the
    # first and last positions (the long text is cut to 256 before them).
    enc = onnx._tokenizer.encode_batch([TEXTS[2]])[0]
    ids = np.array([enc.ids], dtype=np.int64)
    hidden = onnx._session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids),
                                      "token_type_ids": np.zeros_like(ids)})[0][0]
    assert enc.tokens[0] == "[CLS]" and enc.tokens[-1] == "[SEP]" and len(enc.ids) == 256
    expected = hidden[1:-1] / np.linalg.norm(hidden[1:-1], axis=1, keepdims=True)
    assert np.allclose(a[2], expected, atol=1e-5)


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_backends_embed_correctly_from_several_threads(embedder, backend):
    # The bot runs core calls on a thread pool, so one embedder serves several threads at once,
    # from its first (model-loading) call on; rows must neither fail nor mix between calls
    # (checked against a single-threaded run afterwards).
    from concurrent.futures import ThreadPoolExecutor

    if backend == "onnx":
        ready = _onnx(embedder)
        emb = OnnxEmbedder(ready.model_path, batch_size=16, precision="fp32")  # a new instance: not loaded yet
    else:
        emb = TorchEmbedder(batch_size=2)
    texts = [f"{t} ({i})" for i, t in enumerate(TEXTS * 2)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda i: emb.embed(texts[i:] + texts[:i]), range(len(texts))))
    expected = emb.embed(texts)
    for i, got in enumerate(results):
        assert np.allclose(got, np.vstack([expected[i:], expected[:i]]), atol=1e-4), i


def test_export_is_local_and_reused(tmp_path):
    path = onnx_model_path(tmp_path, precision="fp32")
    assert not path.exists()
    first = build_embedder("onnx", cache_dir=tmp_path)
    assert isinstance(first, OnnxEmbedder) and path.exists()
    stamp = path.stat().st_mtime_ns
    build_embedder("onnx", cache_dir=tmp_path).embed(["again"])
    assert path.stat().st_mtime_ns == stamp  # prepared once, then reused
    assert not [p for p in path.parent.iterdir() if ".tmp" in p.name or ".fp32." in p.name]
    int8 = build_embedder("onnx", cache_dir=tmp_path, precision="int8")  # its own file
    assert isinstance(int8, OnnxEmbedder) and int8.model_path != first.model_path
    assert onnx_model_path(tmp_path, precision="int8").exists()


def test_a_damaged_export_is_prepared_again(tmp_path):
    path = onnx_model_path(tmp_path, precision="fp32")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not an onnx model")  # e.g. a disk that filled up mid-write by another tool
    embedder = build_embedder("auto", cache_dir=tmp_path)
    assert isinstance(embedder, OnnxEmbedder) and path.stat().st_size > 1_000_000
    assert embedder.embed(["the harbour bridge"]).shape == (1, 384)


def test_unknown_backend_is_a_clear_error():
    from rag.store.model_files import EmbeddingError

    with pytest.raises(EmbeddingError, match="unknown embedding backend"):
        build_embedder("gpu")
    with pytest.raises(EmbeddingError, match="torch backend computes fp32"):
        build_embedder("torch", precision="int8")


@pytest.mark.model  # the `ask` process embeds with the real model, so the index must hold its vectors
def test_ask_does_not_import_torch(tmp_path, components, seeds):
    from helpers import run_ingest

    run_ingest(components, [seeds])
    probe = subprocess.run(
        [sys.executable, "-c",
         "import sys; from rag.cli import main\n"
         f"main(['ask', 'Who visited Pyongyang?', '--data-dir', {str(components.data_dir)!r}], standalone_mode=False)\n"
         "print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules))"],
        capture_output=True, text=True, timeout=120,
    )
    assert probe.returncode == 0, probe.stderr
    assert "Putin" in probe.stdout and probe.stdout.strip().endswith("[]"), probe.stdout + probe.stderr
