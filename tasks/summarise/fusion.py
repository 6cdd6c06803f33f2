"""The default summariser: two centralities, length and position fused into one relevance score.

Every sumy method ranks sentences by one signal. News summaries need several at once, so this one
scores each sentence of sumy's document model with

- a cosine TextRank: PageRank over the cosine similarity of word-count vectors (words lower-cased,
  not stemmed, function words dropped) — the sentences the rest of the article keeps returning to;
- sumy's Reduction weight: the stemmed words a sentence shares with each other sentence, divided by
  the sum of the two sentences' log lengths, summed over all other sentences;
- its length in words and its position (news puts the key facts first),

turns these into the probability that a sentence belongs in a reference summary with a logistic
model fitted on the tune half of the BBC News Summary set (`benchmarks/quality/tune.py`), and picks
the sentences with the most words expected to be in a reference: length × probability. That
prefers long relevant sentences to short ones without letting a long irrelevant one in (dividing by
the summary's length as well, to favour short sentences, scored lower on the tune split). A
near-duplicate of a chosen sentence (a lede repeated further down) is never chosen as well.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache

import numpy as np
from scipy import sparse
from sumy.models.dom import ObjectDocumentModel, Sentence

FEATURES = ("centrality", "reduction", "length", "position")
# Logistic weights over the four features, fitted on the tune split (benchmarks/quality/tune.py).
WEIGHTS = {"centrality": 6.32, "reduction": 2.59, "length": 0.13, "position": 0.31}
BIAS = -5.32
# PageRank as TextRank uses it.
DAMPING = 0.85
TOLERANCE = 1e-8
MAX_ITERATIONS = 100
# Up to this many sentence × word cells the count matrix is dense (8 MB of float64).
DENSE_CELLS = 1_000_000
# Two sentences this similar (cosine of word counts) say the same thing; keep only one.
DUPLICATE_COSINE = 0.8

# sumy's English stop list (580 words) also drops words that carry news content ("new", "first",
# "said"); the centrality only needs the function words gone. On the tune split the cosine TextRank
# separates reference sentences better with this short list (AUC 0.95) than with sumy's (0.92).
_ENGLISH_FUNCTION_WORDS = """
    a about above after again against all am an and any are as at be been before being below
    between both but by can could did do does doing down during each few for from further had has
    have having he her here hers herself him himself his how i if in into is it its itself just me
    more most my myself no nor not now of off on once only or other our ours ourselves out over
    own same she should so some such than that the their theirs them themselves then there these
    they this those through to too under until up very was we were what when where which while who
    whom why will with would you your yours yourself yourselves s t don
"""
ENGLISH_FUNCTION_WORDS = frozenset(_ENGLISH_FUNCTION_WORDS.split())


def function_words(language: str, stop_words: Iterable[str]) -> frozenset[str]:
    """The words the centrality ignores: a short list for English, sumy's stop words otherwise."""
    if language == "english":
        return ENGLISH_FUNCTION_WORDS
    return frozenset(word.lower() for word in stop_words)


def shared_counts(rows: Sequence[Sequence[str]]) -> np.ndarray:
    """Sentences × sentences: the dot products of their term-count vectors."""
    vocabulary: dict[str, int] = {}
    indptr: list[int] = [0]
    indices: list[int] = []
    for row in rows:
        indices.extend(vocabulary.setdefault(term, len(vocabulary)) for term in row)
        indptr.append(len(indices))
    n, size = len(rows), max(1, len(vocabulary))
    if n * size <= DENSE_CELLS:
        # A news article's matrix is small; numpy on a dense one beats scipy's sparse overhead.
        counts = np.zeros((n, size))
        row_of = np.repeat(np.arange(n), np.diff(indptr))
        np.add.at(counts, (row_of, np.asarray(indices, dtype=np.intp)), 1.0)
        return counts @ counts.T  # type: ignore[no-any-return]
    data = np.ones(len(indices))
    matrix = sparse.csr_matrix((data, indices, indptr), shape=(n, size))
    return (matrix @ matrix.T).toarray()  # type: ignore[no-any-return]


def cosine_matrix(rows: Sequence[Sequence[str]]) -> np.ndarray:
    """Pairwise cosine similarity of the rows' term counts, zero on the diagonal."""
    products = shared_counts(rows)
    norms = np.sqrt(np.diag(products))
    with np.errstate(divide="ignore", invalid="ignore"):
        cosine = products / np.outer(norms, norms)
    cosine[~np.isfinite(cosine)] = 0.0
    np.fill_diagonal(cosine, 0.0)
    return cosine


def pagerank(weights: np.ndarray, *, damping: float = DAMPING) -> np.ndarray:
    """PageRank over a symmetric weight matrix; an unlinked sentence keeps the base share."""
    n = len(weights)
    totals = weights.sum(axis=0)
    totals[totals == 0] = 1.0
    transition = weights / totals
    ranks = np.full(n, 1.0 / n)
    for _ in range(MAX_ITERATIONS):
        updated = (1 - damping) / n + damping * (transition @ ranks)
        done = np.abs(updated - ranks).sum() < TOLERANCE
        ranks = updated
        if done:
            break
    return ranks


def reduction_weights(rows: Sequence[Sequence[str]]) -> np.ndarray:
    """sumy's Reduction rating: shared stems over the sum of log lengths, summed over sentences."""
    shared = shared_counts(rows)
    logs = np.log(np.maximum([len(row) for row in rows], 1))
    norm = logs[:, None] + logs[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        edges = np.where((shared > 0) & (norm > 0), shared / norm, 0.0)
    np.fill_diagonal(edges, 0.0)
    return edges.sum(axis=1)  # type: ignore[no-any-return]


def percentile(scores: np.ndarray) -> np.ndarray:
    """1 for the best score, 0 for the worst, evenly between; ties keep document order."""
    n = len(scores)
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(n)
    ranks[order] = np.arange(n)
    return 1.0 - ranks / max(1, n - 1)  # type: ignore[no-any-return]


def sentence_features(
    words: Sequence[Sequence[str]],
    *,
    stem: Callable[[str], str],
    stop_words: frozenset[str],
    function_words: frozenset[str],
) -> tuple[np.ndarray, np.ndarray]:
    """Features (centrality, reduction, length, position) per sentence, and lengths in words."""
    lowered = [[word.lower() for word in sentence] for sentence in words]
    content = [[w for w in sentence if w not in function_words] for sentence in lowered]
    stems = [[stem(w) for w in sentence if w not in stop_words] for sentence in lowered]
    lengths = np.array([len(sentence) for sentence in words], dtype=np.float64)
    n = len(words)
    centrality = percentile(pagerank(cosine_matrix(content)))
    reduction = percentile(reduction_weights(stems))
    length = np.log1p(lengths) / max(math.log1p(lengths.max(initial=0.0)), 1e-9)
    position = 1.0 / (1.0 + np.arange(n))
    return np.column_stack([centrality, reduction, length, position]), lengths


def relevance(features: np.ndarray) -> np.ndarray:
    """The probability that each sentence belongs in a reference summary."""
    weights = np.array([WEIGHTS[name] for name in FEATURES])
    return 1.0 / (1.0 + np.exp(-(features @ weights + BIAS)))  # type: ignore[no-any-return]


def choose(
    lengths: np.ndarray,
    probability: np.ndarray,
    count: int,
    *,
    similarity: Callable[[int, int], float] | None = None,
) -> list[int]:
    """Indexes (in document order) of the `count` sentences with most expected reference words."""
    if count >= len(lengths):
        return list(range(len(lengths)))
    return _top(np.argsort(-(lengths * probability), kind="stable"), count, similarity)


def _top(
    order: np.ndarray, count: int, similarity: Callable[[int, int], float] | None
) -> list[int]:
    picked: list[int] = []
    for index in order.tolist():
        if similarity is not None and any(similarity(index, j) >= DUPLICATE_COSINE for j in picked):
            continue
        picked.append(index)
        if len(picked) == count:
            return sorted(picked)
    # Only near-duplicates left: fill up in score order rather than return fewer sentences.
    for index in order.tolist():
        if index not in picked:
            picked.append(index)
            if len(picked) == count:
                break
    return sorted(picked)


class FusionSummarizer:
    """A sumy-style summariser (`summarizer(document, count)`) for the fused relevance score."""

    def __init__(self, stemmer: Callable[[str], str], *, language: str = "english") -> None:
        if not callable(stemmer):
            raise TypeError("Stemmer has to be a callable object")
        self._stem = lru_cache(maxsize=200_000)(stemmer)
        self._language = language
        self._stop_words: frozenset[str] = frozenset()
        self._function_words = function_words(language, ())

    @property
    def stop_words(self) -> frozenset[str]:
        return self._stop_words

    @stop_words.setter
    def stop_words(self, words: Iterable[str]) -> None:
        self._stop_words = frozenset(word.lower() for word in words)
        self._function_words = function_words(self._language, self._stop_words)

    def rate(self, document: ObjectDocumentModel) -> tuple[np.ndarray, np.ndarray]:
        """Per sentence: the probability of belonging in a summary, and the length in words."""
        words = [sentence.words for sentence in document.sentences]
        features, lengths = sentence_features(
            words, stem=self._stem, stop_words=self._stop_words, function_words=self._function_words
        )
        return relevance(features), lengths

    def __call__(self, document: ObjectDocumentModel, sentences_count: int) -> tuple[Sentence, ...]:
        sentences = document.sentences
        if not sentences:
            return ()
        probability, lengths = self.rate(document)
        counts = [Counter(w.lower() for w in sentence.words) for sentence in sentences]
        indexes = choose(
            lengths,
            probability,
            int(sentences_count),
            similarity=lambda i, j: cosine(counts[i], counts[j]),
        )
        return tuple(sentences[i] for i in indexes)


def cosine(first: Counter[str], second: Counter[str]) -> float:
    """Cosine similarity of two term-count vectors."""
    dot = sum(count * second[term] for term, count in first.items() if term in second)
    norms = math.sqrt(sum(c * c for c in first.values()) * sum(c * c for c in second.values()))
    return dot / norms if norms else 0.0
