"""Bytes to text: byte-order marks, declared and detected encodings, binary refusal."""

from __future__ import annotations

UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")

# How much of the start of an input is looked at for signs of binary content: 8 KiB, about the size of
# git's own check (a NUL byte in the first 8,000 bytes). A binary file shows a NUL byte or its magic
# number that early, and a streamed .jsonl need read no more than this before its first record.
BINARY_SNIFF_BYTES = 8192

_BINARY_MAGIC = (b"%PDF", b"\x89PNG", b"PK\x03\x04", b"GIF8", b"\xff\xd8\xff", b"\x7fELF")


class LoadError(Exception):
    """An input that cannot be loaded; the message is the one-line reason users see."""


def decode_bytes(data: bytes, what: str = "file") -> str:
    """Decode text, trying UTF-8 (with or without BOM), UTF-16 with BOM, then Windows-1252."""
    if data.startswith(UTF16_BOMS):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise LoadError(f"undecodable text: invalid UTF-16 in {what}") from None
    refuse_binary(data[:BINARY_SNIFF_BYTES], what)
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise LoadError(f"undecodable text: {what} is neither UTF-8 nor Windows-1252")


def refuse_binary(head: bytes, what: str = "file") -> None:
    """Raise LoadError if the first bytes of a file show it is not text (NUL bytes, a known
    binary format's magic number)."""
    if b"\x00" in head or head.startswith(_BINARY_MAGIC):
        raise LoadError(f"binary {what}, not text")
