"""Turn bytes of unknown encoding into normalised Unicode text, or say why not."""

from __future__ import annotations

import codecs
import re
import unicodedata

from charset_normalizer import from_bytes


class UndecodableError(ValueError):
    """The bytes are not text in any encoding we accept."""


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")


def decode_bytes(data: bytes) -> str:
    """Decode UTF-8 (BOM or not), UTF-16 with a BOM, or a detected legacy encoding; never guess binary."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    if b"\x00" in data:
        raise UndecodableError("binary: contains NUL bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best = from_bytes(data[:200_000]).best()
    # charset-normalizer sometimes proposes exotic code pages for short Western text; prefer
    # cp1252 whenever it decodes cleanly, which is by far the most common legacy encoding in news.
    try:
        text = data.decode("cp1252")
        if best is None or best.encoding in {"cp1252", "latin_1", "iso8859_15", "iso8859_1"}:
            return text
    except UnicodeDecodeError:
        pass
    if best is None:
        raise UndecodableError("binary: no text encoding fits")
    return data.decode(best.encoding, errors="replace")


def normalise_line(line: str) -> str:
    """NFC, no control characters, runs of white space folded to one space."""
    line = unicodedata.normalize("NFC", line)
    line = _CONTROL.sub("", line)
    return _SPACES.sub(" ", line).strip()


def looks_binary(text: str) -> bool:
    """True when decoded text is mostly replacement or control characters (a mislabelled binary)."""
    if not text:
        return False
    sample = text[:20_000]
    bad = sum(1 for ch in sample if ch == "\ufffd" or (ord(ch) < 32 and ch not in "\n\r\t"))
    return bad / len(sample) > 0.05
