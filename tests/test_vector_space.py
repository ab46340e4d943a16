"""One vector space per collection (issue #20): the collection records the model and precision
of its vectors, queries embed in the same space, another space is refused with a way out
(`newsdesk reindex`), and a reindex switches all vectors at once. Calibration picks the fastest
backend for bulk work and remembers it per CPU."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from fakes import HashingEmbedder
from helpers import assert_consistent, run_ingest, write_article

from rag.components import Components
from rag.settings import Settings
from rag.store.calibration import cached_calibration, calibrate, calibration_texts, cpu_description, cpu_key
from rag.store.registry import LEGACY_SPACE
from rag.store.vectorstore import StoreError

BODY = ("The harbour authority approved a plan on Monday to dredge the eastern channel, so that "
        "container ships of the newest class can reach the port at low tide. ") * 4


class _Timed:
    """A stand-in backend that takes `delay` seconds per text."""

    def __init__(self, delay: float):
        self.delay, self.calls = delay, 0

    def embed(self, texts):
        self.calls += 1
        time.sleep(self.delay * len(texts))
        return np.zeros((len(texts), 384), dtype=np.float32)


# --------------------------------------------------------------------------- calibration


def test_calibration_keeps_the_fastest_and_remembers_it(tmp_path):
    fast, slow = _Timed(0.0005), _Timed(0.003)
    cache = tmp_path / "calibration.json"
    found = calibrate("m/fp32", {"slow": lambda: slow, "fast": lambda: fast}, cache, "cpu-a", batch=8)
    assert found.chosen == "fast" and found.rates["fast"] > found.rates["slow"] > 0
    assert not found.cached and "fast" in found.describe()
    calls = fast.calls + slow.calls
    again = calibrate("m/fp32", {"slow": lambda: slow, "fast": lambda: fast}, cache, "cpu-a", batch=8)
    assert again.cached and again.chosen == "fast" and fast.calls + slow.calls == calls  # not measured again
    # Another CPU (or space) is measured on its own; the first stays recorded.
    other = calibrate("m/fp32", {"slow": lambda: slow}, cache, "cpu-b", batch=8)
    assert other.chosen == "slow"
    assert cached_calibration(cache, "cpu-a", "m/fp32").chosen == "fast"  # type: ignore[union-attr]
    assert set(json.loads(cache.read_text())) == {"cpu-a", "cpu-b"}


def test_a_backend_that_cannot_run_is_no_candidate(tmp_path):
    def broken():
        raise ImportError("no torch here")

    found = calibrate("m/fp32", {"torch": broken, "onnx-fp32": lambda: _Timed(0.0)}, tmp_path / "c.json", "k")
    assert found.chosen == "onnx-fp32" and list(found.rates) == ["onnx-fp32"]
    with pytest.raises(RuntimeError, match="no embedding backend"):
        calibrate("m/int8", {"torch": broken}, tmp_path / "c.json", "k")


def test_a_damaged_calibration_file_is_measured_again(tmp_path):
    cache = tmp_path / "calibration.json"
    cache.write_text("{not json")
    found = calibrate("m/fp32", {"one": lambda: _Timed(0.0)}, cache, "k", batch=4)
    assert found.chosen == "one" and json.loads(cache.read_text())["k"]["m/fp32"]["chosen"] == "one"


def test_the_cpu_key_names_the_cpu_and_the_model():
    name, flags = cpu_description()
    assert name
    assert cpu_key("model-a") != cpu_key("model-b") and cpu_key("model-a") == cpu_key("model-a")
    texts = calibration_texts()
    assert len(texts) == 16 and len(set(texts)) == 16 and all(900 <= len(t) <= 1000 for t in texts)


@pytest.mark.model
def test_real_calibration_measures_every_fp32_backend_once(tmp_path, monkeypatch, embedder, tokenizer):
    """With the real backends: the first bulk use measures ONNX fp32 and torch, records both
    rates, and a second Components on this CPU uses the record."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    models = tmp_path / "cache" / "newsdesk" / "models"
    models.mkdir(parents=True)
    if hasattr(embedder, "model_path"):  # reuse the session's export: no second 10 s export
        (models / embedder.model_path.name).symlink_to(embedder.model_path)
    c = Components(Settings(_env_file=None, data_dir=tmp_path / "d"), tokenizer=tokenizer)
    bulk = c.bulk_embedder
    found = c.calibration()
    assert found is not None and set(found.rates) == {"onnx-fp32", "torch"}
    assert getattr(bulk, "backend", None) == found.chosen
    text = ["The harbour bridge reopened on Monday after repairs."]
    assert float((bulk.embed(text) * c.embedder.embed(text)).sum()) > 0.9999  # one space
    c2 = Components(Settings(_env_file=None, data_dir=tmp_path / "d"), tokenizer=tokenizer)
    assert c2.calibration() == found and getattr(c2.bulk_embedder, "backend", None) == found.chosen


# --------------------------------------------------------------------------- vector spaces


class _Int8Like(HashingEmbedder):
    """The hashing embedder, claiming another space (as an int8 model would)."""

    space = "fake-hashing/int8"


def _components(tmp_path, embedder, tokenizer, **kw) -> Components:
    return Components(Settings(_env_file=None, data_dir=tmp_path / "data", llm="none", **kw),
                      embedder=embedder, tokenizer=tokenizer)


def test_the_space_is_recorded_and_another_is_refused(tmp_path, tokenizer):
    write_article(tmp_path / "in", "a.md", "Harbour plan", BODY)
    c = _components(tmp_path, HashingEmbedder(), tokenizer)
    run_ingest(c, [tmp_path / "in"])
    assert c.registry.embedding_space() == "fake-hashing"
    assert c.store.collection.metadata["embedding_space"] == "fake-hashing"
    c.close()
    other = _components(tmp_path, _Int8Like(), tokenizer)
    with pytest.raises(StoreError, match="newsdesk reindex"):
        other.store.query(np.zeros(384, dtype=np.float32), 1)
    write_article(tmp_path / "in2", "b.md", "Bridge plan", BODY.replace("harbour", "bridge"))
    with pytest.raises(StoreError, match="holds fake-hashing vectors"):
        run_ingest(other, [tmp_path / "in2"])  # nothing written in the other space
    other.close()
    again = _components(tmp_path, HashingEmbedder(), tokenizer)
    assert len(again.registry.articles()) == 1
    assert_consistent(again)
    again.close()


def test_a_collection_from_before_spaces_is_int8(tmp_path, tokenizer):
    write_article(tmp_path / "in", "a.md", "Harbour plan", BODY)
    c = _components(tmp_path, HashingEmbedder(), tokenizer)
    run_ingest(c, [tmp_path / "in"])
    c.registry.db.execute("DELETE FROM meta WHERE key='embedding_space'")  # as an old Newsdesk left it
    assert c.registry.embedding_space() == LEGACY_SPACE
    c.close()
    old = Components(Settings(_env_file=None, data_dir=tmp_path / "data"))
    assert old.precision == "int8"  # queries embed as the old vectors were made, fp32 wanted or not
    old.close()


def test_reindex_switches_every_vector_at_once(tmp_path, tokenizer):
    from rag.ingest.reindex import reindex

    for i, word in enumerate(("harbour", "bridge", "ferry")):
        write_article(tmp_path / "in", f"{i}.md", f"{word.title()} plan", BODY.replace("harbour", word))
    writer = _components(tmp_path, HashingEmbedder(), tokenizer)
    run_ingest(writer, [tmp_path / "in"])
    reader = _components(tmp_path, HashingEmbedder(), tokenizer)
    before = reader.store.name
    assert reader.store.count() == writer.registry.counts()["chunks"]
    target = _Int8Like()
    writer.bulk_for = lambda precision: target  # type: ignore[method-assign]
    writer.query_embedder_for = lambda precision: target  # type: ignore[method-assign]
    with writer.writing():
        result = reindex(writer, "int8")
    assert result.passages == writer.registry.counts()["chunks"] and result.old_space == "fake-hashing"
    assert writer.registry.embedding_space() == "fake-hashing/int8"
    # A reader opened before sees the move; with its injected embedder of the old space it is
    # refused, never answered from vectors it cannot compare with.
    with pytest.raises(StoreError, match="newsdesk reindex"):
        _ = reader.store
    fresh = _components(tmp_path, _Int8Like(), tokenizer)
    assert fresh.store.name != before and fresh.store.count() == result.passages
    assert_consistent(fresh)
    for c in (writer, reader, fresh):
        c.close()


def test_a_reindex_that_fails_half_way_leaves_the_old_vectors_in_use(tmp_path, tokenizer):
    from rag.ingest import reindex as reindex_module

    for i in range(3):
        write_article(tmp_path / "in", f"{i}.md", f"Story {i}", BODY + f" Number {i}." * 200)
    c = _components(tmp_path, HashingEmbedder(), tokenizer)
    run_ingest(c, [tmp_path / "in"])
    name, chunks = c.store.name, c.registry.counts()["chunks"]

    class Dies(_Int8Like):
        def embed(self, texts):
            raise KeyboardInterrupt  # as a Ctrl-C part way through

    c.bulk_for = lambda precision: Dies()  # type: ignore[method-assign]
    c.query_embedder_for = lambda precision: _Int8Like()  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt), c.writing():
        reindex_module.reindex(c, "int8")
    assert c.registry.embedding_space() == "fake-hashing" and c.store.name == name
    assert c.store.count() == chunks
    assert_consistent(c)
    c.bulk_for = lambda precision: _Int8Like()  # type: ignore[method-assign]
    with c.writing():
        assert reindex_module.reindex(c, "int8").passages == chunks  # run again: done
    c.close()


# --------------------------------------------------------------------------- as a user meets it


@pytest.mark.model
def test_reindex_from_the_command_line(tmp_path, seeds, monkeypatch):
    """`newsdesk ingest` (fp32, calibrated), `reindex --precision int8`, `stats`, `ask`, and back:
    the real backends, no injection, as a user runs them."""
    from click.testing import CliRunner

    from rag.cli import main
    from rag.store.onnx_export import default_cache_dir

    # A cache of its own (the calibration measured under a test's load is not the machine's);
    # the exports already made are reused, not made again.
    models = tmp_path / "cache" / "newsdesk" / "models"
    models.mkdir(parents=True)
    for made in (default_cache_dir() / "models").glob("*.onnx"):
        (models / made.name).symlink_to(made)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    data = str(tmp_path / "data")

    def cli(*args: str):
        result = CliRunner().invoke(main, [*args, "--data-dir", data], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result

    cli("ingest", str(seeds), "--json")
    stats = json.loads(cli("stats", "--json").stdout)
    emb = stats["embeddings"]
    assert emb["space"] == "all-MiniLM-L6-v2/fp32" and emb["query_backend"] == "onnx-fp32"
    assert emb["calibration"] and set(emb["calibration"]["rates"]) == {"onnx-fp32", "torch"}
    moved = json.loads(cli("reindex", "--precision", "int8", "--json").stdout)
    assert moved["passages"] == stats["chunks"] and moved["to"] == "all-MiniLM-L6-v2/int8"
    assert "run `newsdesk reindex`" in " ".join(cli("stats").stdout.split())  # fp32 is the setting: it says so
    answer = json.loads(cli("ask", "Who visited Pyongyang for the first time in 24 years?", "--json").stdout)
    assert "Putin" in answer["answer"] and answer["citations"]
    back = json.loads(cli("reindex", "--json").stdout)
    assert back["to"] == "all-MiniLM-L6-v2/fp32" and back["passages"] == stats["chunks"]
    assert json.loads(cli("reindex", "--json").stdout)["skipped"]
    assert "is consistent" in cli("check").stdout


@pytest.mark.model
def test_collections_in_two_precisions_share_models_only_where_they_fit(tmp_path, tokenizer):
    """The bot and `newsdesk run` keep one Components per collection and share models between
    them; a collection made in int8 (before fp32 was the default) gets its own embedder."""
    write_article(tmp_path / "in", "a.md", "Harbour plan", BODY)
    old = _components(tmp_path, HashingEmbedder(), tokenizer, collection="old")
    run_ingest(old, [tmp_path / "in"])
    old.registry.db.execute("UPDATE meta SET value=? WHERE key='embedding_space'", (LEGACY_SPACE,))
    old.close()
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", llm="none")
    first = Components(settings.model_copy(update={"collection": "new"}))
    second = Components(settings.model_copy(update={"collection": "other"}), share=first)
    legacy = Components(settings.model_copy(update={"collection": "old"}), share=first)
    assert first.precision == second.precision == "fp32" and legacy.precision == "int8"
    assert second.embedder is first.embedder and second.tokenizer is first.tokenizer
    assert legacy.embedder is not first.embedder and getattr(legacy.embedder, "precision", None) == "int8"
    assert getattr(first.token_embedder, "precision", None) == "int8"  # the re-rank's model
    assert second.token_embedder is first.token_embedder
    legacy.check_space()  # its queries embed in its own space
    for c in (first, second, legacy):
        c.close()
