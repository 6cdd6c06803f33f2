"""Extractive summaries with sumy's summarisers over sumy's document model, fully offline."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from newsflow.tasks.common.headline import STATUS as HEADLINE_ONLY
from newsflow.tasks.common.languages import PUNKT_LANGUAGES
from newsflow.tasks.common.nltk_light import import_nltk
from newsflow.tasks.common.sentences import OfflineTokenizer, split_paragraphs

if TYPE_CHECKING:
    from sumy.models.dom import ObjectDocumentModel

log = logging.getLogger(__name__)

# Method name → sumy summariser class (the registry idiom of sumy's own CLI), as (module, class):
# sumy's summarisers import NLTK (and sumy's utilities import requests), so sumy is loaded on first
# use and commands or processes that never summarise start without it.
SUMY_METHODS: dict[str, tuple[str, str]] = {
    "lexrank": (
        "newsflow.tasks.summarise.lexrank",
        "VectorLexRank",
    ),  # sumy's LexRank choice, vectorised
    "lsa": ("sumy.summarizers.lsa", "LsaSummarizer"),
    "luhn": ("sumy.summarizers.luhn", "LuhnSummarizer"),
    "textrank": ("sumy.summarizers.text_rank", "TextRankSummarizer"),
    "kl": ("sumy.summarizers.kl", "KLSummarizer"),
    "sumbasic": ("sumy.summarizers.sum_basic", "SumBasicSummarizer"),
    "reduction": ("sumy.summarizers.reduction", "ReductionSummarizer"),
}
# The default fuses two centralities, length and position (tasks/summarise/fusion.py); it beats
# every single sumy method and the lead baseline on held-out news (`newsflow eval`,
# benchmarks/quality/).
FUSION = "fusion"
METHODS: tuple[str, ...] = (FUSION, *SUMY_METHODS)
DEFAULT_METHOD = FUSION
DEFAULT_SENTENCES = 3

# Bump when anything that changes a summary for the same input changes (splitter, methods, filters):
# stored summaries carry it, so a new version recomputes them and an unchanged one never does.
SETTINGS_VERSION = "2"


class UnsupportedLanguage(LookupError):
    """sumy has no stemmer or stop words for this language, or we have no sentence splitter."""


@dataclass(frozen=True)
class Summary:
    """Chosen sentences in document order, with their positions among the body's sentences."""

    sentences: list[str]
    indexes: list[int]

    @property
    def text(self) -> str:
        return "\n".join(self.sentences)


def language_name(code: str) -> str:
    """sumy's name for an ISO 639-1 code, if we can summarise that language."""
    name = PUNKT_LANGUAGES.get(code)
    if name is None or not _has_resources(name):
        raise UnsupportedLanguage(f"no summariser resources for language {code!r}")
    return name


def is_supported(code: str | None) -> bool:
    """True when documents in this language get a summary."""
    if not code:
        return False
    try:
        language_name(code)
    except UnsupportedLanguage:
        return False
    return True


def _stemmer_class() -> type:
    """sumy's Stemmer, which imports NLTK: loaded without SciPy's statistics (tasks/nltk_light)."""
    import_nltk()
    from sumy.nlp.stemmers import Stemmer

    return Stemmer


@lru_cache(maxsize=64)
def _has_resources(name: str) -> bool:
    from sumy.utils import get_stop_words

    try:
        _stemmer_class()(name)
        get_stop_words(name)
    except LookupError:
        return False
    return True


@lru_cache(maxsize=64)
def _summarizer(method: str, name: str) -> Callable[[ObjectDocumentModel, int], tuple]:
    from sumy.utils import get_stop_words

    stemmer = _stemmer_class()(name)
    if method == FUSION:
        from newsflow.tasks.summarise.fusion import FusionSummarizer

        summarizer = FusionSummarizer(stemmer, language=name)
    else:
        module, cls = SUMY_METHODS[method]
        summarizer = getattr(importlib.import_module(module), cls)(stemmer)
    summarizer.stop_words = get_stop_words(name)
    return summarizer  # type: ignore[no-any-return]


def resolve_count(length: int | float, total: int) -> int:
    """A sentence count from a count (3) or a ratio of the document (0.2), at least one."""
    if isinstance(length, float) and 0 < length < 1:
        return max(1, round(total * length))
    return max(1, min(int(length), total))


def build_document(sentences: list[list[str]], language: str) -> ObjectDocumentModel:
    """sumy's document model from already-split paragraphs, so no sumy parser tokenises again."""
    from sumy.models.dom import ObjectDocumentModel, Paragraph, Sentence

    tokenizer = OfflineTokenizer(language)
    return ObjectDocumentModel(
        tuple(
            Paragraph(tuple(Sentence(text, tokenizer) for text in paragraph))
            for paragraph in sentences
        )
    )


def summarize_text(
    body: str,
    *,
    language: str,
    method: str = DEFAULT_METHOD,
    length: int | float = DEFAULT_SENTENCES,
    paragraphs: list[list[str]] | None = None,
) -> Summary:
    """Summarise a clean body; the sentences come back in document order with their indexes.

    `paragraphs` are the body's `split_paragraphs` in this language, when the caller has them."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    name = language_name(language)
    if paragraphs is None:
        paragraphs = split_paragraphs(body, language)
    flat = [sentence for paragraph in paragraphs for sentence in paragraph]
    if not flat:
        return Summary([], [])
    document = build_document(paragraphs, language)
    count = resolve_count(length, len(flat))
    chosen = _summarizer(method, name)(document, count)
    positions = {id(sentence): index for index, sentence in enumerate(document.sentences)}
    indexes = sorted(positions[id(sentence)] for sentence in chosen)
    return Summary([flat[i] for i in indexes], indexes)


def parse_length(value: str | int | float) -> int | float:
    """'3' → 3 sentences; '0.2' → a fifth of the document's sentences."""
    number = float(value)
    if number <= 0:
        raise ValueError(f"length must be positive, got {value!r}")
    if number < 1:
        return number
    if number != int(number):
        raise ValueError(f"a sentence count must be whole, got {value!r}")
    return int(number)


def length_key(length: int | float) -> str:
    """The stored form of a length: '3' or '0.2'."""
    return str(length)


def summarise_documents(
    documents: list[dict[str, object]], *, method: str, length: int | float
) -> tuple[list[tuple[int, str, Summary]], dict[int, str]]:
    """Summaries for a batch of stored documents, and each document's summary status (documents
    marked `headline_only` get that status and no summary)."""
    results: list[tuple[int, str, Summary]] = []
    statuses: dict[int, str] = {}
    for document in documents:
        document_id = int(document["id"])  # type: ignore[call-overload]
        if document.get("headline_only"):
            # A headline is its own summary: nothing to choose from (tasks/common/headline.py).
            statuses[document_id] = HEADLINE_ONLY
            continue
        language = document.get("language")
        if not is_supported(language if isinstance(language, str) else None):
            statuses[document_id] = "unsupported_language"
            continue
        summary = summarize_text(
            str(document["body"]),
            language=str(language),
            method=method,
            length=length,
            paragraphs=document.get("paragraphs"),  # type: ignore[arg-type]
        )
        if not summary.sentences:
            statuses[document_id] = "too_short"
            continue
        statuses[document_id] = "ok"
        results.append((document_id, str(document["content_hash"]), summary))
    return results, statuses
