"""LexRank with a numpy similarity matrix that picks exactly the sentences sumy's LexRank picks.

sumy's `LexRankSummarizer` compares every pair of sentences in Python (a quadratic loop over
frozensets) and stems every word again for every document. Here the idf-modified cosine is two
matrix products over a tf matrix, stems are cached per process, and the rest follows sumy step by
step so the choice is identical:

- terms: lower-cased words, stop words dropped, then stemmed (sumy lower-cases twice; so do we);
- tf: count / the sentence's highest count; idf: `math.log(N / (1 + n_j))` (it can be negative);
- an edge when the cosine is above 0.1, rows divided by their degree (at least 1);
- sumy's own power method (epsilon 0.1) on that matrix, so the scores are the same floats;
- duplicate sentences share the score of the last copy (sumy keys its ratings by sentence text);
- a stable sort by score, highest first (ties keep document order), then document order.

Floating-point sums in another order can differ in the last bits, which matters only for a cosine
next to the threshold: pairs within `BORDERLINE` of it are recomputed with sumy's own formula.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Sequence
from functools import lru_cache

import numpy as np
from sumy.summarizers.lex_rank import LexRankSummarizer as SumyLexRank
from sumy.utils import ItemsCount

THRESHOLD = 0.1  # sumy's LexRankSummarizer.threshold
EPSILON = 0.1  # sumy's LexRankSummarizer.epsilon
# Vectorised and looped sums agree to ~1e-15; anything this close to the threshold is re-checked.
BORDERLINE = 1e-9
# Stems are cached per summariser; a news vocabulary stays well under this.
STEM_CACHE_LIMIT = 500_000

_STOP = object()  # cache marker: the word is a stop word


def _normalize(word: str) -> str:
    # sumy's AbstractSummarizer.normalize_word (it also accepts bytes, which never reach us).
    return word.lower()


class VectorLexRank:
    """A drop-in for sumy's `LexRankSummarizer(stemmer)`: same interface, same chosen sentences."""

    threshold = THRESHOLD
    epsilon = EPSILON

    def __init__(self, stemmer: Callable[[str], str]) -> None:
        if not callable(stemmer):
            raise TypeError("Stemmer has to be a callable object")
        self._stemmer = stemmer
        self._stop_words: frozenset[str] = frozenset()
        self._terms: dict[str, object] = {}

    @property
    def stop_words(self) -> frozenset[str]:
        return self._stop_words

    @stop_words.setter
    def stop_words(self, words: Iterable[str]) -> None:
        self._stop_words = frozenset(map(_normalize, words))
        self._terms.clear()

    def term(self, word: str) -> str | None:
        """The word as LexRank counts it (lower-cased, stemmed), or None for a stop word."""
        cached = self._terms.get(word)
        if cached is None:
            cached = self._learn(word)
        return None if cached is _STOP else cached  # type: ignore[return-value]

    def _learn(self, word: str) -> object:
        lowered = _normalize(word)
        found = _STOP if lowered in self._stop_words else self._stemmer(_normalize(lowered))
        if len(self._terms) >= STEM_CACHE_LIMIT:
            self._terms.clear()
        self._terms[word] = found
        return found

    def terms(self, words: Iterable[str]) -> list[str]:
        """A sentence's terms in order, repeats kept."""
        cache = self._terms
        found: list[str] = []
        for word in words:  # the hot loop of a summary: one dict lookup per word
            term = cache.get(word)
            if term is None:
                term = self._learn(word)
            if term is not _STOP:
                found.append(term)  # type: ignore[arg-type]
        return found

    def __call__(self, document, sentences_count):  # type: ignore[no-untyped-def]
        """Summarise a sumy document model: its best sentences, in document order."""
        sentences = document.sentences
        if not sentences:
            return ()
        chosen = self.select(
            [self.terms(s.words) for s in sentences], sentences_count, keys=sentences
        )
        return tuple(sentences[i] for i in chosen)

    def select(
        self,
        sentence_terms: Sequence[Sequence[str]],
        count: int | float | str,
        *,
        keys: Sequence[Hashable] | None = None,
    ) -> list[int]:
        """Positions of the `count` best sentences, in document order.

        `keys` identify equal sentences (sumy gives equal sentences one shared rating);
        by default every position is distinct.
        """
        if not sentence_terms:
            return []
        scores = self.scores(sentence_terms)
        return best_positions(scores, count, keys=keys)

    def scores(self, sentence_terms: Sequence[Sequence[str]]) -> list[float]:
        """LexRank centrality of each sentence, bit for bit what sumy computes."""
        matrix = self.matrix(sentence_terms)
        with np.errstate(divide="ignore", invalid="ignore"):  # sumy's NaNs for an empty graph
            vector = SumyLexRank.power_method(matrix, self.epsilon)
        return [float(x) for x in vector]

    def matrix(self, sentence_terms: Sequence[Sequence[str]]) -> np.ndarray:
        """Row-normalised adjacency of the sentences whose idf-modified cosine is > threshold."""
        count = len(sentence_terms)
        vocabulary: dict[str, int] = {}
        rows: list[int] = []
        columns: list[int] = []
        values: list[float] = []
        tf_dicts: list[dict[str, float]] = []
        for row, terms in enumerate(sentence_terms):
            counts = Counter(terms)
            highest = max(counts.values()) if counts else 1
            tf = {term: n / highest for term, n in counts.items()}
            tf_dicts.append(tf)
            for term, value in tf.items():
                rows.append(row)
                columns.append(vocabulary.setdefault(term, len(vocabulary)))
                values.append(value)
        tf_matrix = np.zeros((count, len(vocabulary)))
        tf_matrix[rows, columns] = values
        # n_j: sentences containing term j; idf with math.log, exactly as sumy (numpy's log may
        # round differently in the last bit).
        present = np.bincount(columns, minlength=len(vocabulary))
        idf_by_term = {term: _idf(count, int(present[j])) for term, j in vocabulary.items()}
        idf = np.array(list(idf_by_term.values()))

        weighted = tf_matrix * idf
        numerator = (weighted * idf) @ tf_matrix.T
        norms = np.sqrt((weighted * weighted).sum(axis=1))
        nonzero = norms > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            cosine = numerator / np.outer(norms, norms)
        cosine[~nonzero, :] = 0.0
        cosine[:, ~nonzero] = 0.0

        edges = cosine > self.threshold
        near = np.argwhere(np.abs(cosine - self.threshold) <= BORDERLINE)
        for i, j in near:
            exact = SumyLexRank.cosine_similarity(
                sentence_terms[i], sentence_terms[j], tf_dicts[i], tf_dicts[j], idf_by_term
            )
            edges[i, j] = exact > self.threshold

        matrix = edges.astype(np.float64)
        degrees = edges.sum(axis=1).astype(np.float64)
        degrees[degrees == 0] = 1
        return matrix / degrees[:, None]


@lru_cache(maxsize=4096)
def _idf(sentences: int, containing: int) -> float:
    return math.log(sentences / (1 + containing))


def best_positions(
    scores: Sequence[float], count: int | float | str, *, keys: Sequence[Hashable] | None = None
) -> list[int]:
    """sumy's `_get_best_sentences`: a stable sort by rating, the first `count`, document order."""
    ratings = list(scores)
    if keys is not None:
        shared = dict(zip(keys, scores, strict=True))  # equal keys: the last one's score wins
        ratings = [shared[key] for key in keys]
    ranked = sorted(range(len(ratings)), key=ratings.__getitem__, reverse=True)
    return sorted(ItemsCount(count)(ranked))
