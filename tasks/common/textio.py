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
    """UTF-8 (BOM or not), UTF-16 (BOM or not) or a detected legacy encoding; never binary."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    if b"\x00" in data:
        text = _utf16_without_bom(data)
        if text is None:
            raise UndecodableError("binary: contains NUL bytes")
        return text
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best = from_bytes(data[:200_000]).best()
    try:
        western = data.decode("cp1252")
    except UnicodeDecodeError:
        western = None
    # charset-normalizer often names a Baltic or DOS code page for short French or Spanish text
    # (café → cafķ); cp1252 is by far the most common legacy encoding in news, so it wins
    # whenever its reading looks like Western European text, unless a Central European or
    # Turkish code page was detected together with its language.
    if (
        western is not None
        and _plausibly_western(western)
        and (best is None or not _neighbour_code_page(best.encoding, best.language))
    ):
        return western
    if best is not None:
        return data.decode(best.encoding, errors="replace")
    if western is not None:
        return western
    raise UndecodableError("binary: no text encoding fits")


# Non-letters that legitimately touch letters in Western text: quotes, dashes, ellipsis, units.
_WESTERN_MARKS = set("’‘“”«»‹›–—…·•€£¥$%°§©®™'\"-")
# Code pages whose bytes cp1252 also reads as (wrong) Latin letters, with their languages.
_NEIGHBOURS = {
    "cp1250": {"Czech", "Polish", "Slovak", "Slovene", "Hungarian", "Croatian", "Romanian"},
    "iso8859_2": {"Czech", "Polish", "Slovak", "Slovene", "Hungarian", "Croatian", "Romanian"},
    "cp1254": {"Turkish"},
    "iso8859_9": {"Turkish"},
}


def _neighbour_code_page(encoding: str, language: str) -> bool:
    return language in _NEIGHBOURS.get(encoding, ())


def _plausibly_western(text: str) -> bool:
    """True when a cp1252 reading looks like Western European prose, not another script's bytes."""
    sample = text[:50_000]
    letters = [ch for ch in sample if ch.isalpha()]
    if not letters:
        return False
    accented = sum(1 for ch in letters if ord(ch) > 127)
    if accented > 0.3 * len(letters):  # Cyrillic, Greek, … read as accented Latin letters
        return False
    suspicious = 0
    for index, ch in enumerate(sample):
        if ord(ch) < 128 or ch.isalpha() or ch.isspace() or ch in _WESTERN_MARKS:
            continue
        before = sample[index - 1] if index else " "
        after = sample[index + 1] if index + 1 < len(sample) else " "
        # ¿ and ¡ open a Spanish word; other symbols inside a word betray another code page
        # (Polish ż read as ¿, ł as ³).
        if before.isalpha() or (after.isalpha() and ch not in "¿¡"):
            suspicious += 1
    return suspicious <= max(1, accented // 50)


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 text written without a byte order mark: Latin script leaves every other byte NUL."""
    sample = data[:4096]
    half = len(sample) // 2
    if half < 8:
        return None
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if odd > 0.4 * half and even < 0.02 * half:
        encoding = "utf-16-le"
    elif even > 0.4 * half and odd < 0.02 * half:
        encoding = "utf-16-be"
    else:
        return None
    return data.decode(encoding, errors="replace")  # looks_binary judges what this gives


def normalise_line(line: str) -> str:
    """NFC, no control characters, runs of white space folded to one space."""
    line = unicodedata.normalize("NFC", line)
    line = _CONTROL.sub("", line)
    return _SPACES.sub(" ", line).strip()


# Replacement characters and control characters other than tab, line feed and carriage return.
_BAD_CHARACTER = re.compile("[\ufffd\x00-\x08\x0b\x0c\x0e-\x1f]")


def looks_binary(text: str) -> bool:
    """True when decoded text is mostly replacement or control characters (a mislabelled binary)."""
    if not text:
        return False
    sample = text[:20_000]
    return len(_BAD_CHARACTER.findall(sample)) / len(sample) > 0.05
