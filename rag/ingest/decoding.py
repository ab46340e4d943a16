"""Bytes to text: byte-order marks, declared and detected encodings, binary refusal."""

from __future__ import annotations

import codecs
import re

UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")

UTF8_BOM = b"\xef\xbb\xbf"

# How much of the start of an input is looked at for signs of binary content: 8 KiB, about the size of
# git's own check (a NUL byte in the first 8,000 bytes). A binary file shows a NUL byte or its magic
# number that early, and a streamed .jsonl need read no more than this before its first record.
BINARY_SNIFF_BYTES = 8192

# How much of a feed or page is searched for the encoding it declares. An XML declaration opens the
# document; a page's <meta charset> sits in its <head>, which browsers look for in the first 1,024
# bytes (the HTML standard's prescan); 4 KiB leaves room for the comments and scripts some put first.
DECLARATION_SNIFF_BYTES = 4096

_BINARY_MAGIC = (b"%PDF", b"\x89PNG", b"PK\x03\x04", b"GIF8", b"\xff\xd8\xff", b"\x7fELF")

_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?\bencoding\s*=\s*["']\s*([A-Za-z0-9._:-]+)""", re.I)

_META_CHARSET = re.compile(rb"""<meta\b[^>]*?\bcharset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)

_CHARSET_PARAM = re.compile(r"""\bcharset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)

# Encodings (by Python's codec name) that documents declare and mean a larger one by, as browsers
# read them (the WHATWG Encoding Standard): pages labelled ISO-8859-1 or ASCII hold Windows-1252's
# quotes and dashes, Shift_JIS ones Microsoft's extensions, GB2312 ones GBK's characters.
_SUPERSETS = {
    "iso8859-1": "cp1252", "ascii": "cp1252", "iso8859-9": "cp1254", "tis-620": "cp874",
    "shift_jis": "cp932", "gb2312": "gb18030", "gbk": "gb18030", "euc_kr": "cp949", "big5": "big5hkscs",
}


class LoadError(Exception):
    """An input that cannot be loaded; the message is the one-line reason users see."""


def decode_bytes(data: bytes, what: str = "file") -> str:
    """Decode text, trying UTF-8 (with or without BOM), UTF-16 with BOM, then Windows-1252."""
    if data.startswith(UTF16_BOMS):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise LoadError(f"undecodable text: invalid UTF-16 in {what}") from None
        if (at := text.find("\x00")) >= 0:
            raise LoadError(f"binary {what}, not text: a NUL character at character {at:,}")
        return text
    refuse_binary(data[:BINARY_SNIFF_BYTES], what)
    refuse_nul(data, what)
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise LoadError(f"undecodable text: {what} is neither UTF-8 nor Windows-1252")


def decode_markup(data: bytes, what: str = "file", charset: str | None = None, html: bool = False) -> str:
    """Decode a feed or a web page: by its byte-order mark; else as UTF-8 when it is valid UTF-8
    (whatever it declares: a legacy encoding's text is not); else in the encoding it declares
    (`charset`, from HTTP, then its XML declaration or, for `html`, its <meta> charset); else in
    one detected from its bytes; else as Windows-1252."""
    if data.startswith((*UTF16_BOMS, UTF8_BOM)):
        return decode_bytes(data, what)
    refuse_binary(data[:BINARY_SNIFF_BYTES], what)
    refuse_nul(data, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    declared = [e for e in (codec_name(charset), *declared_encodings(data, html)) if e]
    for encoding in declared:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    detected = detect_encoding(data)
    if detected:
        try:
            return data.decode(detected)
        except UnicodeDecodeError:  # charset-normalizer judges from samples of a large input
            pass
    if declared:  # a few bad bytes in the encoding it declares beat a whole text in the wrong one
        return data.decode(declared[0], errors="replace")
    return decode_bytes(data, what)


def declared_encodings(data: bytes, html: bool = False) -> list[str]:
    """The encodings a document declares in its first bytes (its XML declaration; for `html`, then
    its <meta> charset), as codec names."""
    head = data[:DECLARATION_SNIFF_BYTES]
    found = [m.group(1) for m in (_XML_ENCODING.match(head), _META_CHARSET.search(head) if html else None) if m]
    return [name for label in found if (name := codec_name(label.decode("ascii")))]


def content_type_charset(content_type: str) -> tuple[str, str | None]:
    """The media type (lower case, no parameters) and the charset parameter of a Content-Type."""
    media = content_type.split(";", 1)[0].strip().lower()
    param = _CHARSET_PARAM.search(content_type.partition(";")[2])
    return media, param.group(1) if param else None


def codec_name(label: str | None) -> str | None:
    """Python's codec for an encoding label ("KOI8-R", "windows-1251"), widened as browsers widen
    it; None for an unknown label, and for UTF-16 and UTF-32, which a document whose declaration
    could be read in ASCII is not in (a byte-order mark announces those)."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip()).name
    except LookupError:
        return None
    if name.startswith(("utf-16", "utf-32")):
        return None
    return _SUPERSETS.get(name, name)


def detect_encoding(data: bytes) -> str | None:
    """The encoding charset-normalizer finds for text that is not UTF-8 and declares none (KOI8-R,
    Windows-1251, Shift_JIS, ...); Windows-1252 where that reads the same, as it does for most
    Western European text. None when nothing fits or charset-normalizer is missing."""
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # installed with trafilatura; detection is a bonus, not a requirement
        return None
    # Not preemptive: it would trust a charset named anywhere in the text (a <meta> quoted in a
    # feed item), where declared_encodings reads only the document's own declaration.
    best = from_bytes(data, preemptive_behaviour=False).best()
    if best is None:
        return None
    return "cp1252" if "cp1252" in best.could_be_from_charset else best.encoding


def refuse_binary(head: bytes, what: str = "file") -> None:
    """Raise LoadError if the first bytes of a file show it is not text (NUL bytes, a known
    binary format's magic number)."""
    if b"\x00" in head or head.startswith(_BINARY_MAGIC):
        raise LoadError(f"binary {what}, not text")


def refuse_nul(data: bytes, what: str = "file") -> None:
    """Raise LoadError if `data` holds a NUL byte anywhere: refuse_binary looks at the first
    BINARY_SNIFF_BYTES only, and text with a NUL after them is no more text than with one before
    (nor is it stored: issue #18). A search for one byte, at memory speed."""
    if (at := data.find(b"\x00")) >= 0:
        raise LoadError(f"binary {what}, not text: a NUL byte at byte {at:,}")


# How much of an unexpected error's message a failure quotes: one line of a reply, not a dump.
ERROR_MESSAGE_MAX_CHARS = 200


def unexpected_error_reason(exc: Exception) -> str:
    """The one-line reason for an error that no format module turned into a LoadError
    (RecursionError, ValueError, ...), for the failure of the input or record that raised it."""
    if isinstance(exc, RecursionError):
        return "nested too deeply to read (RecursionError)"
    if isinstance(exc, MemoryError):
        return "too large to read in memory (MemoryError)"
    message = " ".join(str(exc).split())[:ERROR_MESSAGE_MAX_CHARS]
    return f"cannot load: {type(exc).__name__}" + (f": {message}" if message else "")
