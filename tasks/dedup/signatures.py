"""MinHash signatures and their LSH bucket keys, as plain functions: the body's signature over word
shingles, the lede's for contained copies, blobs for SQLite, and the banding that makes a pair
at the threshold a candidate."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from newsflow.tasks.common import shingles
from newsflow.tasks.common.gazetteer import fold
from newsflow.tasks.dedup import containment

NUM_PERM = 256


SEED = 1


# The LSH bands are chosen so that a pair exactly at the threshold becomes a candidate with at least
# this probability; pairs above it almost surely do. The estimate then decides.
CANDIDATE_RECALL = 0.98


# Paragraphs this short are indexed: outlets' furniture ("Sign up for our newsletter") is short.
FURNITURE_MAX_WORDS = 40


# Lede buckets share `lsh_bands` with the body's, under band numbers from here on: one look-up
# finds both kinds of candidate, and a threshold change (which re-bands the body) leaves them be.
LEDE_BAND_BASE = 1000


_LEDE_VALUES = containment.LEDE_BANDS * containment.LEDE_ROWS


SIGNATURE_SETTINGS = (
    f"minhash-affine32-{NUM_PERM}-seed{SEED}/{shingles.SETTINGS}-crc3/p1"
    f"/lede{containment.LEDE_TOKENS}-{containment.LEDE_BANDS}x{containment.LEDE_ROWS}"
)


def lsh_params(threshold: float, num_perm: int = NUM_PERM) -> tuple[int, int]:
    """(bands, rows): the most selective banding that still finds a pair at the threshold."""
    best = (num_perm, 1)
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        if 1 - (1 - threshold**rows) ** bands >= CANDIDATE_RECALL:
            best = (bands, rows)
        else:
            break
    return best


@lru_cache(maxsize=1)
def _minhash() -> Any:
    # datasketch's package imports its LSH variants and with them SciPy's integrators (~0.4 s):
    # loaded when a signature is first computed, not by every process that only compares them.
    from datasketch import MinHash

    return MinHash


@lru_cache(maxsize=1)
def _permutations() -> Any:
    return _minhash()(num_perm=NUM_PERM, seed=SEED).permutations


def signature(text: str, language: str | None) -> np.ndarray:
    """The MinHash signature (uint32 array) of the text's shingles; all-max for an empty text."""
    return signature_of(shingles.tokens(text, language))


def signature_of(words: list[str]) -> np.ndarray:
    """The MinHash signature of tokenised text's shingles."""
    # The shingles come hashed already (`shingle_hashes`): datasketch takes them as they are and
    # mixes them (its affine32 scheme applies the Murmur3 finaliser before the permutations).
    minhash = _minhash()(
        num_perm=NUM_PERM, seed=SEED, permutations=_permutations(), scheme="affine32", hashfunc=int
    )
    minhash.update_batch(shingles.shingle_hashes(words).tolist())
    return minhash.hashvalues.astype(np.uint32)


def lede_signature(words: list[str]) -> np.ndarray | None:
    """The MinHash of the text's opening words (the positions its lede buckets use), or None for
    a text too short to be contained in another (it needs no lede buckets)."""
    if len(words) < containment.MIN_SHINGLES + shingles.SHINGLE_SIZE - 1:
        return None
    # Only the positions the lede bands use are computed: the same values as the first ones of
    # signature_of(opening), at a quarter of the cost.
    minhash = _minhash()(
        num_perm=_LEDE_VALUES,
        seed=SEED,
        permutations=_permutations()[:, :_LEDE_VALUES],
        scheme="affine32",
        hashfunc=int,
    )
    minhash.update_batch(shingles.shingle_hashes(words[: containment.LEDE_TOKENS]).tolist())
    return minhash.hashvalues.astype(np.uint32)


def to_blob(values: np.ndarray) -> bytes:
    """A signature as stored: little-endian uint32."""
    return values.astype("<u4").tobytes()


def from_blob(blob: bytes) -> np.ndarray:
    """A stored signature back as a uint32 array."""
    return np.frombuffer(blob, dtype="<u4")


def estimate(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures: the share of equal positions."""
    return float(np.count_nonzero(a == b)) / len(a)


def equal_positions(
    arrays: dict[int, np.ndarray], pairs: Sequence[tuple[int, int]], width: int
) -> list[int | None]:
    """How many positions each pair's two arrays share (None unless both have `width` values):
    one NumPy comparison for all pairs, not one call each."""
    rows = {i: row for row, i in enumerate(i for i, v in arrays.items() if len(v) == width)}
    both = [k for k, (a, b) in enumerate(pairs) if a in rows and b in rows]
    result: list[int | None] = [None] * len(pairs)
    if both:
        matrix = np.stack([arrays[i] for i in rows])
        # A few thousand pairs a comparison: the copies it makes stay a few megabytes.
        for start in range(0, len(both), 4096):
            chosen = both[start : start + 4096]
            left = np.array([rows[pairs[k][0]] for k in chosen], dtype=np.int64)
            right = np.array([rows[pairs[k][1]] for k in chosen], dtype=np.int64)
            counts = np.count_nonzero(matrix[left] == matrix[right], axis=1).tolist()
            for k, count in zip(chosen, counts, strict=True):
                result[k] = count
    return result


# One odd 64-bit multiplier per row position of a band (fixed: stored buckets depend on them).
_ROW_MULTIPLIERS = np.random.default_rng(20251225).integers(
    0, 2**63, size=NUM_PERM, dtype=np.uint64
) * np.uint64(2) + np.uint64(1)


def bucket_keys(values: np.ndarray, bands: int, rows: int) -> list[tuple[int, int]]:
    """(band, bucket) pairs of a signature: each band's rows hashed to a signed 64-bit integer.

    Σ rowᵢ·mᵢ modulo 2⁶⁴ with random odd mᵢ: equal rows always share a bucket, different ones
    almost never (a collision would only add a candidate, which the estimate then rejects)."""
    return bucket_keys_many(values[np.newaxis, :], bands, rows)[0]


def bucket_keys_many(matrix: np.ndarray, bands: int, rows: int) -> list[list[tuple[int, int]]]:
    """`bucket_keys` of each row of a matrix of signatures, in one NumPy pass (a dedup pass's
    documents at once): the same sums modulo 2⁶⁴, so the same keys."""
    count = len(matrix)
    cube = matrix[:, : bands * rows].astype(np.uint64).reshape(count, bands, rows)
    with np.errstate(over="ignore"):  # multiplication modulo 2**64 is the point
        mixed = (cube * _ROW_MULTIPLIERS[:rows]).sum(axis=2, dtype=np.uint64)
    return [list(enumerate(row)) for row in mixed.view(np.int64).tolist()]


def paragraph_hashes(body: str) -> list[tuple[str, int]]:
    """(hash, words) of each short paragraph, folded so case and spacing do not matter."""
    found = []
    for paragraph in body.split("\n\n"):
        words = paragraph.split()
        if 0 < len(words) <= FURNITURE_MAX_WORDS:
            folded = " ".join(fold(paragraph).split())
            found.append((hashlib.blake2b(folded.encode(), digest_size=8).hexdigest(), len(words)))
    return found


_EMPTY = int(np.iinfo(np.uint32).max)


def is_empty(values: np.ndarray) -> bool:
    # An empty text's signature is all-max; any other has a smaller value almost everywhere, so
    # the first position nearly always answers without a pass over the array.
    return int(values[0]) == _EMPTY and int(values.min()) == _EMPTY


def band_rows_of(
    values: np.ndarray, document_id: int, bands: int, rows: int
) -> list[tuple[int, int, int]]:
    """The (band, bucket, document) rows a signature has in `lsh_bands`: none for an empty text or
    one signed with another permutation count. A replaced signature's rows are deleted by these
    keys, so this is the one place that says which signatures have buckets."""
    if len(values) != NUM_PERM or is_empty(values):
        return []
    return [(b, k, document_id) for b, k in bucket_keys(values, bands, rows)]


def lede_rows_of(values: np.ndarray | None, document_id: int) -> list[tuple[int, int, int]]:
    """The (band, bucket, document) rows of a lede signature in `lsh_bands`."""
    if values is None or len(values) != _LEDE_VALUES:
        return []
    keys = bucket_keys(values, containment.LEDE_BANDS, containment.LEDE_ROWS)
    return [(LEDE_BAND_BASE + band, bucket, document_id) for band, bucket in keys]


def lede_from_blob(blob: bytes | None) -> np.ndarray | None:
    return None if blob is None else from_blob(blob)
