"""Story features as sparse-matrix rows, encoded once per report and process.

Every story pass compares its pending reports with the whole window as TF-IDF and signal matrices.
Building those from dicts of strings costs a dictionary look-up per term, per report, per pass;
a run that decides after every ingest batch pays it for the window again and again. Here each
report's terms and signals become column ids of a vocabulary the process keeps, once, and a pass
only concatenates arrays. Columns no report of the window uses stay empty and weigh nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # SciPy loads when a matrix is first built, not with the module (0.15 s)
    from scipy import sparse


@dataclass
class Vocabulary:
    """Feature → column, for terms and for signals."""

    terms: dict[str, int] = field(default_factory=dict)
    signals: dict[str, int] = field(default_factory=dict)
    _kinds: list[str] = field(default_factory=list)

    def signal_kinds(self) -> list[str]:
        """The kind of each signal column ('name' for 'name:sony'), by column."""
        if len(self._kinds) < len(self.signals):
            new = islice(self.signals, len(self._kinds), None)  # keys in column order
            self._kinds.extend(key.split(":", 1)[0] for key in new)
        return self._kinds


@dataclass(frozen=True)
class Row:
    """One report's features in a vocabulary's columns."""

    vocabulary: Vocabulary
    term_ids: np.ndarray
    term_counts: np.ndarray
    signal_ids: np.ndarray


_current = Vocabulary()


def current() -> Vocabulary:
    """The vocabulary rows are encoded in now."""
    return _current


def reset() -> None:
    """Start a new vocabulary (rows encoded in the old one are encoded again when next used)."""
    global _current
    _current = Vocabulary()


def encode(terms: Mapping[str, float], signals: Iterable[str]) -> Row:
    """A report's terms (with counts) and signals in the current vocabulary's columns."""
    vocabulary = _current
    term_ids = [vocabulary.terms.setdefault(term, len(vocabulary.terms)) for term in terms]
    signal_ids = [vocabulary.signals.setdefault(key, len(vocabulary.signals)) for key in signals]
    return Row(
        vocabulary,
        np.array(term_ids, dtype=np.int64),
        np.fromiter(terms.values(), dtype=np.float64, count=len(term_ids)),
        np.array(sorted(set(signal_ids)), dtype=np.int64),
    )


def matrix(ids: list[np.ndarray], values: list[np.ndarray] | None, width: int) -> sparse.csr_matrix:
    """Rows of column ids (and their values; 1.0 when None) as a CSR matrix `width` wide."""
    from scipy import sparse

    indptr = np.zeros(len(ids) + 1, dtype=np.int64)
    np.cumsum([len(row) for row in ids], out=indptr[1:])
    indices = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
    data = np.concatenate(values) if values else np.ones(len(indices))
    return sparse.csr_matrix((data, indices, indptr), shape=(len(ids), max(1, width)))
