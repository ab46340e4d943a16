"""Near-duplicate detection: MinHash over word shingles with LSH banding.

Syndicated copies and lightly edited versions share most 4-word shingles. MinHash signatures
and LSH find candidates cheaply; a candidate whose estimate is near the threshold is confirmed by
the exact Jaccard similarity of the two texts, compared with NEWSDESK_NEAR_DUPLICATE_THRESHOLD
(default 0.8).
"""

from __future__ import annotations

import re
import zlib

import numpy as np

NUM_PERM = 128

BANDS = 32  # 32 bands x 4 rows: pairs above ~0.5 Jaccard become candidates, then get verified

ROWS = NUM_PERM // BANDS

SHINGLE_WORDS = 4

_PRIME = np.uint64((1 << 31) - 1)

_rng = np.random.default_rng(20240619)  # fixed seed: signatures must be stable across runs

_A = _rng.integers(1, (1 << 31) - 1, size=NUM_PERM, dtype=np.uint64)

_B = _rng.integers(0, (1 << 31) - 1, size=NUM_PERM, dtype=np.uint64)


def shingle_set(text: str) -> set[str]:
    """The overlapping 4-word shingles of lower-cased, punctuation-free text."""
    words = re.findall(r"\w+", text.lower())
    n = min(SHINGLE_WORDS, len(words))
    return {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)} if words else set()


def jaccard(a: str, b: str) -> float:
    """Exact Jaccard similarity of two texts' shingle sets (to confirm MinHash candidates)."""
    x, y = shingle_set(a), shingle_set(b)
    return len(x & y) / len(x | y) if x or y else 1.0


def shingles(text: str) -> np.ndarray:
    """Hashes of the shingles of a text."""
    grams = shingle_set(text)
    if not grams:
        return np.zeros(0, dtype=np.uint64)
    return np.fromiter((zlib.crc32(g.encode()) for g in grams), dtype=np.uint64, count=len(grams))


def signature(text: str) -> np.ndarray:
    """The MinHash signature (NUM_PERM uint32 values) of a text."""
    hashes = shingles(text) % _PRIME
    if hashes.size == 0:
        return np.full(NUM_PERM, np.iinfo(np.uint32).max, dtype=np.uint32)
    sig = np.full(NUM_PERM, np.iinfo(np.uint64).max, dtype=np.uint64)
    for start in range(0, hashes.size, 4096):  # bounded memory for very long articles
        block = hashes[start:start + 4096]
        values = (np.outer(block, _A) + _B) % _PRIME
        sig = np.minimum(sig, values.min(axis=0))
    return sig.astype(np.uint32)


def lsh_buckets(sig: np.ndarray) -> list[int]:
    """One bucket hash per band; texts sharing a bucket are near-duplicate candidates."""
    return [zlib.crc32(sig[b * ROWS:(b + 1) * ROWS].tobytes()) for b in range(BANDS)]


CONFIRM_MARGIN = 0.15  # 128 permutations estimate Jaccard to about ±0.04 (one s.d.)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures."""
    return float(np.mean(a == b))


def to_bytes(sig: np.ndarray) -> bytes:
    """A signature as stored in the registry."""
    return sig.astype(np.uint32).tobytes()


def from_bytes(blob: bytes) -> np.ndarray:
    """A signature read back from the registry."""
    return np.frombuffer(blob, dtype=np.uint32)
