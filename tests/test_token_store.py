"""Token vectors kept from ingest for the re-rank: packed as signs, written with their passages
and gone with them, read by search instead of a model run a passage."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_consistent, run_ingest, write_article

from rag.search import rerank
from rag.search.retrieval import RetrievalConfig, retrieve
from rag.store.embeddings import OnnxEmbedder, TorchEmbedder, space_of
from rag.store.token_store import embed_keeping_tokens, pack, unpack

BODIES = [
    ("Harbour bridge closed", "The council closed the harbour bridge to lorries after engineers found cracks in "
     "two of its steel girders. Hauliers were sent on a forty-minute detour through the ring road."),
    ("Grain prices rise", "Wheat and barley prices rose for a third week as dry weather cut the harvest "
     "forecast. Millers said bread would cost more by the spring."),
    ("Ferry strike ends", "Ferry crews returned to work on Tuesday after the union accepted a pay offer of "
     "four percent. Sailings to the islands resume on Wednesday morning."),
]


def test_pack_keeps_the_signs_as_unit_rows_and_refuses_other_formats():
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((7, 384)).astype(np.float32)
    blob = pack(vectors)
    assert len(blob) == 1 + 7 * 48  # one format byte, then 384 bits a token
    rows = unpack(blob)
    assert rows.shape == (7, 384) and rows.dtype == np.float32
    assert np.array_equal(rows > 0, vectors >= 0)
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0)
    assert unpack(pack(np.zeros((0, 384)))).shape == (0, 384)
    for bad in (b"", b"\x02" + blob[1:], blob[:-1]):
        with pytest.raises(ValueError):
            unpack(bad)


@pytest.mark.model
@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_embed_with_tokens_is_embed_and_token_vectors_of_one_run(embedder, backend):
    model = TorchEmbedder() if backend == "torch" else embedder
    assert isinstance(model, (OnnxEmbedder, TorchEmbedder))
    texts = [body for _, body in BODIES] + ["Short.", "A long one. " * 200]
    vectors, rows = model.embed_with_tokens(texts)
    assert np.allclose(vectors, model.embed(texts), atol=1e-5)
    for (ids, tokens), alone in zip(rows, model.token_vectors(texts)):
        assert tokens.shape == alone.shape == (len(ids), 384)
        assert (tokens * alone).sum(axis=1).min() >= 0.9999
    assert len(rows[-1][0]) == 254  # cut at the model's window, less [CLS] and [SEP]


@pytest.mark.model
def test_ingest_keeps_token_vectors_of_every_passage_and_drops_them_with_it(components, tmp_path):
    files = [write_article(tmp_path / "in", f"{i}.md", title, body, outlet="Coast Post")
             for i, (title, body) in enumerate(BODIES)]
    run_ingest(components, files)
    reg, space = components.registry, space_of(components.embedder)
    chunk_ids = sorted(reg.chunk_ids())
    blobs = reg.token_blobs(chunk_ids, space)
    assert sorted(blobs) == chunk_ids and reg.token_count(space) == len(chunk_ids)
    # The kept signs are the signs of the model's token vectors for the passage text.
    text = reg.chunk_rows(chunk_ids[:1])[chunk_ids[0]]["text"]
    exact = components.embedder.token_vectors([text])[0]
    assert np.array_equal(unpack(blobs[chunk_ids[0]]) > 0, exact >= 0)
    assert reg.token_blobs(chunk_ids, "another/space") == {}

    write_article(tmp_path / "in", "0.md", BODIES[0][0], BODIES[0][1] + " The bridge reopens in May.",
                  outlet="Coast Post")
    run_ingest(components, [tmp_path / "in" / "0.md"])  # a new version: new passages, new rows
    from rag.ingest.pipeline import remove_article

    with components.writing():
        remove_article(components, reg.articles()[1].article_id)
    assert_consistent(components)  # no row outlives its passage
    assert reg.token_count(space) == len(reg.chunk_ids())


class _Counting:
    """Wraps the real model, counting the texts it is asked token vectors for."""

    def __init__(self, model):
        self.model, self.texts = model, 0

    def token_vectors(self, texts):
        self.texts += len(texts)
        return self.model.token_vectors(texts)


@pytest.mark.model
def test_search_reads_kept_tokens_and_computes_them_only_when_some_are_missing(components, tmp_path):
    files = [write_article(tmp_path / "in", f"{i}.md", title, body, outlet="Coast Post")
             for i, (title, body) in enumerate(BODIES)]
    run_ingest(components, files)
    counting = _Counting(components.embedder)
    components.__dict__["token_embedder"] = counting
    question = "Why did the council close the harbour bridge?"
    kept = rerank.kept_scores(components, question, sorted(components.registry.chunk_ids()))
    assert kept is not None and len(kept) == 3
    hits = retrieve(components, question, 2)
    assert hits[0].title == "Harbour bridge closed" and counting.texts == 0  # no passage run

    components.registry.db.execute("DELETE FROM chunk_tokens WHERE chunk_id=?", (hits[1].chunk_id,))
    again = retrieve(components, question, 2)
    assert [p.chunk_id for p in again][:1] == [hits[0].chunk_id]
    assert counting.texts == 4  # the question and all three passages, so scores stay comparable
    components.registry.db.execute("UPDATE chunk_tokens SET vectors=x'02ff' WHERE chunk_id=?", (hits[0].chunk_id,))
    damaged = retrieve(components, question, 2)  # unreadable: computed, never a failed search
    assert [p.chunk_id for p in damaged] == [p.chunk_id for p in again] and counting.texts == 8
    # MaxSim with signs ranks as MaxSim with the exact vectors here.
    exact = rerank.computed_scores(components, question, list(kept), components.registry.chunk_rows(list(kept)))
    assert exact is not None and max(exact, key=exact.get) == max(kept, key=kept.get)


def test_a_fake_embedder_keeps_no_tokens_and_the_rerank_computes_them(settings, tokenizer, tmp_path):
    from fakes import HashingEmbedder

    from rag.components import Components

    fake = HashingEmbedder()
    assert embed_keeping_tokens(fake, ["one text"])[1] is None
    c = Components(settings, embedder=fake, tokenizer=tokenizer)
    try:
        run_ingest(c, [write_article(tmp_path / "in", f"{i}.md", t, b) for i, (t, b) in enumerate(BODIES)])
        assert c.registry.token_count(space_of(fake)) == 0
        counting = _Counting(fake)
        c.__dict__["token_embedder"] = counting
        assert retrieve(c, "harbour bridge girders", 2, config=RetrievalConfig(rerank_depth=20))
        assert counting.texts == 4
    finally:
        c.close()
