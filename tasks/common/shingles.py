"""Normalised, language-aware words and shingles: the tokens dedup, stories and search compare,
the stop words folded and stemmed like them, and the shingle sets near-duplicates compare."""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from functools import lru_cache

import numpy as np

from newsflow.tasks.common.gazetteer import fold
from newsflow.tasks.common.languages import PUNKT_LANGUAGES

SHINGLE_SIZE = 3
# Part of every stored signature: change it whenever tokens() or shingles() change, so stored
# signatures are recomputed instead of being compared with incompatible ones.
SETTINGS = f"w{SHINGLE_SIZE}-fold-stem-v1"

_WORD = re.compile(r"\w+", re.UNICODE)
# Thousands separators ("1,300", "1.300", "1 300") vary by outlet and language; the number doesn't.
_THOUSANDS = re.compile(r"(?<=\d)[.,'’\u00a0\u202f ](?=\d{3}\b)")


@lru_cache(maxsize=32)
def _stemmer(language: str | None) -> Callable[[str], str]:
    """The Snowball stemmer of the language (pure code, no data download), or no stemming."""
    from newsflow.tasks.common.nltk_light import import_nltk

    import_nltk()
    from nltk.stem.snowball import SnowballStemmer

    name = PUNKT_LANGUAGES.get(language or "")
    if name is None or name not in SnowballStemmer.languages:
        return lambda word: word
    stem = SnowballStemmer(name).stem
    return lru_cache(maxsize=200_000)(stem)


def tokens(text: str, language: str | None = None) -> list[str]:
    """Folded, stemmed word tokens: 'Außenministerien' and 'aussenministerium' agree."""
    stem = _stemmer(language)
    return [stem(word) for word in _WORD.findall(fold(_THOUSANDS.sub("", text)))]


@lru_cache(maxsize=16)
def stop_words(language: str | None) -> frozenset[str]:
    """Stop words of the language (and English), folded, and stemmed like the tokens they filter."""
    from sumy.utils import get_stop_words  # sumy's utilities import requests: loaded when needed

    words: set[str] = set()
    for name in {PUNKT_LANGUAGES.get(language or "", "english"), "english"}:
        try:
            words |= {fold(word) for word in get_stop_words(name)}
        except LookupError:
            continue
    return frozenset(tokens(" ".join(sorted(words)), language)) | frozenset(words)


def shingles(text: str, language: str | None = None, *, size: int = SHINGLE_SIZE) -> set[str]:
    """The set of `size`-word shingles of the text; a text shorter than that is one shingle."""
    return shingles_of(tokens(text, language), size=size)


def shingles_of(words: list[str], *, size: int = SHINGLE_SIZE) -> set[str]:
    """The shingles of already tokenised text (one tokenisation serves dedup and stories)."""
    if len(words) <= size:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


# Odd 64-bit multipliers (from SplitMix64) that place each word of a shingle differently, so "a b c"
# and "c b a" hash apart.
_POSITION_MULTIPLIERS = (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB)
_MASK64 = (1 << 64) - 1


@lru_cache(maxsize=500_000)
def _word_hash(word: str) -> int:
    return zlib.crc32(word.encode("utf-8"))


def shingle_hashes(words: list[str], *, size: int = SHINGLE_SIZE) -> np.ndarray:
    """32-bit hashes of the shingles of tokenised text, computed as arrays rather than by joining
    and hashing each shingle string (a fifth of a document's parse time).

    One hash per shingle position (repeated shingles repeat their hash; MinHash keeps minima, so
    that does not matter). A text of `size` words or fewer is one shingle, as in `shingles_of`.
    """
    if not words:
        return np.zeros(0, dtype=np.uint32)
    hashes = np.fromiter(map(_word_hash, words), dtype=np.uint64, count=len(words))
    width = min(size, len(words))
    count = len(words) - width + 1
    with np.errstate(over="ignore"):  # multiplication modulo 2**64 is the point
        mixed = np.zeros(count, dtype=np.uint64)
        for offset in range(width):
            mixed += hashes[offset : offset + count] * np.uint64(_POSITION_MULTIPLIERS[offset])
        mixed += np.uint64(width)  # shorter texts never collide with a full shingle's sum
        return (mixed >> np.uint64(32)).astype(np.uint32)


def jaccard(a: set[str], b: set[str]) -> float:
    """Exact Jaccard similarity of two shingle sets (the quantity MinHash estimates)."""
    if not a and not b:
        return 0.0
    return len(a & b) / len(a | b)
