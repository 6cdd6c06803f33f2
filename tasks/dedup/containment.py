"""Contained copies: a shorter text nearly all of whose shingles are in a longer one.

A wire story cut to its first paragraphs, or a teaser of the full article, shares few shingles
with the full text relative to their union (Jaccard 0.3 for a copy cut to 30 %), so the Jaccard
rule keeps both. Containment asks the question that fits: what share of the *shorter* text's
shingles does the longer one hold? A copy that is (nearly) contained is a near-duplicate, and the
longer text stays canonical (`tasks/dedup/neardup.py` picks the longest full text).

Guards, because containment is lenient where Jaccard is strict:

* the shorter text needs at least `MIN_SHINGLES` distinct shingles: a headline or a few words
  are "contained" in any long text that uses them, and prove nothing;
* it must open where the longer one opens (`OPENING_SHARE` of its first shingles among the
  longer's first `OPENING_WINDOW`): a cut or a teaser keeps the start, while a report that quotes
  a statement, or shares a boilerplate paragraph, carries it somewhere else;
* `CONTAINMENT_THRESHOLD` leaves room for a changed word or a "Read more" line, not for a
  paragraph of the shorter text's own.

Candidates come from the body's LSH buckets and from the buckets of a MinHash of its first
`LEDE_TOKENS` words (a cut copy has the very same opening, whatever its length).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from newsflow.tasks.common import shingles

# Calibrated on `python -m benchmarks.dedup`: cut copies are contained 1.00 in their original,
# the highest share of a text in another family's longer text is 0.59 (two reports of one saga),
# and two heavy rewrites (half the sentences, a tenth of the words changed) reach 0.81 in theirs:
# same story, not copies. A changed word costs up to three shingles, so 0.85 still takes a cut
# with 4 % of its words changed, or a teaser of 40 words with a "Read more" line.
CONTAINMENT_THRESHOLD = 0.85
MIN_SHINGLES = 25
# The opening whose MinHash is banded: about the first two sentences of a news story.
LEDE_TOKENS = 40
LEDE_BANDS = 10
LEDE_ROWS = 4
# Before any body is read, the two ledes' MinHash estimate must reach this (a cut copy's lede is
# its original's; a teaser of 25 shingles against a 40-word lede scores about 0.65).
LEDE_MIN_SIMILARITY = 0.3
# The lede's look-up brings only texts at most this share of the other's length (or the other
# way round): if C(A in B) >= 0.85 and |A| >= 0.7·|B|, their Jaccard is >= 0.54, which the body's
# own buckets find (98 % at 0.5).
LEDE_LENGTH_RATIO = 0.7
OPENING_SHINGLES = 10
OPENING_WINDOW = 80
OPENING_SHARE = 0.5


@dataclass(frozen=True)
class Shingled:
    """A text's hashed shingles as containment compares them."""

    unique: frozenset[int]  # distinct shingle hashes
    opening: tuple[int, ...]  # the first OPENING_SHINGLES shingles, in order
    window: frozenset[int]  # the distinct shingles among the first OPENING_WINDOW

    @property
    def size(self) -> int:
        return len(self.unique)


def shingled(words: list[str]) -> Shingled:
    """The shingles of tokenised text, with its opening."""
    # Python sets: a pair's count is a set intersection, far cheaper than NumPy's per call.
    hashes = shingles.shingle_hashes(words).tolist()
    return Shingled(
        unique=frozenset(hashes),
        opening=tuple(hashes[:OPENING_SHINGLES]),
        window=frozenset(hashes[:OPENING_WINDOW]),
    )


@dataclass(frozen=True)
class Containment:
    """How much of the shorter text the longer one holds, and whether that makes it a copy."""

    share: float  # distinct shingles of the shorter found in the longer, over its distinct shingles
    shingles: int  # the shorter text's distinct shingles
    opening: float  # share of its first shingles among the longer text's first ones

    @property
    def holds(self) -> bool:
        return (
            self.shingles >= MIN_SHINGLES
            and self.opening >= OPENING_SHARE
            and self.share >= CONTAINMENT_THRESHOLD
        )

    def why_not(self) -> str:
        """Which guard refused it (for a 'distinct' decision's reason)."""
        if self.shingles < MIN_SHINGLES:
            return f"only {self.shingles} shingles (< {MIN_SHINGLES}) to be contained"
        if self.opening < OPENING_SHARE:
            return f"contained {self.share:.2f}, but it does not open as the longer text does"
        return f"contained {self.share:.2f} < {CONTAINMENT_THRESHOLD:.2f}"


def containment(shorter: Shingled, longer: Shingled) -> Containment:
    """The containment of `shorter` in `longer` (exact, on hashed shingles)."""
    if shorter.size == 0:
        return Containment(0.0, 0, 0.0)
    held = len(shorter.unique & longer.unique)
    opening = sum(value in longer.window for value in shorter.opening) / len(shorter.opening)
    return Containment(held / shorter.size, shorter.size, opening)


def could_contain(jaccard: float, words: int, other_words: int, *, num_perm: int) -> bool:
    """Whether an estimated Jaccard similarity and two word counts leave containment possible.

    If A ⊂ B then J = |A|/|B|; in general C(A in B) = J·(|A| + |B|) / ((1 + J)·|A|). Sizes come
    from the word counts (a shingle per word, less two), taken 10 % apart in the direction that
    raises C, and J from the signatures, taken 2.5 standard errors high: the exact count is
    skipped only where it cannot reach the threshold.
    """
    small, large = sorted((max(0, words), max(0, other_words)))
    if small - (shingles.SHINGLE_SIZE - 1) < MIN_SHINGLES:
        return False
    ratio = 1.1 * (large - shingles.SHINGLE_SIZE + 1) / (small - shingles.SHINGLE_SIZE + 1)
    error = math.sqrt(max(jaccard, 1 / num_perm) * (1 - min(jaccard, 1.0)) / num_perm)
    high = min(1.0, jaccard + 2.5 * error)
    return high / (1 + high) * (1 + ratio) >= CONTAINMENT_THRESHOLD


def could_contain_many(
    jaccard: np.ndarray, words: np.ndarray, other_words: np.ndarray, *, num_perm: int
) -> np.ndarray:
    """`could_contain` for arrays of pairs (a dedup pass's candidates at once).

    The same arithmetic in the same order, and the bound a hair lower: a pair refused here is
    refused by `could_contain`, which still decides the pairs let through."""
    size = shingles.SHINGLE_SIZE - 1
    small = np.minimum(np.maximum(words, 0), np.maximum(other_words, 0)) - size
    large = np.maximum(np.maximum(words, 0), np.maximum(other_words, 0)) - size
    ratio = 1.1 * large / np.maximum(small, 1)  # `small` below MIN_SHINGLES is refused anyway
    error = np.sqrt(np.maximum(jaccard, 1 / num_perm) * (1 - np.minimum(jaccard, 1.0)) / num_perm)
    high = np.minimum(1.0, jaccard + 2.5 * error)
    reach = high / (1 + high) * (1 + ratio)
    return (small >= MIN_SHINGLES) & (reach >= CONTAINMENT_THRESHOLD - 1e-9)
