"""Content-Encoding decoders with bounded output, for the fetcher.

httpx decodes a compressed body a network chunk at a time and with no limit on what one chunk
becomes: 16 KB of zstd grew to 1 GB before the size cap saw any of it (issue #18). These decoders
pull compressed bytes as they arrive and hand out at most OUTPUT_PIECE bytes at a time, so the
caller's cap on decoded bytes holds while they stream and a bomb is refused after a few pieces.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import IO, cast

from rag.ingest.decoding import LoadError

# Most decoded bytes handed out at once: a few pieces past the cap at most are ever in memory.
OUTPUT_PIECE = 64 * 1024

# The largest zstd window accepted: RFC 8878 §3.1.1.1.2 asks HTTP decoders to support 8 MB and
# allows refusing more; without it a frame can make the decoder allocate up to 2 GB.
ZSTD_MAX_WINDOW = 8 * 1024 * 1024

Decoder = Callable[[Iterable[bytes]], Iterator[bytes]]


class DecodingError(LoadError):
    """A response whose compressed body is corrupt, or compressed in a way Newsdesk does not read."""


def _zlib_pieces(chunks: Iterable[bytes], wbits: int, name: str) -> Iterator[bytes]:
    decoder = zlib.decompressobj(wbits)
    try:
        for chunk in chunks:
            data = chunk
            while data:
                piece = decoder.decompress(data, OUTPUT_PIECE)
                if piece:
                    yield piece
                data = decoder.unconsumed_tail
            if decoder.eof:
                break  # what follows the end of the stream is not part of the body
        rest = decoder.flush()  # all input is consumed: this is at most what zlib still holds
    except zlib.error as exc:
        raise DecodingError(f"cannot decode the {name} response: {exc}") from None
    if rest:
        yield rest


def gzip_pieces(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Decode `Content-Encoding: gzip` (RFC 1952)."""
    return _zlib_pieces(chunks, zlib.MAX_WBITS | 16, "gzip")


def deflate_pieces(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Decode `Content-Encoding: deflate`: zlib-wrapped (RFC 1950) as the standard says, or raw
    deflate (RFC 1951) as some servers send it, told apart by the first byte, as httpx does."""
    source = iter(chunks)
    first = next((c for c in source if c), b"")
    # A zlib header (RFC 1950 §2.2): method 8 in the low nibble of CMF, and CMF*256+FLG a multiple of 31.
    zlib_header = len(first) >= 2 and first[0] & 0x0F == 8 and (first[0] * 256 + first[1]) % 31 == 0
    wbits = zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS

    def rest() -> Iterator[bytes]:
        yield first
        yield from source

    return _zlib_pieces(rest(), wbits, "deflate")


class _ChunkReader:
    """A file-like `read` over an iterator of chunks, for zstandard's stream reader."""

    def __init__(self, chunks: Iterable[bytes]):
        self._chunks = iter(chunks)

    def read(self, size: int = -1) -> bytes:
        return next((c for c in self._chunks if c), b"")


def zstd_pieces(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Decode `Content-Encoding: zstd` (RFC 8878), every frame, with a window of at most
    ZSTD_MAX_WINDOW."""
    import zstandard

    decoder = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
    reader = decoder.stream_reader(cast(IO[bytes], _ChunkReader(chunks)), read_across_frames=True)
    try:
        while piece := reader.read(OUTPUT_PIECE):
            yield piece
    except zstandard.ZstdError as exc:
        raise DecodingError(f"cannot decode the zstd response: {exc}") from None


def _decoders() -> dict[str, Decoder]:
    decoders: dict[str, Decoder] = {"gzip": gzip_pieces, "x-gzip": gzip_pieces, "deflate": deflate_pieces}
    try:
        import zstandard  # noqa: F401
    except ImportError:
        pass
    else:
        decoders["zstd"] = zstd_pieces
    return decoders


# The encodings read with bounded output. Brotli is left out on purpose: its Python bindings
# before brotli 1.2 decode a whole chunk at once, with no limit on the output.
DECODERS = _decoders()

ACCEPT_ENCODING = ", ".join(name for name in DECODERS if name != "x-gzip")


def decoded(chunks: Iterable[bytes], content_encoding: str | None) -> Iterator[bytes]:
    """The body of a response as it streams, decoded for each of its Content-Encodings (applied
    in the order listed, so undone last first); DecodingError for an encoding not in DECODERS."""
    names = [n.strip().lower() for n in (content_encoding or "").split(",") if n.strip()]
    pieces: Iterable[bytes] = chunks
    for name in reversed(names):
        if name == "identity":
            continue
        decoder = DECODERS.get(name)
        if decoder is None:
            raise DecodingError(f"response compressed as {name!r}, which Newsdesk does not read "
                                f"(it asks for {ACCEPT_ENCODING})")
        pieces = decoder(pieces)
    yield from pieces
