"""Normalised, language-aware word shingles: the sets that near-duplicate detection compares."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from tasks.gazetteer import fold
from tasks.sentences import PUNKT_LANGUAGES

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


def shingles(text: str, language: str | None = None, *, size: int = SHINGLE_SIZE) -> set[str]:
    """The set of `size`-word shingles of the text; a text shorter than that is one shingle."""
    return shingles_of(tokens(text, language), size=size)


def shingles_of(words: list[str], *, size: int = SHINGLE_SIZE) -> set[str]:
    """The shingles of already tokenised text (one tokenisation serves dedup and stories)."""
    if len(words) <= size:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    """Exact Jaccard similarity of two shingle sets (the quantity MinHash estimates)."""
    if not a and not b:
        return 0.0
    return len(a & b) / len(a | b)
