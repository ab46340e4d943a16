"""Token vectors kept from ingest for the late-interaction re-rank, one bit a dimension.

The re-rank (rag/search/rerank.py) scores each candidate passage by MaxSim over the model's
last-layer token vectors. Computed at query time that costs a model run a passage, ~1 s for 20
on 2 cores, most of a search. The ingest's model run already computes them before pooling, so
they are kept: as the signs of their 384 dimensions (48 bytes a token, ~10 KB a passage). The
question's vectors stay exact, so a score is the cosine of an exact vector with a sign vector.

Measured on RealTime QA (the whole corpus, fp32, the 182 questions asked on their quiz day,
recall@5 all / held out), replaying the re-rank with each way of keeping them:
no re-rank 0.780 / 0.739; exact fp32 0.797 / 0.775; int8 0.797 / 0.775 (2.0 GB for the
corpus); int4 0.791 / 0.766 (1.0 GB); two bits around the mean token 0.791 / 0.766 (0.5 GB);
signs 0.791 / 0.757 (0.25 GB); signs after a random rotation or around the mean 0.786 / ~0.75;
content words only (stop words, punctuation and word pieces left out) 0.764 / 0.730, below no
re-rank at all. Signs keep the gain within a question of int4 at a quarter of its disk, with
nothing fitted to the data. The Chroma index of the same corpus is 353 MB.
"""

from __future__ import annotations

import numpy as np

from rag.store.model_files import DIMENSION

_SIGNS = b"\x01"  # format byte: the sign bits of DIMENSION dimensions a token, packed
_ROW_BYTES = DIMENSION // 8
_SCALE = np.float32(1 / np.sqrt(DIMENSION))  # makes an unpacked row unit length


def pack(vectors: np.ndarray) -> bytes:
    """A text's token vectors (one row a token) as the bytes kept in the registry."""
    matrix = np.asarray(vectors, dtype=np.float32).reshape(-1, DIMENSION)
    return _SIGNS + np.packbits(matrix >= 0, axis=1).tobytes()


def unpack(blob: bytes) -> np.ndarray:
    """The unit-length sign vectors of `pack`'s bytes; ValueError if they are not in its format."""
    if blob[:1] != _SIGNS or (len(blob) - 1) % _ROW_BYTES:
        raise ValueError("kept token vectors in an unknown format")
    bits = np.unpackbits(np.frombuffer(blob, dtype=np.uint8, offset=1).reshape(-1, _ROW_BYTES), axis=1)
    return (bits.astype(np.float32) * 2 - 1) * _SCALE


def embed_keeping_tokens(embedder, texts: list[str]) -> tuple[np.ndarray, list[bytes] | None]:
    """`embedder.embed(texts)`, and each text's packed token vectors from the same model run when
    the embedder can give them (None otherwise: a test's fake)."""
    with_tokens = getattr(embedder, "embed_with_tokens", None)
    if with_tokens is None:
        return embedder.embed(texts), None
    vectors, rows = with_tokens(texts)
    return vectors, [pack(tokens) for _, tokens in rows]
