"""Offline sentence splitting and word tokenising: Punkt models shipped in a package, no NLTK data."""

from __future__ import annotations

import re
from functools import lru_cache

import punkt

# ISO 639-1 code → the Punkt model's name.
PUNKT_LANGUAGES = {
    "cs": "czech", "da": "danish", "nl": "dutch", "en": "english", "et": "estonian",
    "fi": "finnish", "fr": "french", "de": "german", "el": "greek", "it": "italian",
    "no": "norwegian", "nb": "norwegian", "pl": "polish", "pt": "portuguese", "ru": "russian",
    "sl": "slovene", "es": "spanish", "sv": "swedish", "tr": "turkish",
}  # fmt: skip

_WORD = re.compile(r"\w+(?:[-'’.]\w+)*", re.UNICODE)


@lru_cache(maxsize=32)
def _tokenizer(language: str) -> punkt.PunktSentenceTokenizer:
    return punkt.tokenizer_for(PUNKT_LANGUAGES.get(language, "english"), prefixes=True)


def split_sentences(text: str, language: str = "en") -> list[str]:
    """Sentences of `text` in order; a blank line or line break always ends a sentence."""
    tokenizer = _tokenizer(language)
    sentences: list[str] = []
    for paragraph in text.split("\n"):
        paragraph = paragraph.strip()
        if paragraph:
            sentences.extend(s.strip() for s in tokenizer.tokenize(paragraph) if s.strip())
    return sentences


def split_paragraphs(text: str, language: str = "en") -> list[list[str]]:
    """Paragraphs (blank-line separated) as lists of sentences."""
    return [
        split_sentences(paragraph, language)
        for paragraph in re.split(r"\n\s*\n", text)
        if paragraph.strip()
    ]


def words(sentence: str) -> list[str]:
    """Word tokens of a sentence, without NLTK's data-hungry tokeniser."""
    return _WORD.findall(sentence)


class OfflineTokenizer:
    """A sumy-compatible tokenizer (duck-typed `to_sentences`/`to_words`) that needs no NLTK data."""

    def __init__(self, language: str = "en") -> None:
        self.language = language

    def to_sentences(self, paragraph: str) -> tuple[str, ...]:
        return tuple(split_sentences(paragraph, self.language))

    def to_words(self, sentence: str) -> tuple[str, ...]:
        return tuple(words(sentence))
